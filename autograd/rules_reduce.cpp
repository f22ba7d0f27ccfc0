// Derivative rules of reductions and scans: Reduce (sum, prod, max, min, all, any),
// ArgReduce, Scan (cumsum, cumprod, cummax, cummin).
// Conventions: max/min split the cotangent evenly among tied elements (MLX); prod and
// cumprod are exact with zeros (no division by zero); cummax/cummin send each output's
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
                               const std::vector<int>& argnums,
                               const std::vector<array>& outputs) {
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
    case ReduceOp::Prod: return {sum(multiply(t, product_of_others(x, axes_, s), s), axes_, true, s)};
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

struct CumprodParts {
  array eq_zero;     // the element's inclusive product is zero (at or after the first zero)
  array first_zero;  // the first zero of its line (in scan order)
  array with_one;    // the cumprod with that first zero replaced by one
  array safe_x;      // x with the zeros (and what follows) replaced by one
};

CumprodParts cumprod_parts(const array& x, int axis, bool reverse, bool inclusive, Stream s) {
  array z = scalar(0, x.dtype()), one = scalar(1, x.dtype());
  array incl = cumprod(x, axis, reverse, true, s);
  array excl = cumprod(x, axis, reverse, false, s);
  CumprodParts p;
  p.eq_zero = equal(incl, z, s);
  p.first_zero = logical_and(p.eq_zero, not_equal(excl, z, s), s);
  p.with_one = cumprod(where(p.first_zero, one, x, s), axis, reverse, inclusive, s);
  p.safe_x = where(p.eq_zero, one, x, s);
  return p;
}

}  // namespace

std::vector<array> Scan::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents,
                             const std::vector<int>& argnums,
                             const std::vector<array>& outputs) {
  const array& x = primals[0];
  const array& g = cotangents[0];
  Stream s = stream();
  if (!is_floating(x.dtype()) || x.size() == 0) return {zeros_like(x, s)};
  switch (op_) {
    case ScanOp::Sum: return {cumsum(g, axis_, !reverse_, inclusive_, s)};
    case ScanOp::Prod: {
      // d out_i / d x_j = prod_{k in range(i), k != j} x_k: before the first zero that is
      // out_i / x_j; at the first zero it is the cumprod with that zero set to one; after
      // it, zero.
      CumprodParts p = cumprod_parts(x, axis_, reverse_, inclusive_, s);
      auto gather_back = [&](const array& a) {
        return cumsum(multiply(a, g, s), axis_, !reverse_, inclusive_, s);
      };
      array z = scalar(0, x.dtype());
      array regular = divide(gather_back(outputs[0]), p.safe_x, s);
      return {where(p.first_zero, gather_back(p.with_one), where(p.eq_zero, z, regular, s), s)};
    }
    default: {
      auto [src, valid] = scan_sources(x, op_, axis_, reverse_, inclusive_, s);
      array gm = where(valid, g, scalar(0, g.dtype()), s);
      return {scatter_add_along_axis(zeros_like(x, s), src, gm, axis_, s)};
    }
  }
}

std::vector<array> Scan::jvp(const std::vector<array>& primals,
                             const std::vector<array>& tangents,
                             const std::vector<int>& argnums) {
  const array& x = primals[0];
  const array& t = tangents[0];
  Stream s = stream();
  if (!is_floating(x.dtype()) || x.size() == 0) return {zeros_like(x, s)};
  switch (op_) {
    case ScanOp::Sum: return {cumsum(t, axis_, reverse_, inclusive_, s)};
    case ScanOp::Prod: {
      // no zero in range(i): out_i * sum_{j in range(i)} t_j / x_j; otherwise only the
      // first zero's term survives: t_first * (cumprod with that zero set to one).
      CumprodParts p = cumprod_parts(x, axis_, reverse_, inclusive_, s);
      array z = scalar(0, x.dtype());
      array out = cumprod(x, axis_, reverse_, inclusive_, s);
      array ratio = where(p.eq_zero, z, divide(t, p.safe_x, s), s);
      array regular = multiply(out, cumsum(ratio, axis_, reverse_, inclusive_, s), s);
      array t_first = sum(where(p.first_zero, t, z, s), axis_, true, s);
      array at_zero = multiply(t_first, p.with_one, s);
      return {where(equal(out, z, s), at_zero, regular, s)};
    }
    default: {
      auto [src, valid] = scan_sources(x, op_, axis_, reverse_, inclusive_, s);
      return {where(valid, take_along_axis(t, src, axis_, s), scalar(0, t.dtype()), s)};
    }
  }
}

}  // namespace kiln
