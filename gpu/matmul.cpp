// eval_gpu of Matmul. Three kernels: one invocation per output for tiny products
// (shaders/matmul_small.comp); 128 x 128 tiles (shaders/matmul.comp) for products with enough
// such tiles to fill a large GPU; smaller tiles (shaders/matmul_mid.comp) for the rest, e.g.
// an MLP's 256 x 512 x 784, which has 8 tiles of 128 x 128 for the 132 multiprocessors of an
// H200. Either tiled kernel can also split K across workgroups (float32 partial tiles summed
// by shaders/matmul_reduce.comp) when its tiles are still few.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels.h"

namespace kiln {
namespace gpu {

namespace {
struct MatmulPC {
  uint64_t a, b, c, part;
  uint32_t M, N, K, splits, kchunk, ta, tb;
};
struct ReducePC {
  uint64_t part, c;
  uint32_t mn, splits, total;
};
struct SmallPC {
  uint64_t a, b, c;
  uint32_t M, N, K, ta, tb, total;
};
// Products up to this many multiply-adds run one invocation per output (matmul_small.comp):
// the tiled kernel's 128 x 128 tiles cost ~9 µs even for a 4 x 10 x 1 product.
constexpr uint64_t kSmallWork = 1u << 16;
// Workgroups a product's tiling aims for (a few per multiprocessor on large GPUs).
constexpr uint64_t kTargetGroups = 256;
// From this many 128 x 128 tiles on, matmul.comp runs as is (as before matmul_mid existed:
// on an H200 it stays best from one full wave, e.g. 2048 x 1024 x 1024).
constexpr uint64_t kBigTiles = 128;

// A tiling of matmul_mid.comp (see its header): BM x BN output tiles, K steps of BK, K of
// each step split over KS thread groups, TM x TN outputs per thread.
struct Tile {
  uint32_t bm, bn, bk, ks, tm = 4, tn = 4;
  uint32_t threads() const { return ks * (bm / tm) * (bn / tn); }
  uint32_t smem_vec4s() const {
    return std::max(bk * (bm / 4 + 1 + bn / 4 + 1), ks > 1 ? 4 * threads() : 0);
  }
};
// The tilings matmul.cpp picks (H200 sweep in bench/RESULTS.md), largest first: 64 x 64
// tiles with matmul.comp's 8 x 8 blocks per thread (64 threads) when they make
// kTargetGroups workgroups (1024^3: 106 µs, matmul.comp 145), else 32 x 32 tiles of 4 x 4
// blocks with K split in 4 inside the workgroup (256 threads; the MLP's 256 x 512 x 784:
// 16 µs, was 25). Products with at most 16 columns (rows) take 32 x 16 (16 x 32) tiles
// instead (256 x 10 x 512: 3.5 µs, was 14).
constexpr Tile kMidTiles[] = {{64, 64, 16, 1, 8, 8}, {32, 32, 64, 4}};
constexpr Tile kNarrowN{32, 16, 32, 8}, kNarrowM{16, 32, 32, 8};
// From this K on, a product with few output tiles splits K over workgroups in chunks of ≥ 512.
constexpr uint32_t kLongK = 2048;

// The shader's layout assumptions (its header) and the device's limits.
bool usable(const Tile& t, const Capabilities& caps) {
  for (uint32_t v : {t.bm, t.bn, t.bk, t.ks})
    if (v == 0 || v > 1024) return false;  // (KILN_MATMUL_TILE values: no overflow below)
  if ((t.tm != 4 && t.tm != 8) || (t.tn != 4 && t.tn != 8) || t.bm % t.tm || t.bn % t.tn ||
      (t.ks > 1 && (t.tm != 4 || t.tn != 4)) || t.bk % 8 || t.bk % t.ks)
    return false;
  uint32_t n = t.threads();
  return n > 0 && n % 32 == 0 && n % t.bm == 0 && n % t.bn == 0 && n % (4 * t.bk) == 0 &&
         n <= caps.max_workgroup_invocations &&
         uint64_t(t.smem_vec4s()) * 16 <= caps.max_shared_memory;
}

bool fits_grid(const Tile& t, uint32_t M, uint32_t N, const Capabilities& caps) {
  return div_up(M, t.bm) <= caps.max_workgroup_count[1] &&
         div_up(N, t.bn) <= caps.max_workgroup_count[0];
}

// KILN_MATMUL_TILE (docs/env.md) forces a kernel for timing sweeps: "128" matmul.comp (with
// its own split rule), "BMxBNxBKxKS" or "BMxBNxBKxKSxTMxTN" a matmul_mid tiling (TM = TN = 4
// when left out), either followed by ":S" to force S splits of K across workgroups. Values
// the shader cannot run are ignored. Read on every call so that one benchmark process can
// sweep tilings.
struct Forced {
  bool big = false, mid = false;
  Tile tile{0, 0, 0, 0};
  uint32_t splits = 0;  // 0: the heuristic's
};
Forced forced_tiling(const Capabilities& caps) {
  Forced f;
  const char* e = std::getenv("KILN_MATMUL_TILE");
  if (!e || !*e) return f;
  std::vector<uint32_t> v;
  char* p = const_cast<char*>(e);
  do {
    v.push_back(static_cast<uint32_t>(std::strtoul(p + (v.empty() ? 0 : 1), &p, 10)));
  } while (*p == 'x');
  uint32_t s = *p == ':' ? static_cast<uint32_t>(std::strtoul(p + 1, &p, 10)) : 0;
  if (*p != '\0') return f;
  if (v.size() == 1 && v[0] == 128) {
    f.big = true;
  } else if (v.size() == 4 || v.size() == 6) {
    f.tile = {v[0], v[1], v[2], v[3], v.size() == 6 ? v[4] : 4, v.size() == 6 ? v[5] : 4};
    f.mid = usable(f.tile, caps);
  }
  if (f.big || f.mid) f.splits = s;
  return f;
}

// K chunk (a multiple of step) for `want` workgroups over K, and the splits that gives.
void split_k(uint32_t K, uint64_t want, uint32_t step, uint32_t& kchunk, uint32_t& splits) {
  want = std::max<uint64_t>(want, 1);
  kchunk = std::max(static_cast<uint32_t>(div_up(div_up(K, want), step) * step), step);
  splits = div_up(K, kchunk);
}
}  // namespace

void matmul(const Buf& ba, const Buf& bb, const Buf& y, uint32_t M, uint32_t N, uint32_t K,
            uint64_t batch, bool ta_, bool tb_, Dtype dtype) {
  uint32_t ta = ta_, tb = tb_;
  const Capabilities& caps = Context::require().caps;
  uint64_t maxz = caps.max_workgroup_count[2];
  size_t isz = dtype.size();
  Forced forced = forced_tiling(caps);
  if (!forced.big && !forced.mid && batch * M * N * std::max<uint64_t>(K, 1) <= kSmallWork) {
    SmallPC pc{ba->address(), bb->address(), y->address(), M, N, K, ta, tb,
               static_cast<uint32_t>(batch * M * N)};
    std::string sname = std::string("matmul_small_") + dt(dtype);
    dispatch(sname.c_str(), {kWorkgroup}, pc, grid_1d(div_up(batch * M * N, kWorkgroup)),
             {ba, bb}, {y});
    return;
  }

  // The kernel and its tile: matmul.comp when its 128 x 128 tiles are enough, else a narrow
  // tile for a thin product, else the largest tile giving kTargetGroups workgroups, else the
  // smallest; matmul.comp after all where no matmul_mid tiling fits the device.
  auto groups = [&](const Tile& t) { return uint64_t(div_up(N, t.bn)) * div_up(M, t.bm) * batch; };
  Tile tile{128, 128, 16, 1};
  bool big = forced.big || (!forced.mid && groups(tile) >= kBigTiles);
  if (forced.mid && fits_grid(forced.tile, M, N, caps)) {
    tile = forced.tile;
  } else if (!big) {
    big = true;
    auto take = [&](const Tile& t) {
      if (!usable(t, caps) || !fits_grid(t, M, N, caps)) return false;
      tile = t;
      big = false;
      return true;
    };
    if (!(N <= kNarrowN.bn && take(kNarrowN)) && !(M <= kNarrowM.bm && take(kNarrowM))) {
      // long K over a few 64 x 64 tiles (the subspace step's 8192 x 64 x 4096): those tiles,
      // with K split over workgroups below, beat 32 x 32 tiles (H200: ~180 vs ~225 µs)
      if (!(K >= kLongK && groups(kMidTiles[0]) >= 32 && take(kMidTiles[0]))) {
        for (const Tile& t : kMidTiles)
          if (take(t) && groups(t) >= kTargetGroups) break;
      }
    }
  }
  uint64_t tiles = groups(tile);

  // Split K across workgroups when the tiles are still few and K is long: 128 x 128 tiles
  // in chunks of ≥ 64 (a multiple of the K step, 16), mid tiles in chunks of ≥ 2 K steps.
  uint32_t splits = 1, kchunk = K;
  if (forced.splits > 0) {
    split_k(K, forced.splits, tile.bk, kchunk, splits);
  } else if (big && tiles < kTargetGroups / 4 && K >= 128) {
    split_k(K, std::min<uint64_t>(kTargetGroups / tiles, K / 64), 16, kchunk, splits);
  } else if (!big && K >= kLongK && tiles < 2 * kTargetGroups) {
    split_k(K, std::min<uint64_t>(div_up(2 * kTargetGroups, tiles), K / 512), tile.bk, kchunk,
            splits);
  } else if (!big && tiles < kTargetGroups / 2 && K >= 4 * tile.bk) {
    split_k(K, std::min<uint64_t>(kTargetGroups / tiles, K / (2 * tile.bk)), tile.bk, kchunk,
            splits);
  }
  if (splits > 1 && (batch * splits > maxz || batch * splits * M * N >= (1ull << 32))) {
    splits = 1;
    kchunk = K;
  }

  VkPipeline pipe =
      big ? pipeline((std::string("matmul_") + dt(dtype)).c_str(), {})
          : pipeline((std::string("matmul_mid_") + dt(dtype)).c_str(),
                     {tile.threads(), tile.bm, tile.bn, tile.bk, tile.ks, tile.smem_vec4s(),
                      tile.tm, tile.tn});
  uint32_t gx = div_up(N, tile.bn), gy = div_up(M, tile.bm);
  if (splits > 1) {
    Buf part = temp(batch * splits * M * N * sizeof(float));
    MatmulPC pc{ba->address(), bb->address(), y->address(), part->address(), M, N, K, splits,
                kchunk, ta, tb};
    Encoder::get().dispatch(pipe, &pc, sizeof(pc),
                            {gx, gy, static_cast<uint32_t>(batch * splits)}, {ba, bb}, {part});
    uint64_t total = batch * M * N;
    ReducePC rp{part->address(), y->address(), M * N, splits, static_cast<uint32_t>(total)};
    std::string rname = std::string("matmul_reduce_") + dt(dtype);
    dispatch(rname.c_str(), {kWorkgroup}, rp, grid_1d(div_up(total, kWorkgroup)), {part}, {y});
    return;
  }
  for (uint64_t b0 = 0; b0 < batch; b0 += maxz) {
    uint32_t nb = static_cast<uint32_t>(std::min<uint64_t>(maxz, batch - b0));
    MatmulPC pc{ba->address() + b0 * M * K * isz, bb->address() + b0 * K * N * isz,
                y->address() + b0 * M * N * isz, y->address(), M, N, K, 1, K, ta, tb};
    Encoder::get().dispatch(pipe, &pc, sizeof(pc), {gx, gy, nb}, {ba, bb}, {y});
  }
}

}  // namespace gpu

using namespace gpu;

void Matmul::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &b = inputs[1];
  array& out = outputs[0];
  if (!all_supported({a, b}) || !is_floating(a.dtype()))
    return fallback(*this, inputs, outputs, "dtype not supported");
  if (a.size() >= (1ull << 32) || b.size() >= (1ull << 32) || out.size() >= (1ull << 32))
    return fallback(*this, inputs, outputs, "array too large");
  uint32_t M = out.shape(-2), N = out.shape(-1), K = transpose_a() ? a.shape(-2) : a.shape(-1);
  Buf y = output(out);
  if (out.size() == 0) return;
  uint64_t batch = out.size() / (static_cast<uint64_t>(M) * N);
  gpu::matmul(input(a), input(b), y, M, N, K, batch, transpose_a(), transpose_b(), a.dtype());
}

}  // namespace kiln
