#version 460
// Second kernel of a CholeskyQR pass (gpu/qr.cpp), one workgroup per matrix: sums the
// partial Gram matrices of qr_gram.comp, factors G = Rᵀ R (upper R) in float64, and writes
//   x    = R⁻¹ (float32, k x k) for Q = Z x,
//   flags[j] = 1 where column j of Z is numerically dependent on columns < j,
//   r    = R · prev (float32; R alone without has_prev).
// A dependent column (pivot ≤ 1e-12 · G_jj, i.e. a residual below 1e-6 of the column's norm,
// the float32 noise level) gets a zero row in R and a zero column in x; qr_fix.comp then puts
// a pseudo-random vector in that column of Q, which the second pass orthogonalises, so Q stays
// orthonormal for rank-deficient input. NaN or Inf fail every comparison and propagate.
// W holds G / R in its upper triangle and x (transposed) in its strict lower triangle: in
// shared memory when k ≤ KS (spec constant 1, sized by the host to fit; rows padded to KS + 1
// doubles so that a warp reading a column hits different banks), else in `w`.
// Barriers are workgroup-scoped (groupMemoryBarrier): device-scope fences cost microseconds
// each on NVIDIA. Loops are unrolled by 4: lavapipe (llvmpipe) ends an invocation's loops
// after 65535 iterations in total, which k = 256 would otherwise exceed.
// Defines: SHARED_W (0/1).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 1) const uint KS = 16u;
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Buf_f64 { double v[]; };
layout(buffer_reference, std430, buffer_reference_align = 8) coherent buffer Buf_f64c {
  double v[];
};
layout(push_constant) uniform PC {
  Buf_f64 part;
  Buf_f64c w;   // batch * k * k scratch (used when !SHARED_W)
  Buf_f32 prev; // previous R factor (k x k per matrix) when has_prev
  Buf_f32 x;
  Buf_f32 r;
  Buf_u32 flags;
  uint k, chunks, has_prev;
} pc;

shared double gdiag[256];  // G's diagonal
shared double rinv[256];   // 1 / R_jj (1 for a dependent column)
shared double xdiag[256];
shared uint dep[256];
#if SHARED_W
shared double Wsh[KS * (KS + 1u)];
#define W(i, j) Wsh[(i) * (KS + 1u) + (j)]
#else
#define W(i, j) pc.w.v[wbase + (i) * k + (j)]
#endif
// Shared-memory variant: barrier() alone (it orders shared memory); the device-memory
// variant also needs the workgroup-scope fence for buffer memory.
#if SHARED_W
#define SYNC() barrier();
#else
#define SYNC()            \
  groupMemoryBarrier();   \
  barrier();
#endif

void main() {
  uint tid = gl_LocalInvocationID.x, b = gl_WorkGroupID.x, k = pc.k, kk = k * k;
  uint wbase = b * kk;
  // G's upper triangle = the sum of the chunks (4 independent loads in flight: this one
  // workgroup is bound by memory latency here)
#define PART(c) pc.part.v[(b * pc.chunks + (c)) * kk + e]
  for (uint e = tid; e < kk; e += 256u) {
    uint i = e / k, j = e % k;
    if (j < i) continue;
    double s = 0.0LF;
    uint c = 0u;
    for (; c + 4u <= pc.chunks; c += 4u)
      s += (PART(c) + PART(c + 1u)) + (PART(c + 2u) + PART(c + 3u));
    for (; c < pc.chunks; ++c) s += PART(c);
    W(i, j) = s;
    if (i == j) gdiag[i] = s;
  }
  SYNC()
  // Right-looking Cholesky, one barrier per column: step j updates the trailing matrix with
  // row j unscaled (W_il -= W_ji W_jl / d), and scales row j by 1/sqrt(d) at step j + 1,
  // when nothing reads it any more. Every thread derives the pivot itself.
  for (uint j = 0u; j <= k; ++j) {
    if (j > 0u) {
      uint p = j - 1u;
      for (uint l = p + tid; l < k; l += 256u) W(p, l) = dep[p] != 0u ? 0.0LF : W(p, l) * rinv[p];
      if (tid == 0u && dep[p] != 0u) W(p, p) = 0.0LF;
    }
    if (j == k) break;
    double d = W(j, j);
    bool dependent = d <= 1e-12LF * gdiag[j];
    double invd = dependent ? 0.0LF : 1.0LF / d;
    if (tid == 0u) {
      dep[j] = dependent ? 1u : 0u;
      rinv[j] = dependent ? 1.0LF : 1.0LF / sqrt(d);
    }
    uint t = k - j - 1u;
    for (uint e0 = tid; e0 < t * t; e0 += 1024u) {
      for (uint u = 0u; u < 4u; ++u) {
        uint e = e0 + u * 256u;
        uint i = j + 1u + e / t, l = j + 1u + e % t;
        if (e < t * t && l >= i) W(i, l) -= W(j, i) * W(j, l) * invd;
      }
    }
    SYNC()
  }
  SYNC()
  // x = R'⁻¹ by back substitution, one column per thread; R' is R with a unit pivot in
  // dependent rows. Column c of x goes to row c of W's strict lower triangle (x(i, c) at
  // W(c, i), i < c) and xdiag[c]: no other thread touches those.
  for (uint c = tid; c < k; c += 256u) {
    double xc = rinv[c];
    xdiag[c] = xc;
    for (uint i = c; i-- > 0u;) {
      double s = W(i, c) * xc;
      uint l = i + 1u;
      for (; l + 4u <= c; l += 4u)
        s += W(i, l) * W(c, l) + W(i, l + 1u) * W(c, l + 1u) + W(i, l + 2u) * W(c, l + 2u) +
             W(i, l + 3u) * W(c, l + 3u);
      for (; l < c; ++l) s += W(i, l) * W(c, l);
      W(c, i) = -s * rinv[i];
    }
    // column c of x; zero for a dependent column
    bool zero = dep[c] != 0u;
    for (uint i = 0u; i < k; ++i) {
      double v = i == c ? xc : (i < c ? W(c, i) : 0.0LF);
      pc.x.v[wbase + i * k + c] = zero ? 0.0 : float(v);
    }
    pc.flags.v[b * k + c] = dep[c];
  }
  SYNC()
  // r = R · prev (upper triangular), float32. prev is first staged in shared memory, in W's
  // strict lower triangle (x is written out) and xdiag: reading it from device memory in the
  // dot products below would make this one workgroup wait on memory latency.
  if (pc.has_prev != 0u) {
    for (uint e = tid; e < kk; e += 256u) {
      uint l = e / k, c = e % k;
      float v = pc.prev.v[wbase + e];
      if (l < c) W(c, l) = double(v);
      if (l == c) xdiag[c] = double(v);
    }
    SYNC()
  }
  for (uint e = tid; e < kk; e += 256u) {
    uint i = e / k, c = e % k;
    float v = 0.0;
    if (c >= i) {
      if (pc.has_prev == 0u) {
        v = float(W(i, c));
      } else {
        // Σ_{l=i..c} R(i, l) prev(l, c); prev(l, c) = W(c, l) below the diagonal
        double s = W(i, c) * xdiag[c];
        uint l = i;
        for (; l + 4u <= c; l += 4u)
          s += W(i, l) * W(c, l) + W(i, l + 1u) * W(c, l + 1u) + W(i, l + 2u) * W(c, l + 2u) +
               W(i, l + 3u) * W(c, l + 3u);
        for (; l < c; ++l) s += W(i, l) * W(c, l);
        v = float(s);
      }
    }
    pc.r.v[wbase + e] = v;
  }
}
