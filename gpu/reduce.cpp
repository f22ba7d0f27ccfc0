// eval_gpu of Reduce (shaders/reduce.comp): rows (I == 1) reduced by workgroups with a
// shared-memory tree, columns by one thread per output; long reductions in two passes
// through an accumulator-typed temporary.
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
struct ReducePC {
  uint64_t x, xa, y, ya;
  uint32_t O, R, I, P, chunk;
};

Dtype acc_dtype(Dtype t) {
  if (is_floating(t)) return float32;
  if (t == bool_) return uint32;
  return t;
}
}  // namespace

void Reduce::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (!all_supported({in})) return fallback(*this, inputs, outputs, "dtype not supported");
  if (in.size() >= (1ull << 32) || axes_.empty())
    return fallback(*this, inputs, outputs, "shape not supported");
  if (in.dtype() != bool_ && (op_ == ReduceOp::And || op_ == ReduceOp::Or))
    return fallback(*this, inputs, outputs, "And/Or expect bool input");
  Buf y = output(out);
  if (out.size() == 0) return;
  ORI v;
  if (!ori_view(in, axes_, v)) return fallback(*this, inputs, outputs, "transpose not expressible");
  std::string name = std::string("reduce_") + dt(in.dtype());
  uint32_t op = static_cast<uint32_t>(op_);
  size_t asz = acc_dtype(in.dtype()).size();
  Buf src = v.data;
  bool src_acc = false;
  uint64_t R = v.R;
  // Split long reductions so that enough workgroups/threads are busy; each pass shrinks R.
  while (true) {
    uint64_t P = 1, chunk = std::max<uint64_t>(R, 1);
    bool rows = v.I == 1;
    if (rows) {
      if (R > 8192) P = std::min<uint64_t>((R + 8191) / 8192, 4096);
    } else {
      uint64_t threads = v.O * v.I;
      if (threads < 16384 && R > 64)
        P = std::min<uint64_t>((R + 63) / 64, std::max<uint64_t>(1, 65536 / threads));
    }
    if (P > 1) chunk = (R + P - 1) / P;
    P = (R + chunk - 1) / chunk;
    if (R == 0) P = 1;
    bool last = P == 1;
    Buf dst = last ? y : temp(v.O * P * v.I * asz);
    ReducePC pc{src->address(), src->address(), dst->address(), dst->address(),
                static_cast<uint32_t>(v.O), static_cast<uint32_t>(R), static_cast<uint32_t>(v.I),
                static_cast<uint32_t>(P), static_cast<uint32_t>(chunk)};
    Grid g = rows ? grid_1d(v.O * P) : grid_1d(div_up(v.O * P * v.I, kWorkgroup));
    dispatch(name.c_str(), {kWorkgroup, op, src_acc ? 1u : 0u, last ? 0u : 1u, rows ? 1u : 0u}, pc,
             g, {src}, {dst});
    if (last) break;
    src = dst;
    src_acc = true;
    R = P;
  }
}

}  // namespace kiln
