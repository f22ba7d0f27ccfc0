// eval_gpu of RandomBits (shaders/random_bits.comp), bit-identical to the CPU.
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
struct RandomPC {
  uint64_t key, y;
  uint32_t n, half_n;
};
}  // namespace

void RandomBits::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  if (out.size() >= (1ull << 32)) return fallback(*this, inputs, outputs, "array too large");
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf k = input(inputs[0]);
  uint32_t n = static_cast<uint32_t>(out.size());
  uint32_t half = static_cast<uint32_t>((out.size() + 1) / 2);
  RandomPC pc{k->address(), y->address(), n, half};
  dispatch("random_bits", {kWorkgroup}, pc, grid_1d(div_up(half, kWorkgroup)), {k}, {y});
}

}  // namespace kiln
