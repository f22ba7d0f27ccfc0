// Derivative rules of the indexing primitives (Gather, ScatterAdd, GatherAxis, ScatterAxis)
// and Sort. A gather's adjoint is a scatter-add (repeated indices accumulate) and vice versa.
// Indices are integers: asking for their derivative is an error that points to
// stop_gradient.
#include "rules_util.h"

namespace kiln {

using autograd_detail::tangent_or_zeros;
using autograd_detail::throw_index_grad;

namespace {
void reject_index_args(const std::vector<int>& argnums, int index_arg, const char* op,
                       const char* mode) {
  for (int a : argnums)
    if (a == index_arg) throw_index_grad(op, mode);
}
}  // namespace

// take(a, indices, axis)
std::vector<array> Gather::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  reject_index_args(argnums, 1, "take", "vjp");
  const array &a = primals[0], &idx = primals[1];
  return {scatter_add(zeros_like(a, stream()), idx, cotangents[0], axis_, stream())};
}
std::vector<array> Gather::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  reject_index_args(argnums, 1, "take", "jvp");
  return {take(tangents[0], primals[1], axis_, stream())};
}

// scatter_add(a, indices, updates, axis)
std::vector<array> ScatterAdd::vjp(const std::vector<array>& primals,
                                   const std::vector<array>& cotangents,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  reject_index_args(argnums, 1, "scatter_add", "vjp");
  const array& g = cotangents[0];
  std::vector<array> res;
  for (int arg : argnums) res.push_back(arg == 0 ? g : take(g, primals[1], axis_, stream()));
  return res;
}
std::vector<array> ScatterAdd::jvp(const std::vector<array>& primals,
                                   const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  reject_index_args(argnums, 1, "scatter_add", "jvp");
  array ta = tangent_or_zeros(primals, tangents, argnums, 0, stream());
  array tu = tangent_or_zeros(primals, tangents, argnums, 2, stream());
  return {scatter_add(ta, primals[1], tu, axis_, stream())};
}

// take_along_axis(a, indices, axis)
std::vector<array> GatherAxis::vjp(const std::vector<array>& primals,
                                   const std::vector<array>& cotangents,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  reject_index_args(argnums, 1, "take_along_axis", "vjp");
  const array &a = primals[0], &idx = primals[1];
  return {scatter_add_along_axis(zeros_like(a, stream()), idx, cotangents[0], axis_, stream())};
}
std::vector<array> GatherAxis::jvp(const std::vector<array>& primals,
                                   const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  reject_index_args(argnums, 1, "take_along_axis", "jvp");
  return {take_along_axis(tangents[0], primals[1], axis_, stream())};
}

// put_along_axis / scatter_add_along_axis(a, indices, values, axis). For put, the positions
// written are overwritten, so a's cotangent is zero there; every written value receives the
// cotangent of its destination (with repeated indices, each writer does: which one wins is
// unspecified, as in MLX).
std::vector<array> ScatterAxis::vjp(const std::vector<array>& primals,
                                    const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const char* op = add_ ? "scatter_add_along_axis" : "put_along_axis";
  reject_index_args(argnums, 1, op, "vjp");
  const array& g = cotangents[0];
  const array &idx = primals[1], &v = primals[2];
  std::vector<array> res;
  for (int arg : argnums) {
    if (arg == 0)
      res.push_back(add_ ? g : put_along_axis(g, idx, zeros_like(v, stream()), axis_, stream()));
    else
      res.push_back(take_along_axis(g, idx, axis_, stream()));
  }
  return res;
}
std::vector<array> ScatterAxis::jvp(const std::vector<array>& primals,
                                    const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  const char* op = add_ ? "scatter_add_along_axis" : "put_along_axis";
  reject_index_args(argnums, 1, op, "jvp");
  array ta = tangent_or_zeros(primals, tangents, argnums, 0, stream());
  array tv = tangent_or_zeros(primals, tangents, argnums, 2, stream());
  return {add_ ? scatter_add_along_axis(ta, primals[1], tv, axis_, stream())
               : put_along_axis(ta, primals[1], tv, axis_, stream())};
}

// sort: the derivative follows the (stable) sorting permutation; argsort has none.
std::vector<array> Sort::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents, const std::vector<int>& argnums,
                             const std::vector<array>&) {
  const array& x = primals[0];
  if (arg_ || !is_floating(x.dtype())) return {zeros_like(x, stream())};
  array perm = stop_gradient(argsort(x, axis_, stream()), stream());
  return {scatter_add_along_axis(zeros_like(x, stream()), perm, cotangents[0], axis_, stream())};
}
std::vector<array> Sort::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>& argnums) {
  const array& x = primals[0];
  if (arg_) return {zeros(x.shape(), uint32, stream())};
  if (!is_floating(x.dtype())) return {zeros_like(x, stream())};
  array perm = stop_gradient(argsort(x, axis_, stream()), stream());
  return {take_along_axis(tangents[0], perm, axis_, stream())};
}

}  // namespace kiln
