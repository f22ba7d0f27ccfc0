#include "primitives.h"

#include <sstream>

#include "errors.h"
#include "ops.h"

namespace kiln {

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw TransformError("[vjp] not implemented for " + name());
}
std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&) {
  throw TransformError("[jvp] not implemented for " + name());
}
std::vector<Shape> Primitive::output_shapes(const std::vector<array>&) {
  throw std::invalid_argument(
      "[compile] the primitive " + name() +
      " cannot infer its output shape from its input shapes, so it cannot be used in a "
      "shapeless compiled function (compile with shapeless = false)");
}

namespace {
template <typename T>
const T* same(const Primitive& self, const Primitive& o) {
  return typeid(self) == typeid(o) ? static_cast<const T*>(&o) : nullptr;
}
Shape bshape(const std::vector<array>& inputs) {
  Shape s;
  for (auto& in : inputs) s = broadcast_shapes(s, in.shape());
  return s;
}
}  // namespace

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {
      "Abs",   "Negative", "Sign",   "Square", "Sqrt",    "Rsqrt",    "Exp",   "Expm1",
      "Log",   "Log1p",    "Log2",   "Sin",    "Cos",     "Tan",      "Tanh",  "Sinh",
      "Cosh",  "ArcSin",   "ArcCos", "ArcTan", "Sigmoid", "Erf",      "ErfInv", "Floor",
      "Ceil",  "Round",    "LogicalNot", "IsNan", "IsInf", "Identity"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<int>(UnaryOp::Count_));
  return names[static_cast<int>(op)];
}

Dtype unary_out_dtype(UnaryOp op, Dtype in) {
  switch (op) {
    case UnaryOp::LogicalNot:
    case UnaryOp::IsNan:
    case UnaryOp::IsInf: return bool_;
    default: return in;
  }
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"Add",        "Subtract",  "Multiply",  "Divide",
                                "FloorDivide", "Maximum",  "Minimum",   "Power",
                                "Remainder",  "ArcTan2",   "LogAddExp", "Equal",
                                "NotEqual",   "Less",      "LessEqual", "Greater",
                                "GreaterEqual", "LogicalAnd", "LogicalOr"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<int>(BinaryOp::Count_));
  return names[static_cast<int>(op)];
}

bool is_comparison(BinaryOp op) {
  return op == BinaryOp::Equal || op == BinaryOp::NotEqual || op == BinaryOp::Less ||
         op == BinaryOp::LessEqual || op == BinaryOp::Greater || op == BinaryOp::GreaterEqual ||
         op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr;
}

bool Unary::is_equivalent(const Primitive& o) const {
  auto p = same<Unary>(*this, o);
  return p && p->op_ == op_;
}
std::vector<Shape> Unary::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }

bool Binary::is_equivalent(const Primitive& o) const {
  auto p = same<Binary>(*this, o);
  return p && p->op_ == op_;
}
std::vector<Shape> Binary::output_shapes(const std::vector<array>& in) { return {bshape(in)}; }

bool Select::is_equivalent(const Primitive& o) const { return same<Select>(*this, o); }
std::vector<Shape> Select::output_shapes(const std::vector<array>& in) { return {bshape(in)}; }

bool AsType::is_equivalent(const Primitive& o) const {
  auto p = same<AsType>(*this, o);
  return p && p->dtype_ == dtype_;
}
std::vector<Shape> AsType::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }

bool StopGradient::is_equivalent(const Primitive& o) const { return same<StopGradient>(*this, o); }
std::vector<Shape> StopGradient::output_shapes(const std::vector<array>& in) {
  return {in[0].shape()};
}

bool Arange::is_equivalent(const Primitive& o) const {
  auto p = same<Arange>(*this, o);
  return p && p->start_ == start_ && p->step_ == step_;
}

bool Broadcast::is_equivalent(const Primitive& o) const {
  auto p = same<Broadcast>(*this, o);
  return p && p->shape_ == shape_;
}
bool Reshape::is_equivalent(const Primitive& o) const {
  auto p = same<Reshape>(*this, o);
  return p && p->shape_ == shape_;
}

bool Flatten::is_equivalent(const Primitive& o) const {
  auto p = same<Flatten>(*this, o);
  return p && p->start_ == start_ && p->end_ == end_;
}
Shape Flatten::output_shape(const Shape& in, int start, int end) {
  int nd = static_cast<int>(in.size());
  if (nd == 0) return {1};
  int s = start < 0 ? start + nd : start;
  int e = end < 0 ? end + nd : end;
  Shape out(in.begin(), in.begin() + s);
  int prod = 1;
  for (int i = s; i <= e; ++i) prod *= in[i];
  out.push_back(prod);
  out.insert(out.end(), in.begin() + e + 1, in.end());
  return out;
}
std::vector<Shape> Flatten::output_shapes(const std::vector<array>& in) {
  return {output_shape(in[0].shape(), start_, end_)};
}

bool Transpose::is_equivalent(const Primitive& o) const {
  auto p = same<Transpose>(*this, o);
  return p && p->axes_ == axes_;
}
std::vector<Shape> Transpose::output_shapes(const std::vector<array>& in) {
  Shape out;
  for (int ax : axes_) out.push_back(in[0].shape()[ax]);
  return {out};
}

bool Slice::is_equivalent(const Primitive& o) const {
  auto p = same<Slice>(*this, o);
  return p && p->start_ == start_ && p->stop_ == stop_ && p->strides_ == strides_;
}
bool SliceUpdate::is_equivalent(const Primitive& o) const {
  auto p = same<SliceUpdate>(*this, o);
  return p && p->start_ == start_ && p->stop_ == stop_ && p->strides_ == strides_;
}
std::vector<Shape> SliceUpdate::output_shapes(const std::vector<array>& in) {
  return {in[0].shape()};
}

bool Concatenate::is_equivalent(const Primitive& o) const {
  auto p = same<Concatenate>(*this, o);
  return p && p->axis_ == axis_;
}
std::vector<Shape> Concatenate::output_shapes(const std::vector<array>& in) {
  Shape s = in[0].shape();
  s[axis_] = 0;
  for (auto& a : in) s[axis_] += a.shape(axis_);
  return {s};
}

bool Gather::is_equivalent(const Primitive& o) const {
  auto p = same<Gather>(*this, o);
  return p && p->axis_ == axis_;
}
std::vector<Shape> Gather::output_shapes(const std::vector<array>& in) {
  const Shape& a = in[0].shape();
  Shape out(a.begin(), a.begin() + axis_);
  out.insert(out.end(), in[1].shape().begin(), in[1].shape().end());
  out.insert(out.end(), a.begin() + axis_ + 1, a.end());
  return {out};
}
bool ScatterAdd::is_equivalent(const Primitive& o) const {
  auto p = same<ScatterAdd>(*this, o);
  return p && p->axis_ == axis_;
}
std::vector<Shape> ScatterAdd::output_shapes(const std::vector<array>& in) {
  return {in[0].shape()};
}
bool GatherAxis::is_equivalent(const Primitive& o) const {
  auto p = same<GatherAxis>(*this, o);
  return p && p->axis_ == axis_;
}
std::vector<Shape> GatherAxis::output_shapes(const std::vector<array>& in) {
  return {in[1].shape()};
}
bool ScatterAxis::is_equivalent(const Primitive& o) const {
  auto p = same<ScatterAxis>(*this, o);
  return p && p->axis_ == axis_ && p->add_ == add_;
}
std::vector<Shape> ScatterAxis::output_shapes(const std::vector<array>& in) {
  return {in[0].shape()};
}

std::string Reduce::name() const {
  static const char* n[] = {"Sum", "Prod", "Max", "Min", "All", "Any"};
  return n[static_cast<int>(op_)];
}
bool Reduce::is_equivalent(const Primitive& o) const {
  auto p = same<Reduce>(*this, o);
  return p && p->op_ == op_ && p->axes_ == axes_;
}
std::vector<Shape> Reduce::output_shapes(const std::vector<array>& in) {
  Shape s = in[0].shape();
  for (int ax : axes_) s[ax] = 1;
  return {s};
}

bool ArgReduce::is_equivalent(const Primitive& o) const {
  auto p = same<ArgReduce>(*this, o);
  return p && p->op_ == op_ && p->axis_ == axis_;
}
std::vector<Shape> ArgReduce::output_shapes(const std::vector<array>& in) {
  Shape s = in[0].shape();
  s[axis_] = 1;
  return {s};
}

std::string Scan::name() const {
  static const char* n[] = {"CumSum", "CumProd", "CumMax", "CumMin"};
  return n[static_cast<int>(op_)];
}
bool Scan::is_equivalent(const Primitive& o) const {
  auto p = same<Scan>(*this, o);
  return p && p->op_ == op_ && p->axis_ == axis_ && p->reverse_ == reverse_ &&
         p->inclusive_ == inclusive_;
}
std::vector<Shape> Scan::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }

bool Sort::is_equivalent(const Primitive& o) const {
  auto p = same<Sort>(*this, o);
  return p && p->axis_ == axis_ && p->arg_ == arg_;
}
std::vector<Shape> Sort::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }

bool Matmul::is_equivalent(const Primitive& o) const {
  auto p = same<Matmul>(*this, o);
  return p && p->ta_ == ta_ && p->tb_ == tb_;
}
std::vector<Shape> Matmul::output_shapes(const std::vector<array>& in) {
  const Shape &a = in[0].shape(), &b = in[1].shape();
  Shape s = a;
  s[s.size() - 2] = ta_ ? a.back() : a[a.size() - 2];
  s.back() = tb_ ? b[b.size() - 2] : b.back();
  return {s};
}
void Matmul::print(std::ostream& os) const {
  os << "Matmul";
  if (ta_ || tb_) os << "(" << (ta_ ? "T" : "N") << (tb_ ? "T" : "N") << ")";
}

bool RandomBits::is_equivalent(const Primitive& o) const {
  auto p = same<RandomBits>(*this, o);
  return p && p->shape_ == shape_;
}

}  // namespace kiln
