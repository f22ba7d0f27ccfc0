// eval_gpu of Sort/ArgSort (shaders/sort.comp): the axis is made last (device transpose),
// rows are sorted by a bitonic network of log2(N)(log2(N)+1)/2 passes, then transposed back.
#include "kernels.h"

namespace kiln {

using namespace gpu;

namespace {
struct SortPC {
  uint64_t x, y, yi, keys, idx;
  uint32_t rows, R, N, k, j;
};
}  // namespace

void Sort::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (!all_supported({in})) return fallback(*this, inputs, outputs, "dtype not supported");
  if (in.size() >= (1ull << 30) || in.ndim() > 8)
    return fallback(*this, inputs, outputs, "array too large");
  Buf y = output(out);
  if (out.size() == 0) return;
  int nd = in.ndim();
  uint64_t R = in.shape(axis_);
  uint64_t rows = in.size() / R;
  uint64_t N = 1;
  while (N < R) N *= 2;
  // move the axis last
  Buf x = input(in);
  Shape tsh = in.shape();
  std::vector<int64_t> ist = row_major(in.shape()), tst;
  std::vector<int> perm;
  for (int d = 0; d < nd; ++d)
    if (d != axis_) perm.push_back(d);
  perm.push_back(axis_);
  Shape psh;
  for (int p : perm) {
    psh.push_back(tsh[p]);
    tst.push_back(ist[p]);
  }
  bool last = axis_ == nd - 1;
  Buf xs = x;
  if (!last) {
    xs = temp(in.nbytes());
    strided_copy(x, 0, tst, xs, 0, row_major(psh), psh, in.dtype());
  }
  size_t ksz = in.dtype() == int64 ? 8 : 4;
  Buf keys = temp(rows * N * ksz), idx = temp(rows * N * 4);
  Buf ys = last ? y : temp(out.nbytes());
  SortPC pc{xs->address(), ys->address(), ys->address(), keys->address(), idx->address(),
            static_cast<uint32_t>(rows), static_cast<uint32_t>(R), static_cast<uint32_t>(N), 0, 0};
  std::string name = std::string("sort_") + dt(in.dtype());
  uint32_t arg = arg_ ? 1 : 0;
  dispatch(name.c_str(), {kWorkgroup, 0u, arg}, pc, grid_1d(div_up(rows * N, kWorkgroup)), {xs},
           {keys, idx});
  VkPipeline pass = pipeline(name.c_str(), {kWorkgroup, 1u, arg});
  for (uint64_t k = 2; k <= N; k *= 2)
    for (uint64_t j = k / 2; j > 0; j /= 2) {
      pc.k = static_cast<uint32_t>(k);
      pc.j = static_cast<uint32_t>(j);
      Encoder::get().dispatch(pass, &pc, sizeof(pc), grid_1d(div_up(rows * N / 2, kWorkgroup)),
                              {keys, idx}, {keys, idx});
    }
  dispatch(name.c_str(), {kWorkgroup, 2u, arg}, pc, grid_1d(div_up(rows * R, kWorkgroup)),
           {xs, idx}, {ys});
  if (!last) {
    // back: ys has shape psh; out element at (perm order) → inverse transpose
    std::vector<int64_t> pst = row_major(psh), back(nd);
    for (int d = 0; d < nd; ++d) back[perm[d]] = pst[d];
    strided_copy(ys, 0, back, y, 0, row_major(out.shape()), out.shape(), out.dtype());
  }
}

}  // namespace kiln
