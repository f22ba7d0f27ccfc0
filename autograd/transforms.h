// Function transforms: vjp, jvp, grad, value_and_grad, custom_vjp, checkpoint.
// Semantics follow MLX. Transforms compose with each other and with compile.
// Integer/bool primals get zero gradients (and are constants under jvp); differentiating
// with respect to gather/scatter indices throws TransformError (use stop_gradient).
// Conventions of every rule: docs/autograd.md.
#pragma once
#include <functional>
#include <utility>
#include <vector>

#include "../core/array.h"

namespace kiln {

using VectorFn = std::function<std::vector<array>(const std::vector<array>&)>;
using ValueAndGradFn =
    std::function<std::pair<std::vector<array>, std::vector<array>>(const std::vector<array>&)>;
using GradFn = std::function<std::vector<array>(const std::vector<array>&)>;
using SimpleValueAndGradFn = std::function<std::pair<array, array>(const array&)>;

// Reverse mode: (outputs of fun(primals), cotangents of the primals).
std::pair<std::vector<array>, std::vector<array>> vjp(const VectorFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);
std::pair<array, array> vjp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& cotangent);

// Forward mode: (outputs of fun(primals), tangents of the outputs).
std::pair<std::vector<array>, std::vector<array>> jvp(const VectorFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);
std::pair<array, array> jvp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& tangent);

// fun returns {loss (scalar), aux...}; the result returns (values, grads w.r.t. argnums).
// Negative argnums count from the end.
ValueAndGradFn value_and_grad(const VectorFn& fun, const std::vector<int>& argnums = {0});
SimpleValueAndGradFn value_and_grad(const std::function<array(const array&)>& fun);
GradFn grad(const VectorFn& fun, const std::vector<int>& argnums = {0});
std::function<array(const array&)> grad(const std::function<array(const array&)>& fun);

// fun with a user-supplied vjp: vjp_fun(primals, cotangents, outputs) -> input cotangents.
using CustomVjpFn = std::function<std::vector<array>(
    const std::vector<array>&, const std::vector<array>&, const std::vector<array>&)>;
VectorFn custom_vjp(VectorFn fun, CustomVjpFn vjp_fun);

// fun whose intermediates are recomputed in the backward pass instead of stored.
VectorFn checkpoint(VectorFn fun);

}  // namespace kiln
