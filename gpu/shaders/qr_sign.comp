#version 460
// Sign step of the GPU QR (gpu/qr.cpp), one workgroup per matrix, before the last qr_apply: makes Q and R follow the
// sign convention of Householder QR (LAPACK, Eigen: the CPU path), so that both devices
// return the same factors. With Q1 the first pass's Q and x = R2⁻¹ of the second pass, the
// final Q = Q1 x has positive diagonal in R; Householder QR of the same matrix returns
// Q diag(d), diag(d) R. d follows from the top k x k block T of Q alone: eliminating T as
// Householder QR would (Ballard et al., "Reconstructing Householder vectors from tall-skinny
// QR") gives at step i the pivot alpha = the i-th diagonal entry of the partly reduced
// matrix; LAPACK's reflector maps it to beta = -sign(alpha) (alpha = 0 counts as +), except
// when the part below the diagonal is zero (tail = 1 - alpha² ≈ 0, or i is the last row of a
// square matrix): then there is no reflection and beta = alpha. Writes x·diag(d) and
// diag(d)·r in place (x is float64, qr_apply.comp then forms Q). T and x (as float32: only
// signs are needed) live in shared memory when k ≤ KS ≤ 64 (spec constant 1; rows padded to
// KS + 1), else T in `t` and x is read from device memory. One barrier per elimination step
// on a 16 x 16 thread grid. Loops are unrolled by 4 (lavapipe ends an invocation's loops after
// 65535 iterations in total).
// Defines: SHARED_T (0/1).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 1) const uint KS = 16u;
layout(buffer_reference, std430, buffer_reference_align = 4) coherent buffer Buf_f32c {
  float v[];
};
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Buf_f64 { double v[]; };
layout(push_constant) uniform PC {
  Buf_f32 q1;  // batch x n x k
  Buf_f64 x;   // batch x k x k
  Buf_f32 r;   // batch x k x k
  Buf_f32c t;  // batch x k x k scratch (when !SHARED_T)
  uint n, k;
} pc;

shared float d[256];
#if SHARED_T
// T and x staged in shared memory (k ≤ 64, so each thread owns ≤ 16 entries of T)
shared float Tsh[KS * (KS + 1u)];
shared float Xsh[KS * (KS + 1u)];
#define T(i, j) Tsh[(i) * (KS + 1u) + (j)]
#define X(i, j) Xsh[(i) * (KS + 1u) + (j)]
#else
#define T(i, j) pc.t.v[b * kk + (i) * k + (j)]
#define X(i, j) float(pc.x.v[b * kk + (i) * k + (j)])
#endif
// Shared-memory variant: barrier() alone (it orders shared memory); the device-memory
// variant also needs the workgroup-scope fence for buffer memory.
#if SHARED_T
#define SYNC() barrier();
#else
#define SYNC()            \
  groupMemoryBarrier();   \
  barrier();
#endif

void main() {
  uint tid = gl_LocalInvocationID.x, b = gl_WorkGroupID.x, k = pc.k, kk = k * k;
  uint qoff = b * pc.n * k;
  // T = Q1[:k, :] · x (x upper triangular)
#if SHARED_T
  for (uint e = tid; e < kk; e += 256u) {
    uint i = e / k, c = e % k;
    T(i, c) = pc.q1.v[qoff + e];
    X(i, c) = float(pc.x.v[b * kk + e]);
  }
  SYNC()
  float acc[16];
  uint n = 0u;
#define QOF(i, l) T(i, l)
#else
#define QOF(i, l) pc.q1.v[qoff + (i) * k + (l)]
#endif
  for (uint e = tid; e < kk; e += 256u) {
    uint i = e / k, c = e % k;
#define QX(l) (QOF(i, l) * X(l, c))
    float s = 0.0;
    uint l = 0u;
    for (; l + 4u <= c + 1u; l += 4u) s += QX(l) + QX(l + 1u) + QX(l + 2u) + QX(l + 3u);
    for (; l <= c; ++l) s += QX(l);
#if SHARED_T
    acc[n++] = s;
#else
    T(i, c) = s;
#endif
  }
#if SHARED_T
  SYNC()
  n = 0u;
  for (uint e = tid; e < kk; e += 256u) T(e / k, e % k) = acc[n++];
#endif
  SYNC()
  // one barrier per step, on a 16 x 16 thread grid: every thread derives the step's pivot and
  // sign itself; column i and row i are not written by step i
  uint tx = tid % 16u, ty = tid / 16u;
  for (uint i = 0u; i < k; ++i) {
    float alpha = T(i, i);
    float sg = alpha < 0.0 ? -1.0 : 1.0;
    bool no_tail = i + 1u == pc.n || 1.0 - alpha * alpha <= 1e-4;
    float di = no_tail ? sg : -sg;
    if (tid == 0u) d[i] = di;
    if (!no_tail) {
      float inv = 1.0 / (alpha - di);
      for (uint rr = i + 1u + ty; rr < k; rr += 16u) {
        float a = T(rr, i) * inv;
        for (uint c = i + 1u + tx; c < k; c += 16u) T(rr, c) -= a * T(i, c);
      }
    }
    SYNC()
  }
  for (uint e = tid; e < kk; e += 256u) {
    uint i = e / k, c = e % k;
    pc.x.v[b * kk + e] *= double(d[c]);
    pc.r.v[b * kk + e] *= d[i];
  }
}
