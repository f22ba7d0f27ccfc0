#version 460
// Batched C = A @ B (row-major, A (M, K), B (K, N)), float32 accumulation, for products whose
// 128 x 128 tiles (matmul.comp) would leave most of a large GPU idle: an MLP's 256 x 512
// output is 8 such tiles but 128 tiles of 32 x 32. matmul.cpp picks the tiling.
// Tiling (specialization constants): BM x BN tiles of C per workgroup, K in steps of BK
// through shared memory (each K row of a tile padded by one vec4). Each thread owns a TM x TN
// block (4 or 8: rows 4ty.. and, for 8, BM/2 + 4ty..; columns 4tx.. and BN/2 + 4tx..; so a K
// row costs TM/4 + TN/4 conflict-free vec4 reads of shared memory for TM TN multiply-adds).
// With 4 x 4 blocks, KS groups of (BM/4)(BN/4) threads may split every K step: group g
// multiplies rows [g BK/KS, (g+1) BK/KS) of the step, and at the end the KS partial tiles
// are summed in group order through shared memory. So a 32 x 32 tile still gets 256 threads
// and a short K loop, and the product stays one dispatch. (8 x 8 blocks come without K split:
// summing their partials takes several passes, and with the accumulators indexed by the
// pass loop NVIDIA's compiler apparently spilled them to local memory: 4-13x slower.) The
// next K step is prefetched into registers while the current one is multiplied.
// Tile loads: consecutive threads walk the operand's stored-contiguous index; where that is
// K (A untransposed, B transposed) 8 threads take 8 consecutive k of one row and the next 8
// the next row, so each warp still reads whole 32-byte sectors while its stores to the
// k-major shared tile hit 32 different banks. Each thread's elements are a fixed stride
// apart, so their addresses are one base plus constants.
// Split K across workgroups (splits > 1: z = batch * splits + s sums K range
// [s kchunk, (s + 1) kchunk) into float32 partial tiles of `part`, added by
// matmul_reduce.comp), ta / tb (A stored (K, M) / B stored (N, K)) and batching over z are
// those of matmul.comp. Defines: T.
// Specialization constants: 0 workgroup size WG = KS (BM/TM)(BN/TN), 1 BM, 2 BN, 3 BK, 4 KS,
// 5 shared vec4s = max(BK (BM/4 + 1 + BN/4 + 1), 4 WG if KS > 1), 6 TM, 7 TN. matmul.cpp
// checks: TM = TN = 4 when KS > 1; WG a multiple of 32, BM, BN and 4 BK; BK of 8 and of KS.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256u;
layout(constant_id = 1) const uint BM = 32u;
layout(constant_id = 2) const uint BN = 32u;
layout(constant_id = 3) const uint BK = 64u;
layout(constant_id = 4) const uint KS = 4u;
layout(constant_id = 5) const uint SMEM = 1152u;
layout(constant_id = 6) const uint TM = 4u;
layout(constant_id = 7) const uint TN = 4u;
layout(push_constant) uniform PC {
  BUF(T) a;
  BUF(T) b;
  BUF(T) c;
  Buf_f32 part;
  uint M, N, K, splits, kchunk, ta, tb;
} pc;

const uint ASTR = BM / 4u + 1u;  // vec4s per K row of the A tile
const uint BSTR = BN / 4u + 1u;
const uint BOFF = BK * ASTR;     // the B tile follows the A tile
const uint LA = BM * BK / WG;    // elements of each tile every thread loads
const uint LB = BK * BN / WG;
const uint KG = BK / KS;         // K rows of a step per group
const uint HM = TM / 4u;         // 4-row blocks per thread
const uint HN = TN / 4u;         // 4-column blocks per thread
const uint GX = BN / TN;         // threads along N in a group
const uint GT = (BM / TM) * GX;  // threads of a group
shared vec4 sm[SMEM];

void put(uint zz, uint c_off, uint gm, uint gn, float v) {
  if (pc.splits == 1u) ST(T)(pc.c, c_off + gm * pc.N + gn, v);
  else pc.part.v[zz * pc.M * pc.N + gm * pc.N + gn] = v;
}

// The elements a thread loads of an R x BK operand tile: element l is (row r0 + l dr,
// k k0 + l dk) of the tile. kfast: the stored-contiguous index is k (8 threads per row, see
// the header); else it is the row (consecutive threads, consecutive rows).
void elems(uint tid, uint R, bool kfast, out uint r0, out uint k0, out uint dr, out uint dk) {
  if (kfast) {
    uint q = tid / 32u;
    k0 = (q % (BK / 8u)) * 8u + tid % 8u;
    r0 = (q / (BK / 8u)) * 4u + (tid / 8u) % 4u;
    dr = WG / BK;
    dk = 0u;
  } else {
    r0 = tid % R;
    k0 = tid / R;
    dr = 0u;
    dk = WG / R;
  }
}

void main() {
  uint zz = gl_WorkGroupID.z, z = zz / pc.splits, s = zz % pc.splits;
  uint kbeg = s * pc.kchunk, kend = min(pc.K, kbeg + pc.kchunk);
  uint tile_m = gl_WorkGroupID.y * BM, tile_n = gl_WorkGroupID.x * BN;
  uint tid = gl_LocalInvocationID.x;
  uint g = tid / GT, lt = tid % GT, tx = lt % GX, ty = lt / GX;
  uint c_off = z * pc.M * pc.N;

  // A: element l at K step k0 is global index ag + l agl + k0 agk, shared vec4 as + l asl
  bool akf = pc.ta == 0u;
  uint ar, ak, adr, adk;
  elems(tid, BM, akf, ar, ak, adr, adk);
  uint ag = z * pc.M * pc.K + (akf ? (tile_m + ar) * pc.K + ak : ak * pc.M + tile_m + ar);
  uint agl = akf ? adr * pc.K : adk * pc.M, agk = akf ? 1u : pc.M;
  uint as = ak * ASTR + ar / 4u, asl = adk * ASTR + adr / 4u, ac = ar % 4u;
  // B: the same with rows n (stored (K, N): n contiguous; tb: k contiguous)
  bool bkf = pc.tb != 0u;
  uint br, bk, bdr, bdk;
  elems(tid, BN, bkf, br, bk, bdr, bdk);
  uint bg = z * pc.K * pc.N + (bkf ? (tile_n + br) * pc.K + bk : bk * pc.N + tile_n + br);
  uint bgl = bkf ? bdr * pc.K : bdk * pc.N, bgk = bkf ? 1u : pc.N;
  uint bs = BOFF + bk * BSTR + br / 4u, bsl = bdk * BSTR + bdr / 4u, bc = br % 4u;

  vec4 acc[TM * HN];
  for (uint i = 0u; i < TM * HN; ++i) acc[i] = vec4(0.0);
  float ra[LA], rb[LB];
#define LOAD_TILE(k0)                                                              \
  for (uint l = 0u; l < LA; ++l) {                                                 \
    bool ok = tile_m + ar + l * adr < pc.M && (k0) + ak + l * adk < kend;          \
    ra[l] = ok ? LD(T)(pc.a, ag + l * agl + (k0) * agk) : 0.0;                     \
  }                                                                                \
  for (uint l = 0u; l < LB; ++l) {                                                 \
    bool ok = tile_n + br + l * bdr < pc.N && (k0) + bk + l * bdk < kend;          \
    rb[l] = ok ? LD(T)(pc.b, bg + l * bgl + (k0) * bgk) : 0.0;                     \
  }
#define STORE_TILE()                                                               \
  for (uint l = 0u; l < LA; ++l) sm[as + l * asl][ac] = ra[l];                     \
  for (uint l = 0u; l < LB; ++l) sm[bs + l * bsl][bc] = rb[l];
  LOAD_TILE(kbeg)
  STORE_TILE()
  barrier();
  for (uint k0 = kbeg; k0 < kend; k0 += BK) {
    bool more = k0 + BK < kend;
    if (more) { LOAD_TILE(k0 + BK) }
    for (uint q = 0u; q < KG; ++q) {
      uint kk = g * KG + q;
      vec4 av[HM], bv[HN];
      for (uint h = 0u; h < HM; ++h) av[h] = sm[kk * ASTR + h * (BM / 8u) + ty];
      for (uint h = 0u; h < HN; ++h) bv[h] = sm[BOFF + kk * BSTR + h * (BN / 8u) + tx];
      for (uint i = 0u; i < TM; ++i)
        for (uint h = 0u; h < HN; ++h)
          acc[i * HN + h] = fma(vec4(av[i / 4u][i % 4u]), bv[h], acc[i * HN + h]);
    }
    barrier();
    if (more) {
      STORE_TILE()
      barrier();
    }
  }
  // accumulator i * HN + h holds row (i / 4) BM/2 + 4 ty + i % 4, columns h BN/2 + 4 tx ..
  if (KS == 1u) {
    for (uint i = 0u; i < TM; ++i) {
      uint gm = tile_m + (i / 4u) * (BM / 2u) + 4u * ty + i % 4u;
      if (gm >= pc.M) continue;
      for (uint h = 0u; h < HN; ++h)
        for (uint j = 0u; j < 4u; ++j) {
          uint gn = tile_n + h * (BN / 2u) + 4u * tx + j;
          if (gn < pc.N) put(zz, c_off, gm, gn, acc[i * HN + h][j]);
        }
    }
    return;
  }
  // KS > 1 (4 x 4 blocks): the loop ended on a barrier, so the tiles are free. Each group
  // writes its partial BM x BN tile, then every thread sums KS partials of some outputs in
  // group order (consecutive threads, consecutive columns: coalesced stores).
  for (uint i = 0u; i < 4u; ++i) sm[g * (4u * GT) + (4u * ty + i) * GX + tx] = acc[i];
  barrier();
  for (uint e = tid; e < BM * BN; e += WG) {
    uint r = e / BN, cc = e % BN;
    float v = 0.0;
    for (uint h = 0u; h < KS; ++h) v += sm[h * (4u * GT) + r * GX + cc / 4u][cc % 4u];
    uint gm = tile_m + r, gn = tile_n + cc;
    if (gm < pc.M && gn < pc.N) put(zz, c_off, gm, gn, v);
  }
}
