// eval_gpu of Binary (shaders/binary.comp): contiguous, scalar-operand and strided paths.
#include <cstddef>
#include <cstring>

#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
constexpr int kMaxDims = 6;
struct BinaryPC {
  uint64_t a, b, y;
  uint32_t n, ndim, mode;
  uint32_t pad_;  // GLSL aligns the uvec2 to 8 bytes
  uint32_t sbits[2];
  // the STRIDED variant only: the contiguous one pushes the 48 bytes above
  uint32_t shape[kMaxDims];
  int32_t sa[kMaxDims], sb[kMaxDims];
};
static_assert(sizeof(BinaryPC) == 120 && offsetof(BinaryPC, sbits) == 40 &&
                  offsetof(BinaryPC, shape) == 48,
              "mirrors binary.comp");

// A size-1 operand that lives only on the host (a Python-style scalar constant): its value
// goes into the push constants instead of being uploaded (an upload is a copy command and a
// barrier on discrete GPUs).
bool host_scalar(const array& x) {
  const auto& d = x.data_shared();
  return x.size() == 1 && d && !d->device && d->has_host() && x.itemsize() <= 8;
}
static_assert(static_cast<int>(BinaryOp::LogicalOr) == 18, "binary.comp mirrors kiln::BinaryOp");
}  // namespace

void Binary::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &b = inputs[1];
  array& out = outputs[0];
  if (!all_supported({a, b, out})) return fallback(*this, inputs, outputs, "dtype not supported");
  if (out.size() >= (1ull << 31)) return fallback(*this, inputs, outputs, "array too large");
  if (!is_floating(a.dtype()) && (op_ == BinaryOp::ArcTan2 || op_ == BinaryOp::LogAddExp))
    return fallback(*this, inputs, outputs, "op undefined for integers");
  Buf y = output(out);
  if (out.size() == 0) return;
  int scalar = 0;  // 4: a from push constants, 5: b
  if (a.size() == 1 && b.size() == out.size() && host_scalar(a)) scalar = 4;
  else if (b.size() == 1 && a.size() == out.size() && host_scalar(b)) scalar = 5;
  Buf xa = scalar == 4 ? Buf() : input(a), xb = scalar == 5 ? Buf() : input(b);
  if (!xa) xa = xb;
  if (!xb) xb = xa;
  // looked up once per (dtype, variant, op): the key lookup costs more than the rest of a tiny
  // dispatch
  static_assert(static_cast<int>(Dtype::Val::float32) == 6, "one row per dtype");
  static VkPipeline pipes[7][2][static_cast<int>(BinaryOp::Count_)] = {};
  auto pipe_for = [&](bool strided) {
    VkPipeline& p = pipes[static_cast<int>(a.dtype().val())][strided][static_cast<int>(op_)];
    if (!p) {
      std::string name = std::string(is_comparison(op_) ? "binary_cmp_" : "binary_") +
                         (strided ? "strided_" : "") + dt(a.dtype());
      p = pipeline(name.c_str(), {kWorkgroup, static_cast<uint32_t>(op_)});
    }
    return p;
  };
  auto run = [&](uint64_t oa, uint64_t ob, uint64_t oy, BinaryPC pc) {
    pc.a = xa->address() + oa * a.itemsize();
    pc.b = xb->address() + ob * b.itemsize();
    pc.y = y->address() + oy * out.itemsize();
    bool strided = pc.mode == 3;
    Encoder::get().dispatch(pipe_for(strided), &pc,
                            strided ? sizeof(pc) : offsetof(BinaryPC, shape),
                            grid_1d(div_up(pc.n, kWorkgroup * 4)), {xa, xb}, {y});
  };
  BinaryPC pc{};
  pc.n = static_cast<uint32_t>(out.size());
  if (scalar) {
    pc.mode = static_cast<uint32_t>(scalar);
    const array& s = scalar == 4 ? a : b;
    std::memcpy(pc.sbits, s.data_shared()->host(), s.itemsize());
    return run(0, 0, 0, pc);
  }
  if (a.size() == out.size() && b.size() == out.size()) pc.mode = 0;
  else if (a.size() == 1 && b.size() == out.size()) pc.mode = 1;
  else if (b.size() == 1 && a.size() == out.size()) pc.mode = 2;
  else pc.mode = 3;
  if (pc.mode != 3) return run(0, 0, 0, pc);
  auto sa = broadcast_strides(a.shape(), out.shape());
  auto sb = broadcast_strides(b.shape(), out.shape());
  Shape sh = collapse(out.shape(), {&sa, &sb});
  // Dims beyond kMaxDims are looped over here, one dispatch per outer index.
  size_t outer = sh.size() > kMaxDims ? sh.size() - kMaxDims : 0;
  pc.ndim = static_cast<uint32_t>(sh.size() - outer);
  uint64_t inner = 1;
  for (size_t d = outer; d < sh.size(); ++d) {
    pc.shape[d - outer] = sh[d];
    pc.sa[d - outer] = static_cast<int32_t>(sa[d]);
    pc.sb[d - outer] = static_cast<int32_t>(sb[d]);
    inner *= sh[d];
  }
  pc.n = static_cast<uint32_t>(inner);
  uint64_t count = out.size() / inner;
  for (uint64_t k = 0; k < count; ++k) {
    uint64_t r = k, oa = 0, ob = 0;
    for (int d = static_cast<int>(outer) - 1; d >= 0; --d) {
      uint64_t c = r % sh[d];
      r /= sh[d];
      oa += c * sa[d];
      ob += c * sb[d];
    }
    run(oa, ob, k * inner, pc);
  }
}

}  // namespace kiln
