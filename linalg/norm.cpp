// linalg::norm, composed from ops: the vector norms and the Frobenius norm are therefore
// differentiable; the spectral (2, -2) and nuclear norms go through svd and are not.
#include <cmath>
#include <limits>
#include <string>

#include "../core/ops.h"
#include "linalg.h"

namespace kiln::linalg {

namespace {
using detail::shape_str;

// Integer and bool inputs are measured in float32; floating inputs keep their dtype.
array as_inexact(const array& a, StreamOrDevice s) {
  return is_floating(a.dtype()) ? a : astype(a, float32, s);
}

std::vector<int> resolve_axes(const array& a, const std::optional<std::vector<int>>& axis,
                              const std::string& ord_str) {
  std::vector<int> axes;
  if (!axis) {
    if (a.ndim() != 1 && a.ndim() != 2)
      throw std::invalid_argument("[linalg::norm] with ord " + ord_str +
                                  " and no axis the input must be 1-D or 2-D, got shape " +
                                  shape_str(a.shape()) + " (pass the axes to reduce)");
    for (int i = 0; i < a.ndim(); ++i) axes.push_back(i);
    return axes;
  }
  if (axis->empty() || axis->size() > 2)
    throw std::invalid_argument("[linalg::norm] expected 1 axis (vector norm) or 2 axes "
                                "(matrix norm), got " + std::to_string(axis->size()));
  for (int ax : *axis) {
    int r = ax < 0 ? ax + a.ndim() : ax;
    if (r < 0 || r >= a.ndim())
      throw std::invalid_argument("[linalg::norm] axis " + std::to_string(ax) +
                                  " is out of bounds for an array of shape " +
                                  shape_str(a.shape()));
    axes.push_back(r);
  }
  if (axes.size() == 2 && axes[0] == axes[1])
    throw std::invalid_argument("[linalg::norm] the two matrix axes must differ, got " +
                                std::to_string((*axis)[0]) + " and " + std::to_string((*axis)[1]));
  return axes;
}

std::string ord_name(double ord) {
  if (std::isinf(ord)) return ord > 0 ? "inf" : "-inf";
  std::string s = std::to_string(ord);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

array vector_norm(const array& a, double ord, int ax, bool keepdims, StreamOrDevice s) {
  if (ord == std::numeric_limits<double>::infinity()) return max(abs(a, s), ax, keepdims, s);
  if (ord == -std::numeric_limits<double>::infinity()) return min(abs(a, s), ax, keepdims, s);
  if (ord == 0)
    return astype(sum(not_equal(a, zeros({}, a.dtype(), s), s), ax, keepdims, s), a.dtype(), s);
  if (ord == 1) return sum(abs(a, s), ax, keepdims, s);
  if (ord == 2) return sqrt(sum(square(a, s), ax, keepdims, s), s);
  array p(static_cast<float>(ord), a.dtype());
  array inv_p(static_cast<float>(1.0 / ord), a.dtype());
  return power(sum(power(abs(a, s), p, s), ax, keepdims, s), inv_p, s);
}

// Singular values of the matrices spanned by axes (r, c), as (..., k) over the other axes.
array singular_values(const array& a, int r, int c, StreamOrDevice s) {
  std::vector<int> perm;
  for (int i = 0; i < a.ndim(); ++i)
    if (i != r && i != c) perm.push_back(i);
  perm.push_back(r);
  perm.push_back(c);
  bool identity = true;
  for (int i = 0; i < a.ndim(); ++i) identity = identity && perm[i] == i;
  return std::get<1>(svd(identity ? a : transpose(a, perm, s), s));
}

array restore_dims(array out, int r, int c, bool keepdims, StreamOrDevice s) {
  if (!keepdims) return out;
  return expand_dims(out, {std::min(r, c), std::max(r, c)}, s);
}

array matrix_norm(const array& a, double ord, int r, int c, bool keepdims, StreamOrDevice s) {
  const double inf = std::numeric_limits<double>::infinity();
  if (ord == 2 || ord == -2) {
    array sv = singular_values(a, r, c, s);
    array out = ord == 2 ? max(sv, -1, false, s) : min(sv, -1, false, s);
    return restore_dims(astype(out, a.dtype(), s), r, c, keepdims, s);
  }
  // 1/-1: max/min over columns of the column sums; inf/-inf: over rows of the row sums.
  int sum_ax, pick_ax;
  if (ord == 1 || ord == -1) {
    sum_ax = r;
    pick_ax = c;
  } else if (ord == inf || ord == -inf) {
    sum_ax = c;
    pick_ax = r;
  } else {
    throw std::invalid_argument("[linalg::norm] invalid ord " + ord_name(ord) +
                                " for a matrix norm (expected 1, -1, 2, -2, inf, -inf, "
                                "\"fro\" or \"nuc\")");
  }
  array sums = sum(abs(a, s), sum_ax, true, s);
  array out = ord > 0 ? max(sums, pick_ax, true, s) : min(sums, pick_ax, true, s);
  return keepdims ? out : squeeze(out, {r, c}, s);
}
}  // namespace

array norm(const array& a_in, const std::optional<std::vector<int>>& axis, bool keepdims,
           StreamOrDevice s) {
  array a = as_inexact(a_in, s);
  if (!axis) return sqrt(sum(square(a, s), keepdims, s), s);
  auto axes = resolve_axes(a, axis, "unset");
  return sqrt(sum(square(a, s), axes, keepdims, s), s);
}

array norm(const array& a_in, double ord, const std::optional<std::vector<int>>& axis,
           bool keepdims, StreamOrDevice s) {
  array a = as_inexact(a_in, s);
  if (std::isnan(ord)) throw std::invalid_argument("[linalg::norm] ord must not be NaN");
  auto axes = resolve_axes(a, axis, ord_name(ord));
  if (axes.size() == 1) return vector_norm(a, ord, axes[0], keepdims, s);
  return matrix_norm(a, ord, axes[0], axes[1], keepdims, s);
}

array norm(const array& a_in, const std::string& ord, const std::optional<std::vector<int>>& axis,
           bool keepdims, StreamOrDevice s) {
  array a = as_inexact(a_in, s);
  if (ord != "fro" && ord != "nuc")
    throw std::invalid_argument("[linalg::norm] unknown ord \"" + ord +
                                "\" (expected \"fro\" or \"nuc\", or a number)");
  auto axes = resolve_axes(a, axis, "\"" + ord + "\"");
  if (axes.size() != 2)
    throw std::invalid_argument("[linalg::norm] \"" + ord +
                                "\" is a matrix norm: it needs a 2-D input or 2 axes, got "
                                "shape " + shape_str(a.shape()) + " with 1 axis");
  int r = axes[0], c = axes[1];
  if (ord == "fro") return sqrt(sum(square(a, s), axes, keepdims, s), s);
  array out = sum(singular_values(a, r, c, s), -1, false, s);
  return restore_dims(astype(out, a.dtype(), s), r, c, keepdims, s);
}

}  // namespace kiln::linalg
