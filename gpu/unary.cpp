// eval_gpu of Unary (shaders/unary.comp).
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
struct UnaryPC {
  uint64_t x, y;
  uint32_t n;
};
static_assert(static_cast<int>(UnaryOp::Identity) == 29, "unary.comp mirrors kiln::UnaryOp");
}  // namespace

void Unary::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (op_ == UnaryOp::Identity) return share(in, out);
  if (!all_supported({in, out})) return fallback(*this, inputs, outputs, "dtype not supported");
  if (in.size() >= (1ull << 32)) return fallback(*this, inputs, outputs, "array too large");
  if (!is_floating(in.dtype()) && in.dtype() != bool_) {
    switch (op_) {
      case UnaryOp::Abs: case UnaryOp::Negative: case UnaryOp::Sign: case UnaryOp::Square:
      case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round: case UnaryOp::LogicalNot:
      case UnaryOp::IsNan: case UnaryOp::IsInf:
        break;
      default:
        // the CPU names the error
        return fallback(*this, inputs, outputs, "op undefined for integers");
    }
  }
  Buf x = input(in);
  Buf y = output(out);
  bool pred = out.dtype() == bool_ && in.dtype() != bool_;
  if (in.dtype() == bool_ && op_ == UnaryOp::LogicalNot) pred = true;
  // looked up once per (dtype, predicate, op): the key lookup costs more than the rest of a
  // tiny dispatch
  static_assert(static_cast<int>(Dtype::Val::float32) == 6, "one row per dtype");
  static VkPipeline pipes[7][2][static_cast<int>(UnaryOp::Count_)] = {};
  VkPipeline& pipe = pipes[static_cast<int>(in.dtype().val())][pred][static_cast<int>(op_)];
  if (!pipe) {
    std::string name = std::string(pred ? "unary_pred_" : "unary_") + dt(in.dtype());
    // erfinv's Newton step runs in float64 where the device has it (bit-identical to the CPU)
    if (op_ == UnaryOp::ErfInv && is_floating(in.dtype()) && Context::require().caps.float64)
      name = std::string("unary_erfinv_") + dt(in.dtype());
    pipe = pipeline(name.c_str(), {kWorkgroup, static_cast<uint32_t>(op_)});
  }
  UnaryPC pc{x->address(), y->address(), static_cast<uint32_t>(out.size())};
  Encoder::get().dispatch(pipe, &pc, sizeof(pc),
                          grid_1d((out.size() + kWorkgroup * 4 - 1) / (kWorkgroup * 4)), {x}, {y});
}

}  // namespace kiln
