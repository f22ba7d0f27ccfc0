// eval_gpu of Gather, ScatterAdd, GatherAxis, ScatterAxis (shaders/gather.comp,
// shaders/scatter.comp).
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
struct GatherPC {
  uint64_t a, idx, y;
  uint32_t total, A, n, post;
};
struct ScatterPC {
  uint64_t y, idx, upd;
  uint32_t pre, A, n, post, add;
};

struct Pqa {
  uint64_t pre = 1, axis = 1, post = 1;
};
Pqa split(const Shape& s, int axis) {
  Pqa r;
  for (int i = 0; i < axis; ++i) r.pre *= s[i];
  r.axis = s[axis];
  for (size_t i = axis + 1; i < s.size(); ++i) r.post *= s[i];
  return r;
}
bool index_ok(const array& idx) {
  return idx.dtype() == int32 || idx.dtype() == uint32 ||
         (idx.dtype() == int64 && dtype_supported(int64));
}

void gather(const array& a, const array& idx, array& out, int axis, bool along) {
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf ba = input(a), bi = input(idx);
  Pqa sa = split(a.shape(), axis);
  uint64_t post = sa.post;
  uint64_t n = out.size() / (sa.pre * post);
  GatherPC pc{ba->address(), bi->address(), y->address(), static_cast<uint32_t>(out.size()),
              static_cast<uint32_t>(sa.axis), static_cast<uint32_t>(n), static_cast<uint32_t>(post)};
  std::string name = std::string(along ? "gather_axis_" : "gather_") + xt(a.dtype()) + "_" +
                     dt(idx.dtype());
  dispatch(name.c_str(), {kWorkgroup}, pc, grid_1d(div_up(out.size(), kWorkgroup)), {ba, bi}, {y});
}

void scatter(const array& a, const array& idx, const array& upd, array& out, int axis, bool along,
             bool add) {
  Buf y = output(out);
  if (out.size() == 0) return;
  Buf ba = input(a);
  Encoder::get().copy(ba, 0, y, 0, out.nbytes());
  if (upd.size() == 0 || idx.size() == 0) return;
  Buf bi = input(idx), bu = input(upd);
  Pqa sa = split(a.shape(), axis);
  uint64_t n = upd.size() / (sa.pre * sa.post);
  ScatterPC pc{y->address(), bi->address(), bu->address(), static_cast<uint32_t>(sa.pre),
               static_cast<uint32_t>(sa.axis), static_cast<uint32_t>(n),
               static_cast<uint32_t>(sa.post), add ? 1u : 0u};
  std::string name = std::string(along ? "scatter_axis_" : "scatter_") + dt(a.dtype()) + "_" +
                     dt(idx.dtype());
  dispatch(name.c_str(), {kWorkgroup}, pc, grid_1d(div_up(sa.pre * sa.post, kWorkgroup)),
           {bi, bu, y}, {y});
}
}  // namespace

void Gather::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (!all_supported({inputs[0]}) || !index_ok(inputs[1]) || outputs[0].size() >= (1ull << 32) ||
      inputs[0].size() >= (1ull << 32))
    return fallback(*this, inputs, outputs, "dtype or size not supported");
  gather(inputs[0], inputs[1], outputs[0], axis_, false);
}

void GatherAxis::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (!all_supported({inputs[0]}) || !index_ok(inputs[1]) || outputs[0].size() >= (1ull << 32) ||
      inputs[0].size() >= (1ull << 32) || inputs[1].shape() != outputs[0].shape())
    return fallback(*this, inputs, outputs, "dtype or size not supported");
  gather(inputs[0], inputs[1], outputs[0], axis_, true);
}

void ScatterAdd::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (!all_supported({inputs[0]}) || !index_ok(inputs[1]) || inputs[0].size() >= (1ull << 32) ||
      inputs[2].size() >= (1ull << 32))
    return fallback(*this, inputs, outputs, "dtype or size not supported");
  scatter(inputs[0], inputs[1], inputs[2], outputs[0], axis_, false, true);
}

void ScatterAxis::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &idx = inputs[1];
  bool shape_ok = idx.ndim() == a.ndim() && idx.shape() == inputs[2].shape();
  for (int d = 0; shape_ok && d < a.ndim(); ++d) shape_ok = d == axis_ || idx.shape(d) == a.shape(d);
  if (!all_supported({a}) || !index_ok(idx) || a.size() >= (1ull << 32) ||
      idx.size() >= (1ull << 32) || !shape_ok)
    return fallback(*this, inputs, outputs, "dtype or shape not supported");
  scatter(a, idx, inputs[2], outputs[0], axis_, true, add_);
}

}  // namespace kiln
