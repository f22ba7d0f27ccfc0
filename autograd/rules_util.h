// Helpers shared by the derivative rules (autograd/rules_*.cpp). Public ops only.
#pragma once
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../core/ops.h"
#include "../core/primitives.h"

namespace kiln::autograd_detail {

// Sums g (whose shape is a broadcast of `shape`) back down to `shape`: the adjoint of
// broadcasting.
inline array sum_to(const array& g, const Shape& shape, StreamOrDevice s) {
  if (g.shape() == shape) return g;
  int lead = g.ndim() - static_cast<int>(shape.size());
  std::vector<int> axes;
  for (int i = 0; i < lead; ++i) axes.push_back(i);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && g.shape()[lead + i] != 1) axes.push_back(lead + static_cast<int>(i));
  array r = axes.empty() ? g : sum(g, axes, true, s);
  return reshape(r, shape, s);
}

// A tangent contribution brought to the output's shape (elementwise rules may produce a
// smaller, broadcastable one).
inline array to_shape(const array& t, const Shape& shape, StreamOrDevice s) {
  return t.shape() == shape ? t : broadcast_to(t, shape, s);
}

inline array scalar(double v, Dtype d) { return array(static_cast<float>(v), d); }

// The error for a derivative asked with respect to integer indices.
[[noreturn]] inline void throw_index_grad(const std::string& op, const char* mode) {
  throw TransformError(
      "[" + std::string(mode) + "] " + op +
      " cannot be differentiated with respect to its integer indices. If the indices are "
      "computed from a differentiated input (e.g. argmax(x) or argsort(x)), wrap them in "
      "stop_gradient(); do not ask for gradients of index arguments.");
}

// Position of `i` in argnums, or -1.
inline int arg_pos(const std::vector<int>& argnums, int i) {
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] == i) return static_cast<int>(k);
  return -1;
}

// The tangent of input i (zeros when it is not among argnums).
inline array tangent_or_zeros(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums, int i, StreamOrDevice s) {
  int k = arg_pos(argnums, i);
  return k >= 0 ? tangents[k] : zeros_like(primals[i], s);
}

}  // namespace kiln::autograd_detail
