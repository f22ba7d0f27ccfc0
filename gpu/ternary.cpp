// eval_gpu of Select (shaders/select.comp).
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
constexpr int kMaxDims = 5;
struct SelectPC {
  uint64_t c, a, b, y;
  uint32_t n, ndim, mode;
  uint32_t shape[kMaxDims];
  int32_t sc[kMaxDims], sa[kMaxDims], sb[kMaxDims];
};
static_assert(sizeof(SelectPC) == 128, "mirrors select.comp");
}  // namespace

void Select::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &c = inputs[0], &a = inputs[1], &b = inputs[2];
  array& out = outputs[0];
  if (!all_supported({c, a, b})) return fallback(*this, inputs, outputs, "dtype not supported");
  if (out.size() >= (1ull << 31)) return fallback(*this, inputs, outputs, "array too large");
  SelectPC pc{};
  pc.n = static_cast<uint32_t>(out.size());
  pc.mode = 0;
  if (c.size() != out.size() || a.size() != out.size() || b.size() != out.size()) {
    pc.mode = 1;
    auto sc = broadcast_strides(c.shape(), out.shape());
    auto sa = broadcast_strides(a.shape(), out.shape());
    auto sb = broadcast_strides(b.shape(), out.shape());
    Shape sh = collapse(out.shape(), {&sc, &sa, &sb});
    if (sh.size() > kMaxDims) return fallback(*this, inputs, outputs, "more than 5 strided dims");
    pc.ndim = static_cast<uint32_t>(sh.size());
    for (size_t d = 0; d < sh.size(); ++d) {
      pc.shape[d] = sh[d];
      pc.sc[d] = static_cast<int32_t>(sc[d]);
      pc.sa[d] = static_cast<int32_t>(sa[d]);
      pc.sb[d] = static_cast<int32_t>(sb[d]);
    }
  }
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf bc = input(c), ba = input(a), bb = input(b);
  pc.c = bc->address();
  pc.a = ba->address();
  pc.b = bb->address();
  pc.y = y->address();
  std::string name = std::string("select_") + xt(out.dtype());
  dispatch(name.c_str(), {kWorkgroup}, pc,
           grid_1d((out.size() + kWorkgroup * 4 - 1) / (kWorkgroup * 4)), {bc, ba, bb}, {y});
}

}  // namespace kiln
