// Derivative rules of the elementwise primitives: Unary, Binary, Select, AsType,
// StopGradient. vjp multiplies the cotangent by the partial derivative and sums it back to
// the input's (possibly broadcast) shape; jvp sums partial * tangent over the inputs.
// Integer and bool results carry no derivative (zeros).
#include <cmath>

#include "rules_util.h"

namespace kiln {

using autograd_detail::scalar;
using autograd_detail::sum_to;
using autograd_detail::to_shape;

namespace {

constexpr double kPi = 3.14159265358979323846;

bool zero_derivative(UnaryOp op) {
  switch (op) {
    case UnaryOp::Sign:
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::LogicalNot:
    case UnaryOp::IsNan:
    case UnaryOp::IsInf: return true;
    default: return false;
  }
}

// v * f'(x) for a unary op; `out` gives f(x) (computed lazily: jvp has no outputs).
template <typename Out>
array unary_times_derivative(UnaryOp op, const array& v, const array& x, Out&& out, Stream s) {
  Dtype t = x.dtype();
  auto c = [&](double val) { return scalar(val, t); };
  auto mul = [&](const array& d) { return multiply(v, d, s); };
  switch (op) {
    case UnaryOp::Identity: return v;
    case UnaryOp::Negative: return negative(v, s);
    case UnaryOp::Abs: return mul(sign(x, s));
    case UnaryOp::Square: return mul(multiply(c(2), x, s));
    case UnaryOp::Sqrt: return divide(multiply(v, c(0.5), s), out(), s);         // 1 / (2 sqrt x)
    case UnaryOp::Rsqrt: return mul(multiply(c(-0.5), divide(out(), x, s), s));  // -x^-3/2 / 2
    case UnaryOp::Exp: return mul(out());
    case UnaryOp::Expm1: return mul(add(out(), c(1), s));
    case UnaryOp::Log: return divide(v, x, s);
    case UnaryOp::Log1p: return divide(v, add(x, c(1), s), s);
    case UnaryOp::Log2: return divide(v, multiply(x, c(std::log(2.0)), s), s);
    case UnaryOp::Sin: return mul(cos(x, s));
    case UnaryOp::Cos: return negative(mul(sin(x, s)), s);
    case UnaryOp::Tan: return mul(add(c(1), square(out(), s), s));        // 1 + tan^2
    case UnaryOp::Tanh: return mul(subtract(c(1), square(out(), s), s));  // 1 - tanh^2
    case UnaryOp::Sinh: return mul(cosh(x, s));
    case UnaryOp::Cosh: return mul(sinh(x, s));
    case UnaryOp::ArcSin: return mul(rsqrt(subtract(c(1), square(x, s), s), s));
    case UnaryOp::ArcCos: return negative(mul(rsqrt(subtract(c(1), square(x, s), s), s)), s);
    case UnaryOp::ArcTan: return divide(v, add(c(1), square(x, s), s), s);
    case UnaryOp::Sigmoid: {
      array y = out();
      return mul(multiply(y, subtract(c(1), y, s), s));
    }
    case UnaryOp::Erf:  // 2/sqrt(pi) exp(-x^2)
      return mul(multiply(c(2.0 / std::sqrt(kPi)), exp(negative(square(x, s), s), s), s));
    case UnaryOp::ErfInv:  // sqrt(pi)/2 exp(erfinv(x)^2)
      return mul(multiply(c(std::sqrt(kPi) / 2.0), exp(square(out(), s), s), s));
    default: return zeros_like(x, s);
  }
}

// v * d(op(a, b))/d(arg); the result has the broadcast shape (or broadcasts to it).
template <typename Out>
array binary_times_partial(BinaryOp op, int arg, const array& v, const array& a, const array& b,
                           Out&& out, Stream s) {
  Dtype t = a.dtype();
  auto c = [&](double val) { return scalar(val, t); };
  auto zero = [&] { return zeros_like(arg == 0 ? a : b, s); };
  switch (op) {
    case BinaryOp::Add: return v;
    case BinaryOp::Subtract: return arg == 0 ? v : negative(v, s);
    case BinaryOp::Multiply: return multiply(v, arg == 0 ? b : a, s);
    case BinaryOp::Divide:
      return arg == 0 ? divide(v, b, s) : negative(divide(multiply(v, a, s), square(b, s), s), s);
    case BinaryOp::Maximum:  // ties go to the second operand (MLX)
      return where(arg == 0 ? greater(a, b, s) : less_equal(a, b, s), v, c(0), s);
    case BinaryOp::Minimum:  // ties go to the second operand (MLX)
      return where(arg == 0 ? less(a, b, s) : greater_equal(a, b, s), v, c(0), s);
    case BinaryOp::Power:
      if (arg == 0)  // b * a^(b-1)
        return multiply(v, multiply(b, power(a, subtract(b, c(1), s), s), s), s);
      else {  // log(a) * a^b, with 0 * log 0 taken as 0
        array o = out();
        return multiply(v, where(not_equal(o, c(0), s), multiply(log(a, s), o, s), c(0), s), s);
      }
    case BinaryOp::Remainder:  // a - b * floor(a / b)
      return arg == 0 ? v : negative(multiply(v, floor(divide(a, b, s), s), s), s);
    case BinaryOp::ArcTan2: {  // atan2(a, b): (b, -a) / (a^2 + b^2)
      array d = add(square(a, s), square(b, s), s);
      return arg == 0 ? divide(multiply(v, b, s), d, s)
                      : negative(divide(multiply(v, a, s), d, s), s);
    }
    case BinaryOp::LogAddExp:
      return multiply(v, sigmoid(arg == 0 ? subtract(a, b, s) : subtract(b, a, s), s), s);
    default:  // FloorDivide (piecewise constant), comparisons, logical ops
      return zero();
  }
}

}  // namespace

// ------------------------------------------------------------------ Unary
std::vector<array> Unary::vjp(const std::vector<array>& primals,
                              const std::vector<array>& cotangents, const std::vector<int>& argnums,
                              const std::vector<array>& outputs) {
  const array& x = primals[0];
  if (zero_derivative(op_) || !is_floating(x.dtype())) return {zeros_like(x, stream())};
  return {unary_times_derivative(
      op_, cotangents[0], x, [&] { return outputs[0]; }, stream())};
}

std::vector<array> Unary::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums) {
  const array& x = primals[0];
  Dtype od = unary_out_dtype(op_, x.dtype());
  if (zero_derivative(op_) || !is_floating(x.dtype())) return {zeros(x.shape(), od, stream())};
  auto out = [&] { return array(x.shape(), od, std::make_shared<Unary>(stream(), op_), {x}); };
  return {unary_times_derivative(op_, tangents[0], x, out, stream())};
}

// ------------------------------------------------------------------ Binary
std::vector<array> Binary::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array &a = primals[0], &b = primals[1];
  std::vector<array> res;
  for (int arg : argnums) {
    const array& in = primals[arg];
    if (!is_floating(outputs[0].dtype()) || is_comparison(op_)) {
      res.push_back(zeros_like(in, stream()));
      continue;
    }
    array g = binary_times_partial(
        op_, arg, cotangents[0], a, b, [&] { return outputs[0]; }, stream());
    res.push_back(sum_to(to_shape(g, outputs[0].shape(), stream()), in.shape(), stream()));
  }
  return res;
}

std::vector<array> Binary::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  const array &a = primals[0], &b = primals[1];
  Shape out_shape = broadcast_shapes(a.shape(), b.shape());
  Dtype od = is_comparison(op_) ? bool_ : a.dtype();
  if (!is_floating(od) || is_comparison(op_)) return {zeros(out_shape, od, stream())};
  auto out = [&] { return array(out_shape, od, std::make_shared<Binary>(stream(), op_), {a, b}); };
  array total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array t = binary_times_partial(op_, argnums[k], tangents[k], a, b, out, stream());
    total = total.valid() ? add(total, t, stream()) : t;
  }
  return {to_shape(total, out_shape, stream())};
}

// ------------------------------------------------------------------ Select
// where(cond, a, b): the cotangent goes to a where cond holds, to b elsewhere.
std::vector<array> Select::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& cond = primals[0];
  const array& g = cotangents[0];
  array zero = scalar(0, g.dtype());
  std::vector<array> res;
  for (int arg : argnums) {
    const array& in = primals[arg];
    if (arg == 0 || !is_floating(in.dtype())) {
      res.push_back(zeros_like(in, stream()));
      continue;
    }
    array r = arg == 1 ? where(cond, g, zero, stream()) : where(cond, zero, g, stream());
    res.push_back(sum_to(to_shape(r, g.shape(), stream()), in.shape(), stream()));
  }
  return res;
}

std::vector<array> Select::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  const array &cond = primals[0], &a = primals[1], &b = primals[2];
  Shape out_shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape()), b.shape());
  if (!is_floating(a.dtype())) return {zeros(out_shape, a.dtype(), stream())};
  int ka = autograd_detail::arg_pos(argnums, 1), kb = autograd_detail::arg_pos(argnums, 2);
  array zero = scalar(0, a.dtype());
  array ta = ka >= 0 ? tangents[ka] : zero;
  array tb = kb >= 0 ? tangents[kb] : zero;
  return {to_shape(where(cond, ta, tb, stream()), out_shape, stream())};
}

// ------------------------------------------------------------------ AsType
// Float <-> float casts pass derivatives through (cast back); casts from or to integer or
// bool types are piecewise constant: zero.
std::vector<array> AsType::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& x = primals[0];
  if (!is_floating(x.dtype()) || !is_floating(dtype_)) return {zeros_like(x, stream())};
  return {astype(cotangents[0], x.dtype(), stream())};
}

std::vector<array> AsType::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  const array& x = primals[0];
  if (!is_floating(x.dtype()) || !is_floating(dtype_)) return {zeros(x.shape(), dtype_, stream())};
  return {astype(tangents[0], dtype_, stream())};
}

// ------------------------------------------------------------------ StopGradient
std::vector<array> StopGradient::vjp(const std::vector<array>& primals,
                                     const std::vector<array>& cotangents,
                                     const std::vector<int>& argnums,
                                     const std::vector<array>& outputs) {
  return {zeros_like(primals[0], stream())};
}

std::vector<array> StopGradient::jvp(const std::vector<array>& primals,
                                     const std::vector<array>& tangents,
                                     const std::vector<int>& argnums) {
  return {zeros_like(primals[0], stream())};
}

}  // namespace kiln
