// Derivative rules of reductions and scans: Reduce (sum, prod, max, min, all, any),
// ArgReduce, Scan (cumsum, cumprod, cummax, cummin).
// Conventions: max/min split the cotangent evenly among tied elements (MLX); prod and
// cumprod are exact with zeros, to every order (products only, never a division);
// cummax/cummin send each output's
// derivative to the first element, in scan order, that attains the running extremum.
#include <algorithm>
#include <numeric>

#include "rules_util.h"

namespace kiln {

using autograd_detail::scalar;

namespace {

// For every element of x, the product of the other elements of its reduction group (the
// group = the elements sharing all coordinates outside `axes`). Exclusive cumprods from
// both ends, so zeros need no special case.
array product_of_others(const array& x, const std::vector<int>& axes, Stream s) {
  if (axes.size() == 1) {
    int ax = axes[0];
    return multiply(cumprod(x, ax, false, false, s), cumprod(x, ax, true, false, s), s);
  }
  // move the reduced axes last, flatten them into one, and come back
  std::vector<int> perm, keep_shape;
  Shape flat;
  for (int i = 0; i < x.ndim(); ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) {
      perm.push_back(i);
      flat.push_back(x.shape(i));
    }
  for (int ax : axes) perm.push_back(ax);
  flat.push_back(-1);
  std::vector<int> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int>(i);
  array xt = transpose(x, perm, s);
  Shape moved = xt.shape();
  array xf = reshape(xt, flat, s);
  int last = xf.ndim() - 1;
  array p = multiply(cumprod(xf, last, false, false, s), cumprod(xf, last, true, false, s), s);
  return transpose(reshape(p, moved, s), inverse, s);
}

// Even split among the elements equal to the extremum: mask / count.
array extremum_weights(const array& x, const array& out_keepdims, const std::vector<int>& axes,
                       Stream s) {
  array mask = astype(equal(x, out_keepdims, s), x.dtype(), s);
  return divide(mask, sum(mask, axes, true, s), s);
}

}  // namespace

std::vector<array> Reduce::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& x = primals[0];
  const array& g = cotangents[0];  // keeps the reduced axes as size 1
  Stream s = stream();
  if (!is_floating(x.dtype()) || op_ == ReduceOp::And || op_ == ReduceOp::Or)
    return {zeros_like(x, s)};
  switch (op_) {
    case ReduceOp::Sum: return {broadcast_to(g, x.shape(), s)};
    case ReduceOp::Prod: return {multiply(g, product_of_others(x, axes_, s), s)};
    default: return {multiply(g, extremum_weights(x, outputs[0], axes_, s), s)};
  }
}

std::vector<array> Reduce::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  const array& x = primals[0];
  const array& t = tangents[0];
  Stream s = stream();
  Shape kept = x.shape();
  for (int ax : axes_) kept[ax] = 1;
  if (op_ == ReduceOp::And || op_ == ReduceOp::Or) return {zeros(kept, bool_, s)};
  if (!is_floating(x.dtype())) return {zeros(kept, x.dtype(), s)};
  switch (op_) {
    case ReduceOp::Sum: return {sum(t, axes_, true, s)};
    case ReduceOp::Prod:
      return {sum(multiply(t, product_of_others(x, axes_, s), s), axes_, true, s)};
    default: {
      array out = array(kept, x.dtype(), std::make_shared<Reduce>(s, op_, axes_), {x});
      return {sum(multiply(t, extremum_weights(x, out, axes_, s), s), axes_, true, s)};
    }
  }
}

std::vector<array> ArgReduce::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> ArgReduce::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&) {
  Shape kept = primals[0].shape();
  kept[axis_] = 1;
  return {zeros(kept, uint32, stream())};
}

// ------------------------------------------------------------------ scans
namespace {

// Index (int32, along axis) of the element each output of a cummax/cummin takes its value
// from — the first element in scan order attaining the running extremum — and a mask of
// the outputs that have one (an exclusive scan's first output is the identity). Built from
// x, so it is cut from differentiation.
std::pair<array, array> scan_sources(const array& x, ScanOp op, int axis, bool reverse,
                                     bool inclusive, Stream s) {
  int n = x.shape(axis);
  Shape pos_shape(x.ndim(), 1);
  pos_shape[axis] = n;
  array pos = broadcast_to(reshape(arange(0, n, 1, s), pos_shape, s), x.shape(), s);
  array xs = reverse ? flip(x, axis, s) : x;
  bool is_max = op == ScanOp::Max;
  array run = is_max ? cummax(xs, axis, false, true, s) : cummin(xs, axis, false, true, s);
  array before = is_max ? cummax(xs, axis, false, false, s) : cummin(xs, axis, false, false, s);
  array start = logical_and(equal(xs, run, s), not_equal(before, run, s), s);
  array src = cummax(where(start, pos, array(0), s), axis, false, true, s);
  array valid = full(x.shape(), array(true), s);
  if (!inclusive) {  // out[i] = run[i - 1]
    Shape lo(x.ndim(), 0), hi = x.shape();
    hi[axis] = n - 1;
    Shape first = x.shape();
    first[axis] = 1;
    src = concatenate({zeros(first, int32, s), slice(src, lo, hi, s)}, axis, s);
    valid = greater(pos, array(0), s);
  }
  if (reverse) {
    src = flip(subtract(array(n - 1), src, s), axis, s);
    valid = flip(valid, axis, s);
  }
  return {stop_gradient(src, s), stop_gradient(valid, s)};
}

// x shifted by d along axis in the scan direction (out[i] = x[i - d], or x[i + d] for a
// reverse scan), with `fill` where nothing shifts in.
array shift(const array& x, int d, double fill, int axis, bool reverse, Stream s) {
  int n = x.shape(axis);
  d = std::min(d, n);
  Shape pad_shape = x.shape();
  pad_shape[axis] = d;
  array pad = full(pad_shape, scalar(fill, x.dtype()), s);
  Shape lo(x.ndim(), 0), hi = x.shape();
  if (reverse)
    lo[axis] = d;
  else
    hi[axis] = n - d;
  array kept = slice(x, lo, hi, s);
  return reverse ? concatenate({kept, pad}, axis, s) : concatenate({pad, kept}, axis, s);
}

// y[i] = a[i] * y[i - 1] + b[i] (y[i + 1] for a reverse scan), y before the start = 0.
// Solved by recursive doubling with products and sums only, so the result is exact with
// zeros and differentiable to any order.
array linear_recurrence(array a, array b, int axis, bool reverse, Stream s) {
  int n = a.shape(axis);
  for (int d = 1; d < n; d *= 2) {
    b = add(b, multiply(a, shift(b, d, 0, axis, reverse, s), s), s);
    if (2 * d < n) a = multiply(a, shift(a, d, 1, axis, reverse, s), s);
  }
  return b;
}

// Tangent of the inclusive cumprod: T[i] = x[i] T[i-1] + (prod_{k<i} x[k]) t[i].
array cumprod_inclusive_jvp(const array& x, const array& t, int axis, bool reverse, Stream s) {
  array excl = cumprod(x, axis, reverse, false, s);
  return linear_recurrence(x, multiply(excl, t, s), axis, reverse, s);
}

// Cotangent of the inclusive cumprod: dx[j] = (prod_{k<j} x[k]) S[j] with
// S[j] = c[j] + x[j+1] S[j+1], a recurrence running against the scan direction.
array cumprod_inclusive_vjp(const array& x, const array& c, int axis, bool reverse, Stream s) {
  array excl = cumprod(x, axis, reverse, false, s);
  array next_x = shift(x, 1, 0, axis, !reverse, s);
  return multiply(excl, linear_recurrence(next_x, c, axis, !reverse, s), s);
}

}  // namespace

std::vector<array> Scan::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents, const std::vector<int>& argnums,
                             const std::vector<array>& outputs) {
  const array& x = primals[0];
  const array& g = cotangents[0];
  Stream s = stream();
  if (!is_floating(x.dtype()) || x.size() == 0) return {zeros_like(x, s)};
  switch (op_) {
    case ScanOp::Sum: return {cumsum(g, axis_, !reverse_, inclusive_, s)};
    case ScanOp::Prod:
      // an exclusive scan is the inclusive one shifted by one
      if (inclusive_) return {cumprod_inclusive_vjp(x, g, axis_, reverse_, s)};
      return {cumprod_inclusive_vjp(x, shift(g, 1, 0, axis_, !reverse_, s), axis_, reverse_, s)};
    default: {
      auto [src, valid] = scan_sources(x, op_, axis_, reverse_, inclusive_, s);
      array gm = where(valid, g, scalar(0, g.dtype()), s);
      return {scatter_add_along_axis(zeros_like(x, s), src, gm, axis_, s)};
    }
  }
}

std::vector<array> Scan::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>& argnums) {
  const array& x = primals[0];
  const array& t = tangents[0];
  Stream s = stream();
  if (!is_floating(x.dtype()) || x.size() == 0) return {zeros_like(x, s)};
  switch (op_) {
    case ScanOp::Sum: return {cumsum(t, axis_, reverse_, inclusive_, s)};
    case ScanOp::Prod: {
      array ti = cumprod_inclusive_jvp(x, t, axis_, reverse_, s);
      return {inclusive_ ? ti : shift(ti, 1, 0, axis_, reverse_, s)};
    }
    default: {
      auto [src, valid] = scan_sources(x, op_, axis_, reverse_, inclusive_, s);
      return {where(valid, take_along_axis(t, src, axis_, s), scalar(0, t.dtype()), s)};
    }
  }
}

}  // namespace kiln
