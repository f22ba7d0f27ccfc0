#version 460
// Last kernel of a CholeskyQR pass (gpu/qr.cpp): Q = Z R⁻¹ by forward substitution, one
// invocation per row of Z (q_l = (z_l − Σ_{i<l} q_i R_il) / R_ll), times the column signs d
// when has_d. A column flagged dependent by qr_chol.comp (R has a zero row there) gets a fixed
// pseudo-random vector instead (entries in [-1, 1) from an integer hash of (row, column)),
// which the next pass orthogonalises against the others; later columns do not use it (R_jl = 0).
// R is staged in shared memory when it fits (SHARED_R, KS = spec constant 1 ≥ k), else read from
// device memory (the same address for the whole workgroup: broadcast loads). The row lives in a
// private array (k ≤ 256). Inner loops are unrolled by 4 (lavapipe ends an invocation's loops
// after 65535 iterations in total).
// Defines: SHARED_R (0/1).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 1) const uint KS = 16u;
layout(push_constant) uniform PC {
  Buf_f32 z;      // batch x n x k
  Buf_f32 rt;     // batch x k x k, upper triangular
  Buf_u32 flags;  // batch x k
  Buf_f32 d;      // batch x k column signs (when has_d)
  Buf_f32 q;      // batch x n x k
  uint n, k, has_d;
} pc;

#if SHARED_R
shared float Rs[KS * KS];
#define R(i, j) Rs[(i) * KS + (j)]
#else
#define R(i, j) pc.rt.v[roff + (i) * k + (j)]
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
  uint k = pc.k, b = gl_WorkGroupID.y, roff = b * k * k;
#if SHARED_R
  for (uint e = gl_LocalInvocationID.x; e < k * k; e += 256u) R(e / k, e % k) = pc.rt.v[roff + e];
  barrier();
#endif
  uint row = gl_WorkGroupID.x * 256u + gl_LocalInvocationID.x;
  if (row >= pc.n) return;
  uint off = (b * pc.n + row) * k;
  float q[256];
  for (uint l = 0u; l < k; ++l) {
    if (pc.flags.v[b * k + l] != 0u) {
      q[l] = hash_unit(row, l);
      continue;
    }
    float s = pc.z.v[off + l];
    uint i = 0u;
    for (; i + 4u <= l; i += 4u)
      s -= (q[i] * R(i, l) + q[i + 1u] * R(i + 1u, l)) +
           (q[i + 2u] * R(i + 2u, l) + q[i + 3u] * R(i + 3u, l));
    for (; i < l; ++i) s -= q[i] * R(i, l);
    q[l] = s / R(l, l);
  }
  for (uint l = 0u; l < k; ++l)
    pc.q.v[off + l] = pc.has_d != 0u ? q[l] * pc.d.v[b * k + l] : q[l];
}
