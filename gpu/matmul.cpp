// eval_gpu of Matmul (shaders/matmul.comp): a tiled shared-memory kernel, batched over z.
// Products with few 128 x 128 output tiles split K across workgroups (float32 partial tiles,
// summed by shaders/matmul_reduce.comp) so that they still fill the device.
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
// Workgroups a split-K product aims for (a few per multiprocessor on large GPUs).
constexpr uint64_t kTargetGroups = 256;
}  // namespace

void matmul(const Buf& ba, const Buf& bb, const Buf& y, uint32_t M, uint32_t N, uint32_t K,
            uint64_t batch, bool ta_, bool tb_, Dtype dtype) {
  uint32_t ta = ta_, tb = tb_;
  std::string name = std::string("matmul_") + dt(dtype);
  VkPipeline pipe = pipeline(name.c_str(), {});
  uint64_t maxz = Context::require().caps.max_workgroup_count[2];
  size_t isz = dtype.size();
  if (batch * M * N * std::max<uint64_t>(K, 1) <= kSmallWork) {
    SmallPC pc{ba->address(), bb->address(), y->address(), M, N, K, ta, tb,
               static_cast<uint32_t>(batch * M * N)};
    std::string sname = std::string("matmul_small_") + dt(dtype);
    dispatch(sname.c_str(), {kWorkgroup}, pc, grid_1d(div_up(batch * M * N, kWorkgroup)), {ba, bb}, {y});
    return;
  }
  uint64_t tiles = uint64_t(div_up(N, 128)) * div_up(M, 128) * batch;
  if (tiles < kTargetGroups / 4 && K >= 128) {
    // split K into chunks of at least 64 (a multiple of the kernel's K step, 16)
    uint64_t want = std::min<uint64_t>(kTargetGroups / tiles, K / 64);
    uint32_t kchunk = static_cast<uint32_t>(div_up(div_up(K, want), 16) * 16);
    uint32_t splits = div_up(K, kchunk);
    if (splits > 1 && batch * splits <= maxz &&
        batch * splits * M * N < (1ull << 32)) {
      Buf part = temp(batch * splits * M * N * sizeof(float));
      MatmulPC pc{ba->address(), bb->address(), y->address(), part->address(), M, N, K, splits,
                  kchunk, ta, tb};
      Encoder::get().dispatch(pipe, &pc, sizeof(pc),
                              {div_up(N, 128), div_up(M, 128), static_cast<uint32_t>(batch * splits)},
                              {ba, bb}, {part});
      uint64_t total = batch * M * N;
      ReducePC rp{part->address(), y->address(), M * N, splits, static_cast<uint32_t>(total)};
      std::string rname = std::string("matmul_reduce_") + dt(dtype);
      dispatch(rname.c_str(), {kWorkgroup}, rp, grid_1d(div_up(total, kWorkgroup)), {part}, {y});
      return;
    }
  }
  for (uint64_t b0 = 0; b0 < batch; b0 += maxz) {
    uint32_t nb = static_cast<uint32_t>(std::min<uint64_t>(maxz, batch - b0));
    MatmulPC pc{ba->address() + b0 * M * K * isz, bb->address() + b0 * K * N * isz,
                y->address() + b0 * M * N * isz, y->address(), M, N, K, 1, K, ta, tb};
    Encoder::get().dispatch(pipe, &pc, sizeof(pc), {div_up(N, 128), div_up(M, 128), nb}, {ba, bb},
                            {y});
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
