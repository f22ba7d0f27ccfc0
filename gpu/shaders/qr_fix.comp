#version 460
// After the first CholeskyQR pass (gpu/qr.cpp): column j of Q is zero where qr_chol.comp
// flagged column j of Z as dependent; give it a fixed pseudo-random vector (entries in
// [-1, 1) from an integer hash of (row, column)) so that the second pass, which
// orthogonalises it against the other columns, returns an orthonormal Q.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  Buf_f32 q;      // batch x n x k
  Buf_u32 flags;  // batch x k
  uint n, k, total;
} pc;

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
  uint e = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (e >= pc.total) return;
  uint j = e % pc.k, row = (e / pc.k) % pc.n, b = e / (pc.k * pc.n);
  if (pc.flags.v[b * pc.k + j] != 0u) pc.q.v[e] = hash_unit(row, j);
}
