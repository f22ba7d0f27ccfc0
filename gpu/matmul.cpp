// eval_gpu of Matmul (shaders/matmul.comp): a tiled shared-memory kernel, batched over z.
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
struct MatmulPC {
  uint64_t a, b, c;
  uint32_t M, N, K;
};
}  // namespace

void Matmul::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &b = inputs[1];
  array& out = outputs[0];
  if (!all_supported({a, b}) || !is_floating(a.dtype()))
    return fallback(*this, inputs, outputs, "dtype not supported");
  if (a.size() >= (1ull << 32) || b.size() >= (1ull << 32) || out.size() >= (1ull << 32))
    return fallback(*this, inputs, outputs, "array too large");
  uint32_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  Buf y = output(out);
  if (out.size() == 0) return;
  uint64_t batch = out.size() / (static_cast<uint64_t>(M) * N);
  Buf ba = input(a), bb = input(b);
  std::string name = std::string("matmul_") + dt(a.dtype());
  VkPipeline pipe = pipeline(name.c_str(), {});
  uint64_t maxz = Context::require().caps.max_workgroup_count[2];
  size_t isz = a.itemsize();
  for (uint64_t b0 = 0; b0 < batch; b0 += maxz) {
    uint32_t nb = static_cast<uint32_t>(std::min<uint64_t>(maxz, batch - b0));
    MatmulPC pc{ba->address() + b0 * M * K * isz, bb->address() + b0 * K * N * isz,
                y->address() + b0 * M * N * isz, M, N, K};
    Encoder::get().dispatch(pipe, &pc, sizeof(pc), {div_up(N, 128), div_up(M, 128), nb}, {ba, bb},
                            {y});
  }
}

}  // namespace kiln
