#version 460
// Batched C = A @ B (row-major, A (M, K), B (K, N)), float32 accumulation. Tiles of
// 128 x 128 x 8 in shared memory; 256 threads each own an 8 x 8 block of C (rows ty + 16 i,
// columns tx + 16 j, so shared reads are conflict-free and stores coalesce). Defines: T.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform PC {
  BUF(T) a;
  BUF(T) b;
  BUF(T) c;
  uint M, N, K;
} pc;

const uint BM = 128u, BN = 128u, BK = 8u;
shared float As[BK][BM];
shared float Bs[BK][BN];

void main() {
  uint z = gl_WorkGroupID.z;
  uint tile_m = gl_WorkGroupID.y * BM, tile_n = gl_WorkGroupID.x * BN;
  uint tid = gl_LocalInvocationID.x, tx = tid % 16u, ty = tid / 16u;
  uint a_off = z * pc.M * pc.K, b_off = z * pc.K * pc.N, c_off = z * pc.M * pc.N;
  float acc[8][8];
  for (uint i = 0u; i < 8u; ++i)
    for (uint j = 0u; j < 8u; ++j) acc[i][j] = 0.0;
  for (uint k0 = 0u; k0 < pc.K; k0 += BK) {
    for (uint l = 0u; l < 4u; ++l) {
      uint e = tid + l * 256u;
      uint m = e / BK, k = e % BK;
      uint gm = tile_m + m, gk = k0 + k;
      As[k][m] = (gm < pc.M && gk < pc.K) ? LD(T)(pc.a, a_off + gm * pc.K + gk) : 0.0;
      uint kb = e / BN, n = e % BN;
      uint gkb = k0 + kb, gn = tile_n + n;
      Bs[kb][n] = (gkb < pc.K && gn < pc.N) ? LD(T)(pc.b, b_off + gkb * pc.N + gn) : 0.0;
    }
    barrier();
    for (uint kk = 0u; kk < BK; ++kk) {
      float ar[8], br[8];
      for (uint i = 0u; i < 8u; ++i) ar[i] = As[kk][ty + 16u * i];
      for (uint j = 0u; j < 8u; ++j) br[j] = Bs[kk][tx + 16u * j];
      for (uint i = 0u; i < 8u; ++i)
        for (uint j = 0u; j < 8u; ++j) acc[i][j] = fma(ar[i], br[j], acc[i][j]);
    }
    barrier();
  }
  for (uint i = 0u; i < 8u; ++i) {
    uint gm = tile_m + ty + 16u * i;
    if (gm >= pc.M) continue;
    for (uint j = 0u; j < 8u; ++j) {
      uint gn = tile_n + tx + 16u * j;
      if (gn < pc.N) ST(T)(pc.c, c_off + gm * pc.N + gn, acc[i][j]);
    }
  }
}
