// eval_gpu of the movement primitives (shaders/copy.comp, vkCmdCopyBuffer for contiguous
// runs) and Arange (shaders/arange.comp). Reshape/Flatten/StopGradient share storage.
#include <algorithm>

#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
constexpr int kMaxDims = 8;
struct CopyPC {
  uint64_t src, dst;
  uint32_t n, ndim;
  int32_t src_off, dst_off;
  uint32_t shape[kMaxDims];
  int32_t ss[kMaxDims], ds[kMaxDims];
};
static_assert(sizeof(CopyPC) == 128, "mirrors copy.comp");

struct ArangePC {
  uint64_t y;
  uint32_t n, pad;
  double start, step;
};
}  // namespace

namespace gpu {
std::vector<int64_t> row_major(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

bool strided_copy(const Buf& src, int64_t src_off, std::vector<int64_t> ss, const Buf& dst,
                  int64_t dst_off, std::vector<int64_t> ds, const Shape& shape, Dtype dtype) {
  size_t n = 1;
  for (int d : shape) n *= d;
  if (n == 0) return true;
  Shape sh = collapse(shape, {&ss, &ds});
  size_t isz = dtype.size();
  if (sh.empty() || (sh.size() == 1 && ss[0] == 1 && ds[0] == 1)) {
    Encoder::get().copy(src, src_off * isz, dst, dst_off * isz, n * isz);
    return true;
  }
  if (sh.size() > kMaxDims || n >= (1ull << 31) || src_off >= (1ll << 31) || dst_off >= (1ll << 31))
    return false;
  CopyPC pc{};
  pc.src = src->address();
  pc.dst = dst->address();
  pc.n = static_cast<uint32_t>(n);
  pc.ndim = static_cast<uint32_t>(sh.size());
  pc.src_off = static_cast<int32_t>(src_off);
  pc.dst_off = static_cast<int32_t>(dst_off);
  auto rm = row_major(sh);
  uint32_t mode = ds == rm ? 0 : 1;
  for (size_t d = 0; d < sh.size(); ++d) {
    pc.shape[d] = sh[d];
    pc.ss[d] = static_cast<int32_t>(ss[d]);
    pc.ds[d] = static_cast<int32_t>(ds[d]);
  }
  std::string name = std::string("copy_") + xt(dtype);
  dispatch(name.c_str(), {kWorkgroup, mode}, pc, grid_1d((n + kWorkgroup * 4 - 1) / (kWorkgroup * 4)),
           {src}, {dst});
  return true;
}

bool ori_view(const array& in, const std::vector<int>& axes, ORI& v) {
  const Shape& s = in.shape();
  bool block = true;
  for (size_t i = 1; i < axes.size(); ++i) block = block && axes[i] == axes[i - 1] + 1;
  v = ORI{};
  if (block) {
    for (int i = 0; i < axes.front(); ++i) v.O *= s[i];
    for (int a : axes) v.R *= s[a];
    for (size_t i = axes.back() + 1; i < s.size(); ++i) v.I *= s[i];
    v.data = input(in);
    return true;
  }
  std::vector<int> perm;
  for (int i = 0; i < static_cast<int>(s.size()); ++i)
    if (!std::binary_search(axes.begin(), axes.end(), i)) perm.push_back(i);
  for (int a : axes) perm.push_back(a);
  auto ist = row_major(s);
  std::vector<int64_t> pst;
  Shape psh;
  for (int p : perm) {
    pst.push_back(ist[p]);
    psh.push_back(s[p]);
  }
  Buf t = temp(in.nbytes());
  if (!strided_copy(input(in), 0, pst, t, 0, row_major(psh), psh, in.dtype())) return false;
  for (int a : axes) v.R *= s[a];
  for (size_t i = 0; i + axes.size() < perm.size(); ++i) v.O *= s[perm[i]];
  v.data = t;
  return true;
}
}  // namespace gpu

void StopGradient::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  share(inputs[0], outputs[0]);
}
void Reshape::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  share(inputs[0], outputs[0]);
}
void Flatten::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  share(inputs[0], outputs[0]);
}

void Arange::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  if (!dtype_supported(out.dtype()) || !Context::require().caps.float64)
    return fallback(*this, inputs, outputs, "needs float64 shaders");
  Buf y = output(out);
  if (out.size() == 0) return;
  ArangePC pc{y->address(), static_cast<uint32_t>(out.size()), 0, start_, step_};
  std::string name = std::string("arange_") + dt(out.dtype());
  dispatch(name.c_str(), {kWorkgroup}, pc, grid_1d((out.size() + kWorkgroup - 1) / kWorkgroup),
           {}, {y});
}

void Broadcast::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (!all_supported({in})) return fallback(*this, inputs, outputs, "dtype not supported");
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf x = input(in);
  if (!strided_copy(x, 0, broadcast_strides(in.shape(), out.shape()), y, 0, row_major(out.shape()),
                    out.shape(), out.dtype()))
    return fallback(*this, inputs, outputs, "shape not expressible");
}

void Transpose::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (!all_supported({in})) return fallback(*this, inputs, outputs, "dtype not supported");
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf x = input(in);
  auto ist = row_major(in.shape());
  std::vector<int64_t> st(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) st[i] = ist[axes_[i]];
  if (!strided_copy(x, 0, st, y, 0, row_major(out.shape()), out.shape(), out.dtype()))
    return fallback(*this, inputs, outputs, "shape not expressible");
}

void Slice::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (!all_supported({in})) return fallback(*this, inputs, outputs, "dtype not supported");
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf x = input(in);
  auto ist = row_major(in.shape());
  std::vector<int64_t> st(ist.size());
  int64_t off = 0;
  for (size_t i = 0; i < ist.size(); ++i) {
    st[i] = ist[i] * strides_[i];
    off += static_cast<int64_t>(start_[i]) * ist[i];
  }
  if (!strided_copy(x, off, st, y, 0, row_major(out.shape()), out.shape(), out.dtype()))
    return fallback(*this, inputs, outputs, "shape not expressible");
}

void SliceUpdate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &src = inputs[0], &upd = inputs[1];
  array& out = outputs[0];
  if (!all_supported({src})) return fallback(*this, inputs, outputs, "dtype not supported");
  auto ost = row_major(out.shape());
  std::vector<int64_t> st(ost.size());
  int64_t off = 0;
  for (size_t i = 0; i < ost.size(); ++i) {
    st[i] = ost[i] * strides_[i];
    off += static_cast<int64_t>(start_[i]) * ost[i];
  }
  if (upd.ndim() > kMaxDims || out.size() >= (1ull << 31))
    return fallback(*this, inputs, outputs, "shape not expressible");
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf s = input(src);
  Encoder::get().copy(s, 0, y, 0, out.nbytes());
  if (upd.size() == 0) return;
  Buf u = input(upd);
  strided_copy(u, 0, row_major(upd.shape()), y, off, st, upd.shape(), out.dtype());
}

void Concatenate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  if (!all_supported({out})) return fallback(*this, inputs, outputs, "dtype not supported");
  if (out.ndim() > kMaxDims || out.size() >= (1ull << 31))
    return fallback(*this, inputs, outputs, "shape not expressible");
  Buf y = output(out);
  if (out.size() == 0) return;
  auto ost = row_major(out.shape());
  int64_t off = 0;
  for (auto& in : inputs) {
    if (in.size() > 0) {
      Buf x = input(in);
      strided_copy(x, 0, row_major(in.shape()), y, off, ost, in.shape(), out.dtype());
    }
    off += static_cast<int64_t>(in.shape()[axis_]) * ost[axis_];
  }
}

}  // namespace kiln
