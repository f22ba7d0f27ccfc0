#version 460
// Third kernel of a CholeskyQR pass (gpu/qr.cpp), one workgroup per matrix: factors the Gram
// matrix G = Rᵀ R (upper R) in float64 and writes
//   x    = R⁻¹ (float64, k x k) for Q = Z x (qr_apply.comp),
//   r    = R · prev (float32) when has_prev (the R factor of both passes), else R,
//   flags[j] = 1 where column j is numerically dependent on the columns before it.
// A dependent column (pivot ≤ 1e-12 · G_jj, i.e. a residual below 1e-6 of the column's norm,
// the float32 noise level) gets a zero row in R and a zero column in x; qr_apply.comp puts a
// pseudo-random vector in that column of Q, which the second pass orthogonalises, so Q stays
// orthonormal for rank-deficient input.
// R⁻¹ is formed by blocks of 16: the diagonal blocks by back substitution (one column per
// thread, ≤ 16 steps), then one block diagonal at a time, X_ij = −X_ii Σ_{m=i+1..j} R_im X_mj,
// with all threads on it (k / 16 − 1 rounds): a column-per-thread back substitution over all
// of k was a 64-step serial chain per thread (~40 µs at k = 64 on an H200).
// NaN or Inf fail every comparison and propagate.
// W (G, then R in its upper triangle; prev staged in its strict lower triangle) lives in
// shared memory when it fits (spec constant 1 = KS ≥ k; rows padded to KS + 1 doubles), else
// in `w`. The trailing update runs on a 16 x 16 thread grid (no integer division per entry).
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
  Buf_f64 g;     // batch * k * k, upper triangle (qr_gram_sum.comp)
  Buf_f64c w;    // batch * k * k scratch (when !SHARED_W)
  Buf_f32 prev;  // previous R factor (k x k per matrix) when has_prev
  Buf_f64 x;
  Buf_f32 r;
  Buf_u32 flags;
  uint k, has_prev;
} pc;

shared double gdiag[256];  // G's diagonal
shared double rinv[256];   // 1 / R_jj (1 for a dependent column)
shared double pdiag[256];  // prev's diagonal
shared double xdiag[256];  // R⁻¹'s diagonal (= rinv)
shared uint dep[256];
#if SHARED_W
shared double Wsh[KS * (KS + 1u)];
#define W(i, j) Wsh[(i) * (KS + 1u) + (j)]
// barrier() orders shared memory; the device-memory variant needs the workgroup-scope fence
#define SYNC() barrier();
#else
#define W(i, j) pc.w.v[wbase + (i) * k + (j)]
#define SYNC()            \
  groupMemoryBarrier();   \
  barrier();
#endif

void main() {
  uint tid = gl_LocalInvocationID.x, b = gl_WorkGroupID.x, k = pc.k, kk = k * k;
  uint wbase = b * kk, tx = tid % 16u, ty = tid / 16u;
  for (uint e = tid; e < kk; e += 256u) {
    uint i = e / k, j = e % k;
    if (j < i) continue;
    double s = pc.g.v[wbase + e];
    W(i, j) = s;
    if (i == j) gdiag[i] = s;
  }
  SYNC()
  // Right-looking Cholesky, one barrier per column: step j updates the trailing matrix with
  // row j unscaled (W_il -= W_ji W_jl / d) and scales row j by 1/sqrt(d) at step j + 1, when
  // nothing reads it any more. Every thread derives the pivot itself.
  for (uint j = 0u; j <= k; ++j) {
    if (j > 0u) {
      uint p = j - 1u;
      for (uint l = p + tid; l < k; l += 256u) W(p, l) = dep[p] != 0u ? 0.0LF : W(p, l) * rinv[p];
    }
    if (j == k) break;
    double d = W(j, j);
    bool dependent = d <= 1e-12LF * gdiag[j];
    double invd = dependent ? 0.0LF : 1.0LF / d;
    if (tid == 0u) {
      dep[j] = dependent ? 1u : 0u;
      rinv[j] = dependent ? 1.0LF : 1.0LF / sqrt(d);
    }
    for (uint i = j + 1u + ty; i < k; i += 16u) {
      double a = W(j, i) * invd;
      for (uint l = j + 1u + tx; l < k; l += 16u)
        if (l >= i) W(i, l) -= a * W(j, l);
    }
    SYNC()
  }
  SYNC()
  // ---- x = R'⁻¹ (R' = R with a unit pivot in dependent rows) into W's strict lower triangle,
  // transposed (x(i, c) at W(c, i), i < c), and xdiag
  uint nb = (k + 15u) / 16u, ii = tid / 16u, cc = tid % 16u;
  // diagonal blocks: thread (block ii, column cc)
  if (ii < nb && ii * 16u + cc < k) {
    uint c = ii * 16u + cc, lo = ii * 16u;
    xdiag[c] = rinv[c];
    for (uint i = c; i-- > lo;) {
      double s = W(i, c) * rinv[c];
      for (uint l = i + 1u; l < c; ++l) s += W(i, l) * W(c, l);
      W(c, i) = -s * rinv[i];
    }
  }
  SYNC()
#define XV(i, c) ((i) == (c) ? xdiag[c] : ((i) < (c) ? W(c, i) : 0.0LF))
  double acc[16];
  for (uint dgl = 1u; dgl < nb; ++dgl) {
    // S = Σ_{m=bi+1..bj} R_{bi,m} X_{m,bj}, stored in X_{bi,bj}'s slots; thread (ii, cc) of
    // each block of this block diagonal
    for (uint bi = 0u; bi + dgl < nb; ++bi) {
      uint i = bi * 16u + ii, c = (bi + dgl) * 16u + cc;
      if (i >= k || c >= k) continue;
      double s = 0.0LF;
      uint l = (bi + 1u) * 16u;
      for (; l + 4u <= c + 1u; l += 4u)
        s += W(i, l) * XV(l, c) + W(i, l + 1u) * XV(l + 1u, c) + W(i, l + 2u) * XV(l + 2u, c) +
             W(i, l + 3u) * XV(l + 3u, c);
      for (; l <= c; ++l) s += W(i, l) * XV(l, c);
      W(c, i) = s;
    }
    SYNC()
    // X_{bi,bj} = −X_{bi,bi} S
    uint n = 0u;
    for (uint bi = 0u; bi + dgl < nb; ++bi) {
      uint i = bi * 16u + ii, c = (bi + dgl) * 16u + cc, hi = min(bi * 16u + 16u, k);
      double s = 0.0LF;
      if (i < k && c < k)
        for (uint l = i; l < hi; ++l) s += XV(i, l) * W(c, l);
      acc[n++] = -s;
    }
    SYNC()
    n = 0u;
    for (uint bi = 0u; bi + dgl < nb; ++bi) {
      uint i = bi * 16u + ii, c = (bi + dgl) * 16u + cc;
      if (i < k && c < k) W(c, i) = acc[n];
      ++n;
    }
    SYNC()
  }
  // x out, zero columns for dependent columns
  for (uint e = tid; e < kk; e += 256u) {
    uint i = e / k, c = e % k;
    pc.x.v[wbase + e] = dep[c] != 0u ? 0.0LF : XV(i, c);
  }
  for (uint c = tid; c < k; c += 256u) pc.flags.v[b * k + c] = dep[c];
  SYNC()
  // r = R · prev (or R): prev staged in W's strict lower triangle (prev(l, c) at W(c, l)) and
  // pdiag, x being written out
  if (pc.has_prev != 0u) {
    for (uint e = tid; e < kk; e += 256u) {
      uint l = e / k, c = e % k;
      float v = pc.prev.v[wbase + e];
      if (l < c) W(c, l) = double(v);
      if (l == c) pdiag[c] = double(v);
    }
  }
  SYNC()
  for (uint e = tid; e < kk; e += 256u) {
    uint i = e / k, c = e % k;
    float v = 0.0;
    if (c >= i) {
      if (pc.has_prev == 0u) {
        v = float(W(i, c));
      } else {
        // Σ_{l=i..c} R(i, l) prev(l, c), unrolled by 4 (lavapipe ends an invocation's loops
        // after 65535 iterations in total)
        double s = W(i, c) * pdiag[c];
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
