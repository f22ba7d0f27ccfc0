#version 460
// Batched C = A @ B (row-major, A (M, K), B (K, N)), float32 accumulation. 128 x 128 tiles
// of C per workgroup, K in steps of 16 through shared memory (stored as vec4 so each thread
// reads its 8 rows and 8 columns with 4 vector loads); 256 threads each own an 8 x 8 block
// (rows 4ty..4ty+3 and 64+4ty.., columns likewise with tx). The next K tile is prefetched
// into registers while the current one is multiplied. Split K: with splits > 1 the
// workgroups z = batch * splits + s each sum K range [s * kchunk, (s + 1) * kchunk) and write
// float32 partial tiles to `part` (matmul_reduce.comp adds them), so small M x N products
// still fill the device. ta / tb: A is stored (K, M) / B is stored (N, K) (a transpose
// folded in by compile); tile loads then walk the other index fastest so they stay coalesced.
// Defines: T.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform PC {
  BUF(T) a;
  BUF(T) b;
  BUF(T) c;
  Buf_f32 part;
  uint M, N, K, splits, kchunk, ta, tb;
} pc;

const uint BM = 128u, BN = 128u, BK = 16u;
shared vec4 As[BK][BM / 4u];
shared vec4 Bs[BK][BN / 4u];

void main() {
  uint zz = gl_WorkGroupID.z, z = zz / pc.splits, s = zz % pc.splits;
  uint kbeg = s * pc.kchunk, kend = min(pc.K, kbeg + pc.kchunk);
  uint tile_m = gl_WorkGroupID.y * BM, tile_n = gl_WorkGroupID.x * BN;
  uint tid = gl_LocalInvocationID.x, tx = tid % 16u, ty = tid / 16u;
  uint a_off = z * pc.M * pc.K, b_off = z * pc.K * pc.N, c_off = z * pc.M * pc.N;
  vec4 acc[8][2];
  for (uint i = 0u; i < 8u; ++i) {
    acc[i][0] = vec4(0.0);
    acc[i][1] = vec4(0.0);
  }
  float ra[8], rb[8];
  // global → registers for the tile starting at k0
  // element e of a tile load: (m, k) of A and (kb, n) of B, the stored-contiguous index fastest
#define A_IDX(e) uint m = pc.ta != 0u ? (e) % BM : (e) / BK, k = pc.ta != 0u ? (e) / BM : (e) % BK;
#define B_IDX(e) uint kb = pc.tb != 0u ? (e) % BK : (e) / BN, n = pc.tb != 0u ? (e) / BK : (e) % BN;
#define LOAD_TILE(k0)                                                                    \
  for (uint l = 0u; l < 8u; ++l) {                                                       \
    uint e = tid + l * 256u;                                                             \
    A_IDX(e)                                                                             \
    uint gm = tile_m + m, gk = (k0) + k;                                                 \
    ra[l] = (gm < pc.M && gk < kend)                                                     \
                ? LD(T)(pc.a, a_off + (pc.ta != 0u ? gk * pc.M + gm : gm * pc.K + gk))   \
                : 0.0;                                                                   \
    B_IDX(e)                                                                             \
    uint gkb = (k0) + kb, gn = tile_n + n;                                               \
    rb[l] = (gkb < kend && gn < pc.N)                                                    \
                ? LD(T)(pc.b, b_off + (pc.tb != 0u ? gn * pc.K + gkb : gkb * pc.N + gn)) \
                : 0.0;                                                                   \
  }
#define STORE_TILE()                                                                     \
  for (uint l = 0u; l < 8u; ++l) {                                                       \
    uint e = tid + l * 256u;                                                             \
    A_IDX(e)                                                                             \
    As[k][m / 4u][m % 4u] = ra[l];                                                       \
    B_IDX(e)                                                                             \
    Bs[kb][n / 4u][n % 4u] = rb[l];                                                      \
  }
  LOAD_TILE(kbeg)
  STORE_TILE()
  barrier();
  for (uint k0 = kbeg; k0 < kend; k0 += BK) {
    bool more = k0 + BK < kend;
    if (more) { LOAD_TILE(k0 + BK) }
    for (uint kk = 0u; kk < BK; ++kk) {
      vec4 a0 = As[kk][ty], a1 = As[kk][16u + ty];
      vec4 b0 = Bs[kk][tx], b1 = Bs[kk][16u + tx];
      for (uint i = 0u; i < 4u; ++i) {
        acc[i][0] = fma(vec4(a0[i]), b0, acc[i][0]);
        acc[i][1] = fma(vec4(a0[i]), b1, acc[i][1]);
        acc[4u + i][0] = fma(vec4(a1[i]), b0, acc[4u + i][0]);
        acc[4u + i][1] = fma(vec4(a1[i]), b1, acc[4u + i][1]);
      }
    }
    barrier();
    if (more) {
      STORE_TILE()
      barrier();
    }
  }
  for (uint i = 0u; i < 8u; ++i) {
    uint gm = tile_m + (i < 4u ? 4u * ty + i : 64u + 4u * ty + (i - 4u));
    if (gm >= pc.M) continue;
    for (uint h = 0u; h < 2u; ++h)
      for (uint j = 0u; j < 4u; ++j) {
        uint gn = tile_n + h * 64u + 4u * tx + j;
        if (gn >= pc.N) continue;
        if (pc.splits == 1u) ST(T)(pc.c, c_off + gm * pc.N + gn, acc[i][h][j]);
        else pc.part.v[zz * pc.M * pc.N + gm * pc.N + gn] = acc[i][h][j];
      }
  }
}
