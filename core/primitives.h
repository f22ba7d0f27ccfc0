// Every primitive of the core, in one header. A primitive's methods live where their
// concern lives: construction/shapes here (core/primitives.cpp), eval_cpu in cpu/,
// eval_gpu in gpu/, vjp/jvp in autograd/.
#pragma once
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "array.h"

namespace kiln {

// What fusion and codegen switch on.
enum class PrimitiveKind { unary, binary, ternary, broadcast, reduction, movement, opaque };

class Primitive {
 public:
  explicit Primitive(Stream stream) : stream_(stream) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  // Compute outputs (whose shape/dtype are set) from evaluated inputs.
  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  virtual void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;

  // Reverse mode: cotangents of the inputs listed in argnums.
  virtual std::vector<array> vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums,
                                 const std::vector<array>& outputs);
  // Forward mode: tangents of the outputs given tangents of the inputs in argnums.
  virtual std::vector<array> jvp(const std::vector<array>& primals,
                                 const std::vector<array>& tangents,
                                 const std::vector<int>& argnums);

  virtual std::string name() const = 0;
  // True when `other` computes the same function of the same inputs (all parameters equal).
  virtual bool is_equivalent(const Primitive& other) const { return false; }
  // Output shapes from input shapes (shapeless compile); throws if not expressible.
  virtual std::vector<Shape> output_shapes(const std::vector<array>& inputs);
  virtual PrimitiveKind kind() const { return PrimitiveKind::opaque; }
  virtual void print(std::ostream& os) const { os << name(); }

  const Stream& stream() const { return stream_; }
  Device device() const { return stream_.device; }

 private:
  Stream stream_;
};

#define KILN_DECLARE_EVAL                                                                    \
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;    \
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
#define KILN_DECLARE_GRADS                                                                   \
  std::vector<array> vjp(const std::vector<array>& primals,                                  \
                         const std::vector<array>& cotangents,                               \
                         const std::vector<int>& argnums,                                    \
                         const std::vector<array>& outputs) override;                        \
  std::vector<array> jvp(const std::vector<array>& primals,                                  \
                         const std::vector<array>& tangents, const std::vector<int>& argnums) \
      override;

// ---------------------------------------------------------------- elementwise
enum class UnaryOp {
  Abs, Negative, Sign, Square, Sqrt, Rsqrt, Exp, Expm1, Log, Log1p, Log2, Sin, Cos, Tan,
  Tanh, Sinh, Cosh, ArcSin, ArcCos, ArcTan, Sigmoid, Erf, ErfInv, Floor, Ceil, Round,
  LogicalNot, IsNan, IsInf, Identity,
  Count_
};
const char* unary_op_name(UnaryOp op);
// Output dtype of a unary op for an input dtype (isnan/isinf/logical_not → bool).
Dtype unary_out_dtype(UnaryOp op, Dtype in);

enum class BinaryOp {
  Add, Subtract, Multiply, Divide, FloorDivide, Maximum, Minimum, Power, Remainder, ArcTan2,
  LogAddExp, Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, LogicalAnd, LogicalOr,
  Count_
};
const char* binary_op_name(BinaryOp op);
bool is_comparison(BinaryOp op);

// Inputs of elementwise primitives may have different shapes; they broadcast to the output.
class Unary : public Primitive {
 public:
  Unary(Stream s, UnaryOp op) : Primitive(s), op_(op) {}
  UnaryOp op() const { return op_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return unary_op_name(op_); }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::unary; }

 private:
  UnaryOp op_;
};

class Binary : public Primitive {
 public:
  Binary(Stream s, BinaryOp op) : Primitive(s), op_(op) {}
  BinaryOp op() const { return op_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return binary_op_name(op_); }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::binary; }

 private:
  BinaryOp op_;
};

// where(cond, a, b)
class Select : public Primitive {
 public:
  explicit Select(Stream s) : Primitive(s) {}
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Select"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::ternary; }
};

class AsType : public Primitive {
 public:
  AsType(Stream s, Dtype d) : Primitive(s), dtype_(d) {}
  Dtype dtype() const { return dtype_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "AsType"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::unary; }

 private:
  Dtype dtype_;
};

// Identity whose gradient is zero.
class StopGradient : public Primitive {
 public:
  explicit StopGradient(Stream s) : Primitive(s) {}
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "StopGradient"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::unary; }
};

// ---------------------------------------------------------------- creation
// start + step * i (output shape (n,))
class Arange : public Primitive {
 public:
  Arange(Stream s, double start, double step) : Primitive(s), start_(start), step_(step) {}
  double start() const { return start_; }
  double step() const { return step_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Arange"; }
  bool is_equivalent(const Primitive& o) const override;

 private:
  double start_, step_;
};

// ---------------------------------------------------------------- movement
class Broadcast : public Primitive {
 public:
  Broadcast(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  const Shape& shape() const { return shape_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Broadcast"; }
  bool is_equivalent(const Primitive& o) const override;
  PrimitiveKind kind() const override { return PrimitiveKind::broadcast; }

 private:
  Shape shape_;
};

class Reshape : public Primitive {
 public:
  Reshape(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  const Shape& shape() const { return shape_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Reshape"; }
  bool is_equivalent(const Primitive& o) const override;
  PrimitiveKind kind() const override { return PrimitiveKind::movement; }

 private:
  Shape shape_;
};

// Flatten(start, end): a reshape that stays valid when shapes change (shapeless compile).
class Flatten : public Primitive {
 public:
  Flatten(Stream s, int start, int end) : Primitive(s), start_(start), end_(end) {}
  int start_axis() const { return start_; }
  int end_axis() const { return end_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Flatten"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::movement; }
  static Shape output_shape(const Shape& in, int start, int end);

 private:
  int start_, end_;
};

class Transpose : public Primitive {
 public:
  Transpose(Stream s, std::vector<int> axes) : Primitive(s), axes_(std::move(axes)) {}
  const std::vector<int>& axes() const { return axes_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Transpose"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::movement; }

 private:
  std::vector<int> axes_;
};

// out[i] = in[start + i*stride] per axis; negative strides allowed (flip).
class Slice : public Primitive {
 public:
  Slice(Stream s, Shape start, Shape stop, Shape strides)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)),
        strides_(std::move(strides)) {}
  const Shape& start() const { return start_; }
  const Shape& stop() const { return stop_; }
  const Shape& strides() const { return strides_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Slice"; }
  bool is_equivalent(const Primitive& o) const override;
  PrimitiveKind kind() const override { return PrimitiveKind::movement; }

 private:
  Shape start_, stop_, strides_;
};

// inputs (src, update): src with the sliced region replaced by update.
class SliceUpdate : public Primitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape stop, Shape strides)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)),
        strides_(std::move(strides)) {}
  const Shape& start() const { return start_; }
  const Shape& stop() const { return stop_; }
  const Shape& strides() const { return strides_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "SliceUpdate"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 private:
  Shape start_, stop_, strides_;
};

class Concatenate : public Primitive {
 public:
  Concatenate(Stream s, int axis) : Primitive(s), axis_(axis) {}
  int axis() const { return axis_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Concatenate"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 private:
  int axis_;
};

// ---------------------------------------------------------------- indexing
// take(a, indices, axis): out = a.shape[:axis] + indices.shape + a.shape[axis+1:].
// Negative indices count from the end; out-of-range indices are clamped.
class Gather : public Primitive {
 public:
  Gather(Stream s, int axis) : Primitive(s), axis_(axis) {}
  int axis() const { return axis_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Gather"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 private:
  int axis_;
};

// inputs (a, indices, updates) laid out like Gather's output: a with updates added
// (accumulating repeated indices) at indices along axis.
class ScatterAdd : public Primitive {
 public:
  ScatterAdd(Stream s, int axis) : Primitive(s), axis_(axis) {}
  int axis() const { return axis_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "ScatterAdd"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 private:
  int axis_;
};

// take_along_axis(a, indices, axis); indices has a's ndim (already broadcast by the op).
class GatherAxis : public Primitive {
 public:
  GatherAxis(Stream s, int axis) : Primitive(s), axis_(axis) {}
  int axis() const { return axis_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "GatherAxis"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 private:
  int axis_;
};

// put_along_axis / scatter-add along axis: inputs (a, indices, values), all of a's ndim.
class ScatterAxis : public Primitive {
 public:
  ScatterAxis(Stream s, int axis, bool add) : Primitive(s), axis_(axis), add_(add) {}
  int axis() const { return axis_; }
  bool add() const { return add_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return add_ ? "ScatterAddAxis" : "PutAlongAxis"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 private:
  int axis_;
  bool add_;
};

// ---------------------------------------------------------------- reductions
enum class ReduceOp { Sum, Prod, Max, Min, And, Or };
// Output keeps the reduced axes as size 1 (ops squeeze them when keepdims is false).
class Reduce : public Primitive {
 public:
  Reduce(Stream s, ReduceOp op, std::vector<int> axes)
      : Primitive(s), op_(op), axes_(std::move(axes)) {}
  ReduceOp op() const { return op_; }
  const std::vector<int>& axes() const { return axes_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override;
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::reduction; }

 private:
  ReduceOp op_;
  std::vector<int> axes_;
};

enum class ArgReduceOp { ArgMax, ArgMin };
// Index (uint32) of the first max/min along axis; output keeps the axis as size 1.
class ArgReduce : public Primitive {
 public:
  ArgReduce(Stream s, ArgReduceOp op, int axis) : Primitive(s), op_(op), axis_(axis) {}
  ArgReduceOp op() const { return op_; }
  int axis() const { return axis_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return op_ == ArgReduceOp::ArgMax ? "ArgMax" : "ArgMin"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  PrimitiveKind kind() const override { return PrimitiveKind::reduction; }

 private:
  ArgReduceOp op_;
  int axis_;
};

enum class ScanOp { Sum, Prod, Max, Min };
class Scan : public Primitive {
 public:
  Scan(Stream s, ScanOp op, int axis, bool reverse, bool inclusive)
      : Primitive(s), op_(op), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  ScanOp op() const { return op_; }
  int axis() const { return axis_; }
  bool reverse() const { return reverse_; }
  bool inclusive() const { return inclusive_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override;
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 private:
  ScanOp op_;
  int axis_;
  bool reverse_, inclusive_;
};

// Sort (values) or ArgSort (uint32 indices) along axis; stable.
class Sort : public Primitive {
 public:
  Sort(Stream s, int axis, bool arg) : Primitive(s), axis_(axis), arg_(arg) {}
  int axis() const { return axis_; }
  bool arg() const { return arg_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return arg_ ? "ArgSort" : "Sort"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 private:
  int axis_;
  bool arg_;
};

// ---------------------------------------------------------------- linear algebra
// (..., M, K) @ (..., K, N) with equal batch shapes (the op broadcasts them).
// (..., M, K) @ (..., K, N). With transpose_a the first input is stored (..., K, M), with
// transpose_b the second is (..., N, K): compile folds swapaxes(x, -1, -2) feeding a matmul
// into these flags (compile/passes.cpp) so that the transpose is never materialized.
class Matmul : public Primitive {
 public:
  explicit Matmul(Stream s, bool transpose_a = false, bool transpose_b = false)
      : Primitive(s), ta_(transpose_a), tb_(transpose_b) {}
  bool transpose_a() const { return ta_; }
  bool transpose_b() const { return tb_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "Matmul"; }
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  void print(std::ostream& os) const override;

 private:
  bool ta_, tb_;
};

// ---------------------------------------------------------------- random
// uint32 random bits of `shape` from a (2,) uint32 key (Threefry-2x32, 20 rounds).
class RandomBits : public Primitive {
 public:
  RandomBits(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  const Shape& shape() const { return shape_; }
  KILN_DECLARE_EVAL
  KILN_DECLARE_GRADS
  std::string name() const override { return "RandomBits"; }
  bool is_equivalent(const Primitive& o) const override;

 private:
  Shape shape_;
};

#undef KILN_DECLARE_EVAL_ONLY

}  // namespace kiln
