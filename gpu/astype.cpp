// eval_gpu of AsType (shaders/astype.comp).
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
struct AsTypePC {
  uint64_t x, y;
  uint32_t n;
};
}  // namespace

void AsType::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (in.dtype() == dtype_) return share(in, out);
  if (!all_supported({in, out})) return fallback(*this, inputs, outputs, "dtype not supported");
  if (in.size() >= (1ull << 32)) return fallback(*this, inputs, outputs, "array too large");
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf x = input(in);
  AsTypePC pc{x->address(), y->address(), static_cast<uint32_t>(out.size())};
  std::string name = std::string("astype_") + dt(in.dtype()) + "_" + dt(dtype_);
  dispatch(name.c_str(), {kWorkgroup}, pc,
           grid_1d((out.size() + kWorkgroup * 4 - 1) / (kWorkgroup * 4)), {x}, {y});
}

}  // namespace kiln
