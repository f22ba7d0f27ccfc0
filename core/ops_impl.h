// Internal helpers shared by the ops_*.cpp files.
#pragma once
#include <string>

#include "ops.h"
#include "primitives.h"

namespace kiln::detail {

inline int normalize_axis(int axis, int ndim, const char* op) {
  int ax = axis < 0 ? axis + ndim : axis;
  if (ax < 0 || ax >= ndim)
    throw std::invalid_argument(std::string("[") + op + "] axis " + std::to_string(axis) +
                                " is out of bounds for an array with " + std::to_string(ndim) +
                                " dimensions");
  return ax;
}

// Sorted, unique, non-negative axes (throws on duplicates / out of range).
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op);

inline array make(Shape shape, Dtype dtype, std::shared_ptr<Primitive> p,
                  std::vector<array> inputs) {
  return array(std::move(shape), dtype, std::move(p), std::move(inputs));
}

array unary_op(UnaryOp op, const array& a, StreamOrDevice s);
array binary_op(BinaryOp op, const array& a, const array& b, StreamOrDevice s, const char* name);

}  // namespace kiln::detail
