// eval_gpu of ArgReduce (shaders/argreduce.comp).
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
struct ArgPC {
  uint64_t x, y;
  uint32_t O, R, I;
};
}  // namespace

void ArgReduce::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (!all_supported({in})) return fallback(*this, inputs, outputs, "dtype not supported");
  if (in.size() >= (1ull << 32)) return fallback(*this, inputs, outputs, "array too large");
  Buf y = output(out);
  if (out.size() == 0) return;
  ORI v;
  if (!ori_view(in, {axis_}, v)) return fallback(*this, inputs, outputs, "shape not expressible");
  bool rows = v.I == 1;
  ArgPC pc{v.data->address(), y->address(), static_cast<uint32_t>(v.O), static_cast<uint32_t>(v.R),
           static_cast<uint32_t>(v.I)};
  std::string name = std::string("argreduce_") + dt(in.dtype());
  uint32_t op = op_ == ArgReduceOp::ArgMax ? 0 : 1;
  dispatch(name.c_str(), {kWorkgroup, op, rows ? 1u : 0u}, pc,
           rows ? grid_1d(v.O) : grid_1d(div_up(v.O * v.I, kWorkgroup)), {v.data}, {y});
}

}  // namespace kiln
