// eval_cpu of Reduce, ArgReduce, Scan, Sort.
#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <limits>
#include <numeric>
#include <utility>

#include "../core/primitives.h"
#include "cpu_utils.h"

namespace kiln {

namespace {

template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>,
                                 float, T>;

// Input viewed as (O, R, I); out[o, i] = reduce_r in[o, r, i].
struct ORI {
  size_t O = 1, R = 1, I = 1;
};

// Returns the (O,R,I) view, transposing the input into `tmp` when the reduced axes are not
// one contiguous block.
ORI prepare(const array& in, const std::vector<int>& axes, std::vector<char>& tmp,
            const char*& data) {
  const Shape& s = in.shape();
  data = static_cast<const char*>(const_cast<array&>(in).raw_host_ptr());
  ORI r;
  bool block = true;
  for (size_t i = 1; i < axes.size(); ++i) block = block && axes[i] == axes[i - 1] + 1;
  if (block) {
    for (int i = 0; i < axes.front(); ++i) r.O *= s[i];
    for (int a : axes) r.R *= s[a];
    for (size_t i = axes.back() + 1; i < s.size(); ++i) r.I *= s[i];
    return r;
  }
  std::vector<int> perm;
  for (int i = 0; i < static_cast<int>(s.size()); ++i)
    if (!std::binary_search(axes.begin(), axes.end(), i)) perm.push_back(i);
  for (int a : axes) perm.push_back(a);
  Strides ist = in.strides(), pst;
  Shape psh;
  for (int p : perm) {
    pst.push_back(ist[p]);
    psh.push_back(s[p]);
  }
  tmp.resize(in.nbytes());
  Strides dst(psh.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(psh.size()) - 1; i >= 0; --i) {
    dst[i] = acc;
    acc *= psh[i];
  }
  cpu::copy_strided(data, 0, pst, tmp.data(), 0, dst, psh, in.itemsize());
  data = tmp.data();
  for (int a : axes) r.R *= s[a];
  for (int p : perm)
    if (!std::binary_search(axes.begin(), axes.end(), p)) r.O *= s[p];
  return r;
}

template <typename A>
struct SumOp {
  static A init() { return A(0); }
  static A apply(A a, A b) { return a + b; }
};
template <typename A>
struct ProdOp {
  static A init() { return A(1); }
  static A apply(A a, A b) { return a * b; }
};
template <typename A>
struct MaxOp {
  static A init() {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  }
  static A apply(A a, A b) {
    // NaN propagates; `|` (not `||`) keeps it a select the vectorizer can use
    if constexpr (std::is_floating_point_v<A>) return ((b > a) | (b != b)) ? b : a;
    else return b > a ? b : a;
  }
};
template <typename A>
struct MinOp {
  static A init() {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
  static A apply(A a, A b) {
    if constexpr (std::is_floating_point_v<A>) return ((b < a) | (b != b)) ? b : a;
    else return b < a ? b : a;
  }
};

// Float sums accumulate 32 lanes per block of 4096 (independent vector chains), blocks in
// double: fast and accurate. Other reductions fold in their accumulator type.
template <typename T, typename Op>
constexpr bool kDoubleSum = std::is_same_v<Op, SumOp<acc_t<T>>> && std::is_same_v<acc_t<T>, float>;

template <typename T>
constexpr bool kHalf = std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>;

#if defined(__AVX2__)
// float32 max/min of a run: vmaxps/vminps on 4 accumulators plus an unordered-compare mask,
// so a NaN anywhere gives NaN (GCC does not vectorize the NaN-propagating select itself).
template <bool kMax>
float minmax_f32(const float* p, size_t n) {
  const float init = kMax ? -INFINITY : INFINITY;
  __m256 m[4];
  for (auto& v : m) v = _mm256_set1_ps(init);
  __m256 nan = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 v[4];
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(p + i + 8 * k);
      m[k] = kMax ? _mm256_max_ps(m[k], v[k]) : _mm256_min_ps(m[k], v[k]);
    }
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v[0], v[1], _CMP_UNORD_Q));
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v[2], v[3], _CMP_UNORD_Q));
  }
  alignas(32) float lanes[8];
  __m256 a = kMax ? _mm256_max_ps(_mm256_max_ps(m[0], m[1]), _mm256_max_ps(m[2], m[3]))
                  : _mm256_min_ps(_mm256_min_ps(m[0], m[1]), _mm256_min_ps(m[2], m[3]));
  _mm256_store_ps(lanes, a);
  bool any_nan = _mm256_movemask_ps(nan) != 0;
  float acc = init;
  for (float l : lanes) acc = kMax ? (l > acc ? l : acc) : (l < acc ? l : acc);
  for (; i < n; ++i) {
    any_nan = any_nan || p[i] != p[i];
    acc = kMax ? (p[i] > acc ? p[i] : acc) : (p[i] < acc ? p[i] : acc);
  }
  return any_nan ? NAN : acc;
}
#endif

template <typename T, typename Op>
auto reduce_range(const T* p, size_t n) {
  using A = acc_t<T>;
  if constexpr (kHalf<T>) {
    // convert blocks to float32 in bulk and reduce those (same arithmetic, no per-element
    // conversion calls)
    float buf[4096];
    using Part = decltype(reduce_range<float, Op>(buf, 0));
    Part acc = reduce_range<float, Op>(buf, 0);
    for (size_t b = 0; b < n; b += 4096) {
      size_t m = std::min<size_t>(4096, n - b);
      detail::convert(p + b, dtype_of_v<T>, buf, float32, m);
      Part part = reduce_range<float, Op>(buf, m);
      if constexpr (kDoubleSum<T, Op>) acc += part;
      else acc = Op::apply(acc, part);
    }
    return acc;
#if defined(__AVX2__)
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<Op, MaxOp<float>>) {
    return minmax_f32<true>(p, n);
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<Op, MinOp<float>>) {
    return minmax_f32<false>(p, n);
#endif
  } else if constexpr (kDoubleSum<T, Op>) {
    double total = 0;
    for (size_t b = 0; b < n; b += 4096) {
      size_t e = std::min(n, b + 4096);
      float lanes[32] = {};
      size_t i = b;
      for (; i + 32 <= e; i += 32)
        for (int l = 0; l < 32; ++l) lanes[l] += static_cast<float>(p[i + l]);
      float part = 0;
      for (; i < e; ++i) part += static_cast<float>(p[i]);
      for (int l = 0; l < 32; ++l) part += lanes[l];
      total += part;
    }
    return total;
  } else {
    // 16 independent lanes: elementwise selects over the lanes vectorize, a single chain
    // does not
    A lanes[16];
    for (auto& l : lanes) l = Op::init();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; ++l) lanes[l] = Op::apply(lanes[l], static_cast<A>(p[i + l]));
    A acc = Op::init();
    for (; i < n; ++i) acc = Op::apply(acc, static_cast<A>(p[i]));
    for (int l = 0; l < 16; ++l) acc = Op::apply(acc, lanes[l]);
    return acc;
  }
}

// acc[i] = op(acc[i], p[i]) for i < m (halves converted in bulk first).
template <typename T, typename Op>
void fold_row(acc_t<T>* acc, const T* p, size_t m) {
  if constexpr (kHalf<T>) {
    float buf[1024];
    for (size_t b = 0; b < m; b += 1024) {
      size_t k = std::min<size_t>(1024, m - b);
      detail::convert(p + b, dtype_of_v<T>, buf, float32, k);
      for (size_t i = 0; i < k; ++i) acc[b + i] = Op::apply(acc[b + i], buf[i]);
    }
  } else {
    for (size_t i = 0; i < m; ++i) acc[i] = Op::apply(acc[i], static_cast<acc_t<T>>(p[i]));
  }
}

template <typename T, typename Op>
void reduce_typed(const T* x, T* y, ORI r) {
  using A = acc_t<T>;
  constexpr size_t kGrain = 1 << 15;
  if (r.I == 1) {
    size_t nt = cpu::num_threads();
    if (nt > 1 && r.O < nt && r.R >= 2 * kGrain) {
      // few long rows: split each row into parts reduced in parallel, then combined in
      // order (the parts do not depend on the thread count, so neither does the result)
      for (size_t o = 0; o < r.O; ++o) {
        const T* p = x + o * r.R;
        size_t chunks = std::min<size_t>(16, r.R / kGrain);
        size_t per = (r.R + chunks - 1) / chunks;
        using Part = decltype(reduce_range<T, Op>(p, 0));
        std::vector<Part> parts(chunks);
        cpu::parallel_for(chunks, 1, [&](size_t c0, size_t c1) {
          for (size_t c = c0; c < c1; ++c) {
            size_t b = c * per, e = std::min(r.R, b + per);
            parts[c] = reduce_range<T, Op>(p + b, e - b);
          }
        });
        Part acc = parts[0];
        for (size_t c = 1; c < chunks; ++c) {
          if constexpr (kDoubleSum<T, Op>) acc += parts[c];
          else acc = Op::apply(acc, parts[c]);
        }
        y[o] = static_cast<T>(static_cast<A>(acc));
      }
      return;
    }
    cpu::parallel_for(r.O, std::max<size_t>(1, kGrain / std::max<size_t>(r.R, 1)),
                      [&](size_t o0, size_t o1) {
      for (size_t o = o0; o < o1; ++o)
        y[o] = static_cast<T>(static_cast<A>(reduce_range<T, Op>(x + o * r.R, r.R)));
    });
    return;
  }
  // (O, R, I) with I > 1: accumulate rows, vectorized over I
  size_t nt = cpu::num_threads();
  if (nt > 1 && r.O < nt && r.R >= 4 && r.R * r.I >= 4 * kGrain && r.I <= (size_t(1) << 18)) {
    // few outputs blocks: split the rows into parts that each stream contiguous memory
    // into their own accumulators (splitting columns would read short strided runs),
    // then combine the parts in order; the part count does not depend on the thread count
    size_t parts = std::min<size_t>({16, r.R, r.R * r.I / kGrain});
    size_t per = (r.R + parts - 1) / parts;
    std::vector<A> partial(parts * r.I);
    for (size_t o = 0; o < r.O; ++o) {
      const T* xo = x + o * r.R * r.I;
      cpu::parallel_for(parts, 1, [&](size_t c0, size_t c1) {
        for (size_t c = c0; c < c1; ++c) {
          A* acc = partial.data() + c * r.I;
          std::fill(acc, acc + r.I, Op::init());
          for (size_t rr = c * per; rr < std::min(r.R, (c + 1) * per); ++rr)
            fold_row<T, Op>(acc, xo + rr * r.I, r.I);
        }
      });
      for (size_t i = 0; i < r.I; ++i) {
        A acc = partial[i];
        for (size_t c = 1; c < parts; ++c) acc = Op::apply(acc, partial[c * r.I + i]);
        y[o * r.I + i] = static_cast<T>(acc);
      }
    }
    return;
  }
  cpu::parallel_for(r.O * r.I, std::max<size_t>(1, kGrain / std::max<size_t>(r.R, 1)),
                    [&](size_t b, size_t e) {
    // work split on flattened (o, i); handle row segments
    std::vector<A> acc;
    size_t k = b;
    while (k < e) {
      size_t o = k / r.I, i0 = k % r.I;
      size_t i1 = std::min(r.I, i0 + (e - k));
      acc.assign(i1 - i0, Op::init());
      for (size_t rr = 0; rr < r.R; ++rr)
        fold_row<T, Op>(acc.data(), x + (o * r.R + rr) * r.I + i0, i1 - i0);
      for (size_t i = i0; i < i1; ++i) y[o * r.I + i] = static_cast<T>(acc[i - i0]);
      k += i1 - i0;
    }
  });
}

}  // namespace

void Reduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  if (out.size() == 0) return;
  std::vector<char> tmp;
  const char* data;
  ORI r = prepare(in, axes_, tmp, data);
  ReduceOp op = op_;
  dispatch_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    const T* x = reinterpret_cast<const T*>(data);
    T* y = cpu::mdata<T>(out);
    if constexpr (std::is_same_v<T, bool>) {
      bool is_and = op == ReduceOp::And || op == ReduceOp::Min || op == ReduceOp::Prod;
      for (size_t o = 0; o < r.O; ++o)
        for (size_t i = 0; i < r.I; ++i) {
          bool acc = is_and;
          for (size_t k = 0; k < r.R; ++k) {
            bool v = x[(o * r.R + k) * r.I + i];
            acc = is_and ? (acc && v) : (acc || v);
          }
          y[o * r.I + i] = acc;
        }
    } else {
      switch (op) {
        case ReduceOp::Sum: reduce_typed<T, SumOp<A>>(x, y, r); break;
        case ReduceOp::Prod: reduce_typed<T, ProdOp<A>>(x, y, r); break;
        case ReduceOp::Max: reduce_typed<T, MaxOp<A>>(x, y, r); break;
        case ReduceOp::Min: reduce_typed<T, MinOp<A>>(x, y, r); break;
        default: throw std::logic_error("[Reduce] And/Or expect bool input");
      }
    }
  });
}

namespace {
template <typename A>
inline bool arg_better(A v, A best, bool is_max) {
  bool better = is_max ? v > best : v < best;
  if constexpr (std::is_floating_point_v<A>) better = better || (v != v && best == best);
  return better;
}

// Index of the first max/min (first NaN if any) along R of the (O, R, I) view.
template <typename T, typename A>
void argreduce_typed(const T* x, uint32_t* y, ORI r, bool is_max) {
  constexpr size_t kGrain = 1 << 15;
  if (r.I == 1) {
    cpu::parallel_for(r.O, std::max<size_t>(1, kGrain / std::max<size_t>(r.R, 1)),
                      [&](size_t o0, size_t o1) {
      for (size_t o = o0; o < o1; ++o) {
        const T* p = x + o * r.R;
        uint32_t bi = 0;
        if constexpr (!std::is_same_v<T, bool>) {
          // the extreme value by the vectorized reduction, then its first position
          A m = is_max ? static_cast<A>(reduce_range<T, MaxOp<A>>(p, r.R))
                       : static_cast<A>(reduce_range<T, MinOp<A>>(p, r.R));
          size_t k = 0;
          if (m != m) {
            while (k < r.R && static_cast<A>(p[k]) == static_cast<A>(p[k])) ++k;
          } else {
            while (k < r.R && !(static_cast<A>(p[k]) == m)) ++k;
          }
          bi = static_cast<uint32_t>(k < r.R ? k : 0);
        } else {
          A best = static_cast<A>(p[0]);
          for (size_t k = 1; k < r.R; ++k) {
            A v = static_cast<A>(p[k]);
            if (arg_better(v, best, is_max)) {
              best = v;
              bi = static_cast<uint32_t>(k);
            }
          }
        }
        y[o] = bi;
      }
    });
    return;
  }
  // I > 1: running rows of best values and indices over contiguous column runs
  size_t grain = std::max<size_t>(std::min<size_t>(r.I, 1024), kGrain / std::max<size_t>(r.R, 1));
  cpu::parallel_for(r.O * r.I, grain, [&](size_t b, size_t e) {
    std::vector<A> best;
    std::vector<uint32_t> idx;
    size_t q = b;
    while (q < e) {
      size_t o = q / r.I, i0 = q % r.I;
      size_t i1 = std::min(r.I, i0 + (e - q)), n = i1 - i0;
      const T* base = x + o * r.R * r.I + i0;
      best.resize(n);
      idx.assign(n, 0);
      for (size_t i = 0; i < n; ++i) best[i] = static_cast<A>(base[i]);
      for (size_t k = 1; k < r.R; ++k) {
        const T* p = base + k * r.I;
        for (size_t i = 0; i < n; ++i) {
          A v = static_cast<A>(p[i]);
          bool better = arg_better(v, best[i], is_max);
          best[i] = better ? v : best[i];
          idx[i] = better ? static_cast<uint32_t>(k) : idx[i];
        }
      }
      std::copy(idx.begin(), idx.end(), y + o * r.I + i0);
      q += n;
    }
  });
}
}  // namespace

void ArgReduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  if (out.size() == 0) return;
  std::vector<char> tmp;
  const char* data;
  ORI r = prepare(in, {axis_}, tmp, data);
  bool is_max = op_ == ArgReduceOp::ArgMax;
  uint32_t* y = cpu::mdata<uint32_t>(out);
  dispatch_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using A = std::conditional_t<std::is_same_v<T, bool>, int, acc_t<T>>;
    argreduce_typed<T, A>(reinterpret_cast<const T*>(data), y, r, is_max);
  });
}

namespace {
// Scans along R of the (O, R, I) view. I == 1: rows in parallel; I > 1: a running row of
// accumulators over contiguous runs of at least 1024 columns (column-at-a-time would read
// one element per cache line).
template <typename T, typename A, typename Op>
void scan_typed(const T* x, T* y, ORI r, bool rev, bool incl) {
  constexpr size_t kGrain = 1 << 15;
  if (r.I == 1) {
    cpu::parallel_for(r.O, std::max<size_t>(1, kGrain / std::max<size_t>(r.R, 1)),
                      [&](size_t o0, size_t o1) {
      for (size_t o = o0; o < o1; ++o) {
        A acc = Op::init();
        for (size_t kk = 0; kk < r.R; ++kk) {
          size_t at = o * r.R + (rev ? r.R - 1 - kk : kk);
          A v = static_cast<A>(x[at]);
          if (incl) {
            acc = Op::apply(acc, v);
            y[at] = static_cast<T>(acc);
          } else {
            y[at] = static_cast<T>(acc);
            acc = Op::apply(acc, v);
          }
        }
      }
    });
    return;
  }
  size_t grain = std::max<size_t>(std::min<size_t>(r.I, 1024), kGrain / std::max<size_t>(r.R, 1));
  cpu::parallel_for(r.O * r.I, grain, [&](size_t b, size_t e) {
    std::vector<A> acc;
    size_t k = b;
    while (k < e) {
      size_t o = k / r.I, i0 = k % r.I;
      size_t i1 = std::min(r.I, i0 + (e - k)), n = i1 - i0;
      acc.assign(n, Op::init());
      for (size_t kk = 0; kk < r.R; ++kk) {
        size_t row = (o * r.R + (rev ? r.R - 1 - kk : kk)) * r.I + i0;
        const T* xp = x + row;
        T* yp = y + row;
        if (incl) {
          for (size_t i = 0; i < n; ++i) {
            acc[i] = Op::apply(acc[i], static_cast<A>(xp[i]));
            yp[i] = static_cast<T>(acc[i]);
          }
        } else {
          for (size_t i = 0; i < n; ++i) {
            yp[i] = static_cast<T>(acc[i]);
            acc[i] = Op::apply(acc[i], static_cast<A>(xp[i]));
          }
        }
      }
      k += n;
    }
  });
}
}  // namespace

void Scan::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  if (out.size() == 0) return;
  std::vector<char> tmp;
  const char* data;
  ORI r = prepare(in, {axis_}, tmp, data);
  ScanOp op = op_;
  bool rev = reverse_, incl = inclusive_;
  dispatch_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using A = std::conditional_t<std::is_same_v<T, bool>, int, acc_t<T>>;
    const T* x = reinterpret_cast<const T*>(data);
    T* y = cpu::mdata<T>(out);
    switch (op) {
      case ScanOp::Sum: scan_typed<T, A, SumOp<A>>(x, y, r, rev, incl); break;
      case ScanOp::Prod: scan_typed<T, A, ProdOp<A>>(x, y, r, rev, incl); break;
      case ScanOp::Max: scan_typed<T, A, MaxOp<A>>(x, y, r, rev, incl); break;
      default: scan_typed<T, A, MinOp<A>>(x, y, r, rev, incl); break;
    }
  });
}

void Sort::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  if (out.size() == 0) return;
  std::vector<char> tmp;
  const char* data;
  ORI r = prepare(in, {axis_}, tmp, data);
  bool arg = arg_;
  dispatch_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using A = std::conditional_t<std::is_same_v<T, bool>, int, acc_t<T>>;
    const T* x = reinterpret_cast<const T*>(data);
    uint32_t* yi = arg ? cpu::mdata<uint32_t>(out) : nullptr;
    T* yv = arg ? nullptr : cpu::mdata<T>(out);
    // (value, index) pairs sorted stably, NaNs last; rows in parallel
    size_t rows = r.O * r.I;
    cpu::parallel_for(rows, std::max<size_t>(1, (size_t(1) << 13) / std::max<size_t>(r.R, 1)),
                      [&](size_t q0, size_t q1) {
      std::vector<std::pair<A, uint32_t>> v(r.R);
      for (size_t q = q0; q < q1; ++q) {
        size_t o = q / r.I, i = q % r.I;
        const T* xp = x + o * r.R * r.I + i;
        for (size_t k = 0; k < r.R; ++k)
          v[k] = {static_cast<A>(xp[k * r.I]), static_cast<uint32_t>(k)};
        std::stable_sort(v.begin(), v.end(), [](const auto& p, const auto& q) {
          if constexpr (std::is_floating_point_v<A>) {
            if (q.first != q.first) return p.first == p.first;  // NaNs last
            if (p.first != p.first) return false;
          }
          return p.first < q.first;
        });
        size_t base = o * r.R * r.I + i;
        for (size_t k = 0; k < r.R; ++k) {
          if (arg) yi[base + k * r.I] = v[k].second;
          else yv[base + k * r.I] = xp[v[k].second * r.I];
        }
      }
    });
  });
}

}  // namespace kiln
