// Helpers shared by the CPU kernels: allocation, broadcast iteration, a tiny thread pool.
#pragma once
#include <array>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "../core/array.h"
#include "../core/primitives.h"

namespace kiln::cpu {

inline void alloc(array& out) { out.set_data(std::make_shared<Data>(out.nbytes())); }
// Shares the input's storage (reshape, stop_gradient, identity copies).
inline void share(const array& in, array& out) { out.set_data(in.data_shared()); }

template <typename T>
inline const T* cdata(const array& a) {
  return static_cast<const T*>(const_cast<array&>(a).raw_host_ptr());
}
template <typename T>
inline T* mdata(array& a) {
  return static_cast<T*>(a.raw_host_ptr());
}

// Element strides of `in` broadcast to `out` (0 on broadcast axes), right-aligned.
Strides broadcast_strides(const Shape& in, const Shape& out);

// Runs f(begin, end) over [0, n) on the pool when n is large enough to pay.
void parallel_for(size_t n, size_t min_per_thread, const std::function<void(size_t, size_t)>& f);

// dst[dst_off + c·dst_st] = src[src_off + c·src_st] over `shape` (element strides, itemsize
// bytes each): tiled and threaded for transposing copies (movement.cpp).
void copy_strided(const char* src, int64_t src_off, const Strides& src_st, char* dst,
                  int64_t dst_off, const Strides& dst_st, const Shape& shape, size_t itemsize);
int num_threads();

// Iterates an N-operand strided loop nest over `shape`: calls
// inner(offsets[N], count, inner_strides[N]) once per run of the last (collapsed) axis.
template <size_t N>
struct StridedLoop {
  Shape shape;
  std::array<Strides, N> strides;
  StridedLoop(const Shape& sh, std::array<Strides, N> st) {
    // collapse axes that are contiguous for every operand; drop size-1 axes
    for (size_t i = 0; i < sh.size(); ++i) {
      if (sh[i] == 1) continue;
      bool merge = !shape.empty();
      for (size_t k = 0; merge && k < N; ++k)
        merge = strides[k].back() == st[k][i] * sh[i];
      if (merge) {
        shape.back() *= sh[i];
        for (size_t k = 0; k < N; ++k) strides[k].back() = st[k][i];
      } else {
        shape.push_back(sh[i]);
        for (size_t k = 0; k < N; ++k) strides[k].push_back(st[k][i]);
      }
    }
    if (shape.empty()) {
      shape.push_back(1);
      for (size_t k = 0; k < N; ++k) strides[k].push_back(0);
    }
  }
  // Runs over output rows [row_begin, row_end) where a row is one run of the last axis.
  template <typename F>
  void run(size_t row_begin, size_t row_end, F&& inner) const {
    int nd = static_cast<int>(shape.size());
    int n = shape.back();
    std::array<int64_t, N> inner_st;
    for (size_t k = 0; k < N; ++k) inner_st[k] = strides[k].back();
    std::vector<int> idx(nd, 0);
    // unravel row_begin over the outer axes
    size_t r = row_begin;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = static_cast<int>(r % shape[d]);
      r /= shape[d];
    }
    std::array<int64_t, N> off{};
    for (size_t k = 0; k < N; ++k)
      for (int d = 0; d < nd - 1; ++d) off[k] += idx[d] * strides[k][d];
    for (size_t row = row_begin; row < row_end; ++row) {
      inner(off, n, inner_st);
      for (int d = nd - 2; d >= 0; --d) {
        if (++idx[d] < shape[d]) {
          for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
          break;
        }
        for (size_t k = 0; k < N; ++k) off[k] -= static_cast<int64_t>(shape[d] - 1) * strides[k][d];
        idx[d] = 0;
      }
    }
  }
  size_t rows() const {
    size_t r = 1;
    for (size_t d = 0; d + 1 < shape.size(); ++d) r *= shape[d];
    return r;
  }
};

}  // namespace kiln::cpu
