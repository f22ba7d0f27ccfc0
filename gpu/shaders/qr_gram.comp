#version 460
// First kernel of a CholeskyQR pass (gpu/qr.cpp): partial Gram matrices G = Zᵀ Z of a batch
// of float32 matrices Z (n, k), accumulated in float64. A product of two floats is exact in
// float64, so G carries no rounding beyond float64 summation; that is what lets the Cholesky
// factorisation that follows succeed for condition numbers of Z up to ~1e7 (G's are squared).
// Workgroup (x = tile pair, upper ones only, y = row chunk, z = matrix): a 32 x 32 block of G
// over rows
// [chunk * rows, (chunk + 1) * rows), written to part[z][chunk] (k x k float64); qr_chol.comp
// adds the chunks. 256 threads, each owns 4 entries (rows 4ty..4ty+3 of the block, column tx).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x = 256) in;
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Buf_f64 { double v[]; };
layout(push_constant) uniform PC {
  Buf_f32 z;
  Buf_f64 part;
  uint n, k, rows, chunks, tiles;  // tiles = ceil(k / 32) per side
} pc;

shared float Ai[32][33];
shared float Aj[32][33];

void main() {
  uint tid = gl_LocalInvocationID.x, tx = tid % 32u, ty = tid / 32u;
  uint ti = gl_WorkGroupID.x / pc.tiles, tj = gl_WorkGroupID.x % pc.tiles;
  if (ti > tj) return;  // qr_chol reads the upper triangle only
  uint chunk = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  uint k = pc.k, zoff = b * pc.n * k;
  uint r0 = chunk * pc.rows, r1 = min(pc.n, r0 + pc.rows);
  double acc[4] = double[4](0.0LF, 0.0LF, 0.0LF, 0.0LF);
  for (uint s = r0; s < r1; s += 32u) {
    for (uint l = 0u; l < 4u; ++l) {
      uint e = tid + l * 256u, row = e / 32u, col = e % 32u, gr = s + row;
      uint ci = ti * 32u + col, cj = tj * 32u + col;
      Ai[row][col] = (gr < r1 && ci < k) ? pc.z.v[zoff + gr * k + ci] : 0.0;
      Aj[row][col] = (gr < r1 && cj < k) ? pc.z.v[zoff + gr * k + cj] : 0.0;
    }
    barrier();
    for (uint rr = 0u; rr < 32u; ++rr) {
      double bj = double(Aj[rr][tx]);
      for (uint q = 0u; q < 4u; ++q) acc[q] = fma(double(Ai[rr][ty * 4u + q]), bj, acc[q]);
    }
    barrier();
  }
  uint j = tj * 32u + tx;
  if (j >= k) return;
  uint base = (b * pc.chunks + chunk) * k * k;
  for (uint q = 0u; q < 4u; ++q) {
    uint i = ti * 32u + ty * 4u + q;
    if (i < k) pc.part.v[base + i * k + j] = acc[q];
  }
}
