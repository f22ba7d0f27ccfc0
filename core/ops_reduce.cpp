// Reductions, arg-reductions, scans, sort, softmax/logsumexp (composed).
#include <limits>

#include "ops_impl.h"

namespace kiln {

using detail::make;
using detail::normalize_axis;

namespace {
std::vector<int> all_axes(const array& a) {
  std::vector<int> ax(a.ndim());
  for (int i = 0; i < a.ndim(); ++i) ax[i] = i;
  return ax;
}

array reduce(const array& a, ReduceOp op, const std::vector<int>& axes, bool keepdims,
             StreamOrDevice s, const char* name) {
  auto ax = detail::normalize_axes(axes, a.ndim(), name);
  auto st = to_stream(s);
  array x = a;
  Dtype out_t = a.dtype();
  if (op == ReduceOp::And || op == ReduceOp::Or) {
    x = astype(x, bool_, st);
    out_t = bool_;
  } else if ((op == ReduceOp::Sum || op == ReduceOp::Prod) && a.dtype() == bool_) {
    x = astype(x, int32, st);
    out_t = int32;
  }
  if ((op == ReduceOp::Max || op == ReduceOp::Min) && !ax.empty()) {
    for (int i : ax)
      if (a.shape()[i] == 0)
        throw std::invalid_argument(std::string("[") + name +
                                    "] cannot reduce an empty axis of an array of shape " +
                                    detail::shape_str(a.shape()) + " (no identity)");
  }
  if (ax.empty()) return x;
  Shape kept = a.shape();
  for (int i : ax) kept[i] = 1;
  array out = make(kept, out_t, std::make_shared<Reduce>(st, op, ax), {x});
  if (!keepdims) out = squeeze(out, ax, st);
  return out;
}
}  // namespace

#define KILN_REDUCTION(fn, OP)                                                        \
  array fn(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) { \
    return reduce(a, ReduceOp::OP, axes, keepdims, s, #fn);                           \
  }                                                                                   \
  array fn(const array& a, bool keepdims, StreamOrDevice s) {                         \
    return fn(a, all_axes(a), keepdims, s);                                           \
  }                                                                                   \
  array fn(const array& a, int axis, bool keepdims, StreamOrDevice s) {               \
    return fn(a, std::vector<int>{axis}, keepdims, s);                                \
  }
KILN_REDUCTION(sum, Sum)
KILN_REDUCTION(prod, Prod)
KILN_REDUCTION(max, Max)
KILN_REDUCTION(min, Min)
KILN_REDUCTION(all, And)
KILN_REDUCTION(any, Or)
#undef KILN_REDUCTION

array mean(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  auto ax = detail::normalize_axes(axes, a.ndim(), "mean");
  size_t n = 1;
  for (int i : ax) n *= a.shape()[i];
  Dtype t = is_floating(a.dtype()) ? a.dtype() : float32;
  array sm = sum(astype(a, t, s), ax, keepdims, s);
  return multiply(sm, array(n == 0 ? std::numeric_limits<float>::quiet_NaN() : 1.0f / n, t), s);
}
array mean(const array& a, bool keepdims, StreamOrDevice s) {
  return mean(a, all_axes(a), keepdims, s);
}
array mean(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return mean(a, std::vector<int>{axis}, keepdims, s);
}

array var(const array& a, const std::vector<int>& axes, bool keepdims, int ddof,
          StreamOrDevice s) {
  auto ax = detail::normalize_axes(axes, a.ndim(), "var");
  size_t n = 1;
  for (int i : ax) n *= a.shape()[i];
  Dtype t = is_floating(a.dtype()) ? a.dtype() : float32;
  array x = astype(a, t, s);
  array mu = mean(x, ax, true, s);
  array d = subtract(x, mu, s);
  array ss = sum(multiply(d, d, s), ax, keepdims, s);
  double denom = static_cast<double>(n) - ddof;
  float scale = denom > 0 ? static_cast<float>(1.0 / denom)
                          : std::numeric_limits<float>::infinity();
  return multiply(ss, array(scale, t), s);
}
array var(const array& a, bool keepdims, int ddof, StreamOrDevice s) {
  return var(a, all_axes(a), keepdims, ddof, s);
}
array var(const array& a, int axis, bool keepdims, int ddof, StreamOrDevice s) {
  return var(a, std::vector<int>{axis}, keepdims, ddof, s);
}
array std(const array& a, const std::vector<int>& axes, bool keepdims, int ddof,
          StreamOrDevice s) {
  detail::normalize_axes(axes, a.ndim(), "std");
  return sqrt(var(a, axes, keepdims, ddof, s), s);
}
array std(const array& a, bool keepdims, int ddof, StreamOrDevice s) {
  return std(a, all_axes(a), keepdims, ddof, s);
}
array std(const array& a, int axis, bool keepdims, int ddof, StreamOrDevice s) {
  return std(a, std::vector<int>{axis}, keepdims, ddof, s);
}

namespace {
array arg_reduce(const array& a, ArgReduceOp op, int axis, bool keepdims, StreamOrDevice s,
                 const char* name) {
  int ax = normalize_axis(axis, a.ndim(), name);
  if (a.shape()[ax] == 0)
    throw std::invalid_argument(std::string("[") + name + "] cannot take the " + name +
                                " of an empty axis (shape " + detail::shape_str(a.shape()) + ")");
  Shape kept = a.shape();
  kept[ax] = 1;
  auto st = to_stream(s);
  array out = make(kept, uint32, std::make_shared<ArgReduce>(st, op, ax), {a});
  if (!keepdims) out = squeeze(out, ax, st);
  return out;
}
}  // namespace

array argmax(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return arg_reduce(a, ArgReduceOp::ArgMax, axis, keepdims, s, "argmax");
}
array argmax(const array& a, bool keepdims, StreamOrDevice s) {
  array out = argmax(flatten(a, 0, -1, s), 0, false, s);
  return keepdims ? reshape(out, Shape(a.ndim(), 1), s) : out;
}
array argmin(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return arg_reduce(a, ArgReduceOp::ArgMin, axis, keepdims, s, "argmin");
}
array argmin(const array& a, bool keepdims, StreamOrDevice s) {
  array out = argmin(flatten(a, 0, -1, s), 0, false, s);
  return keepdims ? reshape(out, Shape(a.ndim(), 1), s) : out;
}

array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  auto ax = detail::normalize_axes(axes, a.ndim(), "logsumexp");
  array x = is_floating(a.dtype()) ? a : astype(a, float32, s);
  if (ax.empty()) return x;
  bool empty_axis = false;
  for (int i : ax) empty_axis = empty_axis || a.shape()[i] == 0;
  if (empty_axis) {  // log of an empty sum
    Shape kept = a.shape();
    for (int i : ax) kept[i] = 1;
    array out = full(kept, array(-std::numeric_limits<float>::infinity(), x.dtype()), s);
    return keepdims ? out : squeeze(out, ax, s);
  }
  array m = stop_gradient(max(x, ax, true, s), s);
  // an all -inf (or inf) slice must not produce nan from inf - inf
  m = where(isinf(m, s), zeros_like(m, s), m, s);
  array out = add(log(sum(exp(subtract(x, m, s), s), ax, true, s), s), m, s);
  return keepdims ? out : squeeze(out, ax, s);
}
array logsumexp(const array& a, bool keepdims, StreamOrDevice s) {
  return logsumexp(a, all_axes(a), keepdims, s);
}
array logsumexp(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return logsumexp(a, std::vector<int>{axis}, keepdims, s);
}

array softmax(const array& a, const std::vector<int>& axes, bool precise, StreamOrDevice s) {
  auto ax = detail::normalize_axes(axes, a.ndim(), "softmax");
  array x = is_floating(a.dtype()) ? a : astype(a, float32, s);
  Dtype t = x.dtype();
  if (x.size() == 0) return x;
  if (precise && t != float32) x = astype(x, float32, s);
  array m = stop_gradient(max(x, ax, true, s), s);
  array e = exp(subtract(x, m, s), s);
  array out = divide(e, sum(e, ax, true, s), s);
  return astype(out, t, s);
}
array softmax(const array& a, bool precise, StreamOrDevice s) {
  return softmax(a, all_axes(a), precise, s);
}
array softmax(const array& a, int axis, bool precise, StreamOrDevice s) {
  return softmax(a, std::vector<int>{axis}, precise, s);
}
array log_softmax(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  auto ax = detail::normalize_axes(axes, a.ndim(), "log_softmax");
  array x = is_floating(a.dtype()) ? a : astype(a, float32, s);
  if (x.size() == 0 || ax.empty()) return subtract(x, logsumexp(x, ax, true, s), s);
  // (x - m) - log(sum(exp(x - m))): subtracting the shifted values keeps the precision
  // that x - logsumexp(x) loses when |x| is large
  array m = stop_gradient(max(x, ax, true, s), s);
  m = where(isinf(m, s), zeros_like(m, s), m, s);
  array z = subtract(x, m, s);
  return subtract(z, log(sum(exp(z, s), ax, true, s), s), s);
}
array log_softmax(const array& a, StreamOrDevice s) { return log_softmax(a, all_axes(a), s); }
array log_softmax(const array& a, int axis, StreamOrDevice s) {
  return log_softmax(a, std::vector<int>{axis}, s);
}

namespace {
array scan(const array& a, ScanOp op, int axis, bool reverse, bool inclusive, StreamOrDevice s,
           const char* name) {
  int ax = normalize_axis(axis, a.ndim(), name);
  auto st = to_stream(s);
  array x = a;
  if (x.dtype() == bool_ && (op == ScanOp::Sum || op == ScanOp::Prod)) x = astype(x, int32, st);
  return make(x.shape(), x.dtype(), std::make_shared<Scan>(st, op, ax, reverse, inclusive), {x});
}
}  // namespace

array cumsum(const array& a, int axis, bool reverse, bool inclusive, StreamOrDevice s) {
  return scan(a, ScanOp::Sum, axis, reverse, inclusive, s, "cumsum");
}
array cumsum(const array& a, StreamOrDevice s) {
  return cumsum(flatten(a, 0, -1, s), 0, false, true, s);
}
array cumprod(const array& a, int axis, bool reverse, bool inclusive, StreamOrDevice s) {
  return scan(a, ScanOp::Prod, axis, reverse, inclusive, s, "cumprod");
}
array cummax(const array& a, int axis, bool reverse, bool inclusive, StreamOrDevice s) {
  return scan(a, ScanOp::Max, axis, reverse, inclusive, s, "cummax");
}
array cummin(const array& a, int axis, bool reverse, bool inclusive, StreamOrDevice s) {
  return scan(a, ScanOp::Min, axis, reverse, inclusive, s, "cummin");
}

array sort(const array& a, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "sort");
  return make(a.shape(), a.dtype(), std::make_shared<Sort>(to_stream(s), ax, false), {a});
}
array argsort(const array& a, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "argsort");
  return make(a.shape(), uint32, std::make_shared<Sort>(to_stream(s), ax, true), {a});
}

}  // namespace kiln
