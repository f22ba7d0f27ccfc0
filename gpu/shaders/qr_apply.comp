#version 460
// Q = Z X for the GPU QR (gpu/qr.cpp): Z (n, k) float32, X = R⁻¹ (k x k, upper triangular)
// float64, products accumulated in float64 and Q rounded to float32 once. With X rounded to
// float32 and a float32 matmul, Q R would reproduce Z only to ~cond(Z) · 6e-8 (1.7e-5 for a
// random 12 x 12 triangular matrix); this way to float32 rounding. Columns flagged dependent
// by qr_chol.comp (when has_flags) get a fixed pseudo-random vector instead (entries in
// [-1, 1) from an integer hash of (row, column)), which the next pass orthogonalises. 16 x 16
// output tiles, K in steps of 16 through shared memory; workgroup (x: column tile, y: row
// tile, z: matrix).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Buf_f64 { double v[]; };
layout(push_constant) uniform PC {
  Buf_f32 z;      // batch x n x k
  Buf_f64 x;      // batch x k x k
  Buf_u32 flags;  // batch x k (when has_flags)
  Buf_f32 q;      // batch x n x k
  uint n, k, has_flags;
} pc;

shared float Zs[16][17];
shared double Xs[16][17];

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
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, k = pc.k, b = gl_WorkGroupID.z;
  uint row = gl_WorkGroupID.y * 16u + ty, col = gl_WorkGroupID.x * 16u + tx;
  uint zoff = b * pc.n * k, xoff = b * k * k;
  double acc = 0.0LF;
  // X is upper triangular: l ≤ the tile's last column
  uint lend = min(k, gl_WorkGroupID.x * 16u + 16u);
  for (uint l0 = 0u; l0 < lend; l0 += 16u) {
    uint zr = gl_WorkGroupID.y * 16u + ty, zc = l0 + tx;
    Zs[ty][tx] = (zr < pc.n && zc < k) ? pc.z.v[zoff + zr * k + zc] : 0.0;
    uint xr = l0 + ty, xc = gl_WorkGroupID.x * 16u + tx;
    Xs[ty][tx] = (xr < k && xc < k) ? pc.x.v[xoff + xr * k + xc] : 0.0LF;
    barrier();
    for (uint l = 0u; l < 16u; ++l) acc = fma(double(Zs[ty][l]), Xs[l][tx], acc);
    barrier();
  }
  if (row >= pc.n || col >= k) return;
  float v = float(acc);
  if (pc.has_flags != 0u && pc.flags.v[b * k + col] != 0u) v = hash_unit(row, col);
  pc.q.v[zoff + row * k + col] = v;
}
