// Elementwise ops: unary, binary, where, astype, comparisons.
#include <algorithm>
#include <cmath>

#include "ops_impl.h"

namespace kiln {

namespace detail {

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int ax : axes) out.push_back(normalize_axis(ax, ndim, op));
  std::sort(out.begin(), out.end());
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i] == out[i - 1])
      throw std::invalid_argument(std::string("[") + op + "] duplicate axis " +
                                  std::to_string(out[i]) + " in the axes argument");
  return out;
}

namespace {
bool float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::Abs:
    case UnaryOp::Negative:
    case UnaryOp::Sign:
    case UnaryOp::Square:
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::LogicalNot:
    case UnaryOp::IsNan:
    case UnaryOp::IsInf:
    case UnaryOp::Identity: return false;
    default: return true;
  }
}
}  // namespace

array unary_op(UnaryOp op, const array& a, StreamOrDevice s) {
  auto st = to_stream(s);
  array x = a;
  if (float_only(op) && !is_floating(x.dtype())) x = astype(x, float32, st);
  if ((op == UnaryOp::Negative || op == UnaryOp::Sign || op == UnaryOp::Square ||
       op == UnaryOp::Abs) &&
      x.dtype() == bool_) {
    if (op == UnaryOp::Negative)
      throw std::invalid_argument("[negative] cannot negate a bool array; use logical_not");
    x = astype(x, int32, st);
  }
  if ((op == UnaryOp::Floor || op == UnaryOp::Ceil || op == UnaryOp::Round) &&
      !is_floating(x.dtype()))
    return x;
  if ((op == UnaryOp::IsNan || op == UnaryOp::IsInf) && !is_floating(x.dtype()))
    return zeros(x.shape(), bool_, st);
  return make(x.shape(), unary_out_dtype(op, x.dtype()), std::make_shared<Unary>(st, op), {x});
}

array binary_op(BinaryOp op, const array& a, const array& b, StreamOrDevice s,
                const char* name) {
  auto st = to_stream(s);
  Shape out;
  try {
    out = broadcast_shapes(a.shape(), b.shape());
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("[") + name + "] shapes " + shape_str(a.shape()) +
                                " and " + shape_str(b.shape()) + " cannot be broadcast together");
  }
  Dtype t = promote_types(a.dtype(), b.dtype());
  switch (op) {
    case BinaryOp::Divide:
    case BinaryOp::ArcTan2:
    case BinaryOp::LogAddExp:
      if (!is_floating(t)) t = float32;
      break;
    case BinaryOp::LogicalAnd:
    case BinaryOp::LogicalOr: t = bool_; break;
    case BinaryOp::Subtract:
      if (t == bool_)
        throw std::invalid_argument("[subtract] cannot subtract bool arrays; use logical_xor "
                                    "(not_equal) or cast to an integer type");
      break;
    case BinaryOp::Add:
    case BinaryOp::Multiply:
    case BinaryOp::FloorDivide:
    case BinaryOp::Power:
    case BinaryOp::Remainder:
      if (t == bool_) t = (op == BinaryOp::Add || op == BinaryOp::Multiply) ? bool_ : int32;
      break;
    default: break;
  }
  array x = astype(a, t, st), y = astype(b, t, st);
  Dtype od = is_comparison(op) ? bool_ : t;
  return make(out, od, std::make_shared<Binary>(st, op), {x, y});
}

}  // namespace detail

using detail::binary_op;
using detail::unary_op;

array astype(const array& a, Dtype dtype, StreamOrDevice s) {
  if (a.dtype() == dtype) return a;
  auto st = to_stream(s);
  return detail::make(a.shape(), dtype, std::make_shared<AsType>(st, dtype), {a});
}

array stop_gradient(const array& a, StreamOrDevice s) {
  auto st = to_stream(s);
  return detail::make(a.shape(), a.dtype(), std::make_shared<StopGradient>(st), {a});
}

array copy(const array& a, StreamOrDevice s) {
  return detail::make(a.shape(), a.dtype(), std::make_shared<Unary>(to_stream(s), UnaryOp::Identity),
                      {a});
}

#define KILN_UNARY(fn, OP) \
  array fn(const array& a, StreamOrDevice s) { return unary_op(UnaryOp::OP, a, s); }
KILN_UNARY(abs, Abs)
KILN_UNARY(negative, Negative)
KILN_UNARY(sign, Sign)
KILN_UNARY(square, Square)
KILN_UNARY(sqrt, Sqrt)
KILN_UNARY(rsqrt, Rsqrt)
KILN_UNARY(exp, Exp)
KILN_UNARY(expm1, Expm1)
KILN_UNARY(log, Log)
KILN_UNARY(log1p, Log1p)
KILN_UNARY(log2, Log2)
KILN_UNARY(sin, Sin)
KILN_UNARY(cos, Cos)
KILN_UNARY(tan, Tan)
KILN_UNARY(tanh, Tanh)
KILN_UNARY(sinh, Sinh)
KILN_UNARY(cosh, Cosh)
KILN_UNARY(arcsin, ArcSin)
KILN_UNARY(arccos, ArcCos)
KILN_UNARY(arctan, ArcTan)
KILN_UNARY(sigmoid, Sigmoid)
KILN_UNARY(erf, Erf)
KILN_UNARY(erfinv, ErfInv)
KILN_UNARY(floor, Floor)
KILN_UNARY(ceil, Ceil)
KILN_UNARY(round, Round)
KILN_UNARY(isnan, IsNan)
KILN_UNARY(isinf, IsInf)
#undef KILN_UNARY

array logical_not(const array& a, StreamOrDevice s) {
  return unary_op(UnaryOp::LogicalNot, a, s);
}
array reciprocal(const array& a, StreamOrDevice s) {
  array x = is_floating(a.dtype()) ? a : astype(a, float32, s);
  return divide(array(1.0f, x.dtype()), x, s);
}
array log10(const array& a, StreamOrDevice s) {
  array l = log(a, s);
  return multiply(l, array(static_cast<float>(1.0 / std::log(10.0)), l.dtype()), s);
}
array isfinite(const array& a, StreamOrDevice s) {
  return logical_not(logical_or(isnan(a, s), isinf(a, s), s), s);
}

#define KILN_BINARY(fn, OP) \
  array fn(const array& a, const array& b, StreamOrDevice s) { \
    return binary_op(BinaryOp::OP, a, b, s, #fn); \
  }
KILN_BINARY(add, Add)
KILN_BINARY(subtract, Subtract)
KILN_BINARY(multiply, Multiply)
KILN_BINARY(divide, Divide)
KILN_BINARY(floor_divide, FloorDivide)
KILN_BINARY(maximum, Maximum)
KILN_BINARY(minimum, Minimum)
KILN_BINARY(power, Power)
KILN_BINARY(remainder, Remainder)
KILN_BINARY(arctan2, ArcTan2)
KILN_BINARY(logaddexp, LogAddExp)
KILN_BINARY(equal, Equal)
KILN_BINARY(not_equal, NotEqual)
KILN_BINARY(less, Less)
KILN_BINARY(less_equal, LessEqual)
KILN_BINARY(greater, Greater)
KILN_BINARY(greater_equal, GreaterEqual)
KILN_BINARY(logical_and, LogicalAnd)
KILN_BINARY(logical_or, LogicalOr)
#undef KILN_BINARY

array operator-(const array& a) { return negative(a); }
array operator!(const array& a) { return logical_not(a); }

array where(const array& cond, const array& a, const array& b, StreamOrDevice s) {
  auto st = to_stream(s);
  Shape out;
  try {
    out = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape()), b.shape());
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("[where] shapes " + detail::shape_str(cond.shape()) + ", " +
                                detail::shape_str(a.shape()) + " and " +
                                detail::shape_str(b.shape()) + " cannot be broadcast together");
  }
  Dtype t = promote_types(a.dtype(), b.dtype());
  return detail::make(out, t, std::make_shared<Select>(st),
                      {astype(cond, bool_, st), astype(a, t, st), astype(b, t, st)});
}

array clip(const array& a, const std::optional<array>& a_min, const std::optional<array>& a_max,
           StreamOrDevice s) {
  if (!a_min && !a_max)
    throw std::invalid_argument("[clip] at least one of a_min and a_max must be given");
  array out = a;
  if (a_min) out = maximum(out, astype(*a_min, a.dtype(), s), s);
  if (a_max) out = minimum(out, astype(*a_max, a.dtype(), s), s);
  return out;
}

namespace {
array isclose_impl(const array& a, const array& b, double rtol, double atol, bool equal_nan,
                   StreamOrDevice s, const char* name) {
  try {
    broadcast_shapes(a.shape(), b.shape());
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("[") + name + "] shapes " +
                                detail::shape_str(a.shape()) + " and " +
                                detail::shape_str(b.shape()) + " cannot be broadcast together");
  }
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (!is_floating(t)) t = float32;
  array x = astype(a, t, s), y = astype(b, t, s);
  array diff = abs(subtract(x, y, s), s);
  array tol = add(array(static_cast<float>(atol), t),
                  multiply(array(static_cast<float>(rtol), t), abs(y, s), s), s);
  array out = less_equal(diff, tol, s);
  // like NumPy: where either side is infinite, only equal values are close (an infinite
  // tolerance rtol*|inf| must not make inf close to -inf or to a finite value)
  out = where(logical_or(isinf(x, s), isinf(y, s), s), equal(x, y, s), out, s);
  if (equal_nan) out = logical_or(out, logical_and(isnan(x, s), isnan(y, s), s), s);
  return out;
}
}  // namespace

array isclose(const array& a, const array& b, double rtol, double atol, bool equal_nan,
              StreamOrDevice s) {
  return isclose_impl(a, b, rtol, atol, equal_nan, s, "isclose");
}

array allclose(const array& a, const array& b, double rtol, double atol, bool equal_nan,
               StreamOrDevice s) {
  return all(isclose_impl(a, b, rtol, atol, equal_nan, s, "allclose"), false, s);
}

array array_equal(const array& a, const array& b, bool equal_nan, StreamOrDevice s) {
  if (a.shape() != b.shape()) return array(false);
  array eq = equal(a, b, s);
  if (equal_nan && (is_floating(a.dtype()) || is_floating(b.dtype())))
    eq = logical_or(eq, logical_and(isnan(a, s), isnan(b, s), s), s);
  return all(eq, false, s);
}

}  // namespace kiln
