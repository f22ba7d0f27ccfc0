#version 460
// The sign step of the GPU QR (gpu/qr.cpp), one workgroup per matrix, between the second
// pass's qr_chol and qr_trsm: makes Q and R follow the sign convention of Householder QR
// (LAPACK, Eigen: the CPU path), so that both devices return the same factors. CholeskyQR's
// Q = Q1 R2⁻¹ has positive diagonal in R; Householder QR of the same matrix returns
// Q diag(d), diag(d) R. d follows from the top k x k block T of Q alone: eliminating T as
// Householder QR would (Ballard et al., "Reconstructing Householder vectors from tall-skinny
// QR") gives at step i the pivot alpha = the i-th diagonal entry of the partly reduced
// matrix; LAPACK's reflector maps it to beta = -sign(alpha) (alpha = 0 counts as +), except
// when the part below the diagonal is zero (tail = 1 - alpha² ≈ 0, or i is the last row of a
// square matrix): then there is no reflection and beta = alpha. Writes d (qr_trsm applies it
// to Q) and scales the rows of r in place. T = Q1[:k] R2⁻¹ is formed here by forward
// substitution (one row per thread, as qr_trsm does for all rows; dependent columns get the
// same hash vectors). T lives in shared memory when it fits (spec constant 1 = KS ≥ k, rows
// padded to KS + 1), else in `t`. The elimination runs on a 16 x 16 thread grid, one barrier
// per step.
// Defines: SHARED_T (0/1).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 1) const uint KS = 16u;
layout(buffer_reference, std430, buffer_reference_align = 4) coherent buffer Buf_f32c {
  float v[];
};
layout(push_constant) uniform PC {
  Buf_f32 q1;     // batch x n x k
  Buf_f32 rt;     // batch x k x k: R2
  Buf_u32 flags;  // batch x k: dependent columns of the second pass
  Buf_f32 r;      // batch x k x k: R2 R1, rows scaled in place
  Buf_f32 d;      // batch x k: the signs
  Buf_f32c t;     // batch x k x k scratch (when !SHARED_T)
  uint n, k;
} pc;

shared float ds[256];
#if SHARED_T
shared float Tsh[KS * (KS + 1u)];
#define T(i, j) Tsh[(i) * (KS + 1u) + (j)]
#define SYNC() barrier();
#else
#define T(i, j) pc.t.v[b * kk + (i) * k + (j)]
#define SYNC()            \
  groupMemoryBarrier();   \
  barrier();
#endif

float hash_unit(uint i, uint j) {
  uint h = (i * 0x9E3779B1u) ^ ((j + 1u) * 0x85EBCA77u);
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  h *= 0x297A2D39u;
  h ^= h >> 15;
  return float(h >> 8) * (2.0 / 16777216.0) - 1.0;
}

void main() {
  uint tid = gl_LocalInvocationID.x, b = gl_WorkGroupID.x, k = pc.k, kk = k * k;
  uint tx = tid % 16u, ty = tid / 16u;
#define RT(i, j) pc.rt.v[b * kk + (i) * k + (j)]
  // T = Q1[:k, :] R2⁻¹, row i by thread i
  for (uint i = tid; i < k; i += 256u) {
    uint off = (b * pc.n + i) * k;
    for (uint l = 0u; l < k; ++l) {
      if (pc.flags.v[b * k + l] != 0u) {
        T(i, l) = hash_unit(i, l);
        continue;
      }
      float s = pc.q1.v[off + l];
      uint m = 0u;
      for (; m + 4u <= l; m += 4u)
        s -= (T(i, m) * RT(m, l) + T(i, m + 1u) * RT(m + 1u, l)) +
             (T(i, m + 2u) * RT(m + 2u, l) + T(i, m + 3u) * RT(m + 3u, l));
      for (; m < l; ++m) s -= T(i, m) * RT(m, l);
      T(i, l) = s / RT(l, l);
    }
  }
  SYNC()
  // one barrier per step: every thread derives the step's pivot and sign itself; column i
  // and row i are not written by step i
  for (uint i = 0u; i < k; ++i) {
    float alpha = T(i, i);
    float sg = alpha < 0.0 ? -1.0 : 1.0;
    bool no_tail = i + 1u == pc.n || 1.0 - alpha * alpha <= 1e-4;
    float di = no_tail ? sg : -sg;
    if (tid == 0u) ds[i] = di;
    if (!no_tail) {
      float inv = 1.0 / (alpha - di);
      for (uint rr = i + 1u + ty; rr < k; rr += 16u) {
        float a = T(rr, i) * inv;
        for (uint c = i + 1u + tx; c < k; c += 16u) T(rr, c) -= a * T(i, c);
      }
    }
    SYNC()
  }
  for (uint c = tid; c < k; c += 256u) pc.d.v[b * k + c] = ds[c];
  for (uint e = tid; e < kk; e += 256u) pc.r.v[b * kk + e] *= ds[e / k];
}
