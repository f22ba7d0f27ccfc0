// eval_cpu of Gather, ScatterAdd, GatherAxis, ScatterAxis.
// Indices: negative values count from the end; values still out of range are clamped.
#include <cstring>

#include "../core/primitives.h"
#include "cpu_utils.h"

namespace kiln {

namespace {
std::vector<int64_t> read_indices(const array& idx, int dim) {
  std::vector<int64_t> out(idx.size());
  const void* p = const_cast<array&>(idx).raw_host_ptr();
  detail::convert(p, idx.dtype(), out.data(), int64, idx.size());
  for (auto& v : out) {
    if (v < 0) v += dim;
    v = v < 0 ? 0 : (v >= dim ? dim - 1 : v);
  }
  return out;
}

struct Pqa {
  size_t pre = 1, axis = 1, post = 1;
};
Pqa split_shape(const Shape& s, int axis) {
  Pqa r;
  for (int i = 0; i < axis; ++i) r.pre *= s[i];
  r.axis = s[axis];
  for (size_t i = axis + 1; i < s.size(); ++i) r.post *= s[i];
  return r;
}

template <typename F>
void by_size(size_t itemsize, F&& f) {
  switch (itemsize) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    default: f(uint64_t{}); break;
  }
}

template <typename T>
void add_into(T& dst, const T& v) {
  if constexpr (std::is_same_v<T, bool>) dst = dst || v;
  else if constexpr (std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>)
    dst = T(static_cast<float>(dst) + static_cast<float>(v));
  else dst = static_cast<T>(dst + v);
}
}  // namespace

void Gather::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &idx = inputs[1];
  array& out = outputs[0];
  cpu::alloc(out);
  if (out.size() == 0) return;
  auto sh = split_shape(a.shape(), axis_);
  auto ind = read_indices(idx, static_cast<int>(sh.axis));
  size_t n = ind.size();
  by_size(a.itemsize(), [&](auto tag) {
    using U = decltype(tag);
    const U* x = cpu::cdata<U>(a);
    U* y = cpu::mdata<U>(out);
    for (size_t p = 0; p < sh.pre; ++p)
      for (size_t j = 0; j < n; ++j)
        std::memcpy(y + (p * n + j) * sh.post, x + (p * sh.axis + ind[j]) * sh.post,
                    sh.post * sizeof(U));
  });
}

void ScatterAdd::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &idx = inputs[1], &upd = inputs[2];
  array& out = outputs[0];
  cpu::alloc(out);
  std::memcpy(out.raw_host_ptr(), const_cast<array&>(a).raw_host_ptr(), out.nbytes());
  if (upd.size() == 0) return;
  auto sh = split_shape(a.shape(), axis_);
  auto ind = read_indices(idx, static_cast<int>(sh.axis));
  size_t n = ind.size();
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* u = cpu::cdata<T>(upd);
    T* y = cpu::mdata<T>(out);
    for (size_t p = 0; p < sh.pre; ++p)
      for (size_t j = 0; j < n; ++j) {
        T* dst = y + (p * sh.axis + ind[j]) * sh.post;
        const T* src = u + (p * n + j) * sh.post;
        for (size_t q = 0; q < sh.post; ++q) add_into(dst[q], src[q]);
      }
  });
}

void GatherAxis::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &idx = inputs[1];
  array& out = outputs[0];
  cpu::alloc(out);
  if (out.size() == 0) return;
  auto sa = split_shape(a.shape(), axis_);
  auto si = split_shape(idx.shape(), axis_);
  auto ind = read_indices(idx, static_cast<int>(sa.axis));
  by_size(a.itemsize(), [&](auto tag) {
    using U = decltype(tag);
    const U* x = cpu::cdata<U>(a);
    U* y = cpu::mdata<U>(out);
    for (size_t p = 0; p < si.pre; ++p)
      for (size_t j = 0; j < si.axis; ++j)
        for (size_t q = 0; q < si.post; ++q) {
          size_t o = (p * si.axis + j) * si.post + q;
          y[o] = x[(p * sa.axis + ind[o]) * sa.post + q];
        }
  });
}

void ScatterAxis::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &idx = inputs[1], &val = inputs[2];
  array& out = outputs[0];
  cpu::alloc(out);
  std::memcpy(out.raw_host_ptr(), const_cast<array&>(a).raw_host_ptr(), out.nbytes());
  if (idx.size() == 0) return;
  auto sa = split_shape(a.shape(), axis_);
  auto si = split_shape(idx.shape(), axis_);
  auto ind = read_indices(idx, static_cast<int>(sa.axis));
  bool add = add_;
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* v = cpu::cdata<T>(val);
    T* y = cpu::mdata<T>(out);
    for (size_t p = 0; p < si.pre; ++p)
      for (size_t j = 0; j < si.axis; ++j)
        for (size_t q = 0; q < si.post; ++q) {
          size_t o = (p * si.axis + j) * si.post + q;
          T& dst = y[(p * sa.axis + ind[o]) * sa.post + q];
          if (add) add_into(dst, v[o]);
          else dst = v[o];
        }
  });
}

}  // namespace kiln
