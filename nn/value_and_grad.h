// nn::value_and_grad: the loss of a model and its gradients w.r.t. the trainable parameters
// (MLX's mlx.nn.value_and_grad).
#pragma once
#include <stdexcept>
#include <utility>
#include <vector>

#include "../autograd/transforms.h"
#include "module.h"

namespace kiln::nn {

// Returns a callable (args...) -> std::pair<array, Params>: it calls loss_fn(args...), which
// must return the scalar loss as an array and may read `model` (e.g. take it as its first
// argument), and returns the loss and the gradients of the model's trainable parameters,
// keyed like trainable_parameters(). Frozen parameters and non-trainable state get no
// gradient. The model keeps its parameters; state it changes during the call (BatchNorm
// running statistics) keeps the new values.
template <typename F>
auto value_and_grad(Module& model, F loss_fn) {
  return [&model, loss_fn = std::move(loss_fn)](auto&&... args) -> std::pair<array, Params> {
    Params trainable = model.trainable_parameters();
    if (trainable.empty())
      throw std::invalid_argument("[nn::value_and_grad] " + model.name() +
                                  " has no trainable parameters");
    std::vector<std::string> keys;
    std::vector<array> primals;
    std::vector<int> argnums;
    for (auto& [k, v] : trainable) {
      argnums.push_back(static_cast<int>(keys.size()));
      keys.push_back(k);
      primals.push_back(v);
    }
    VectorFn inner = [&](const std::vector<array>& p) -> std::vector<array> {
      Params params;
      for (size_t i = 0; i < keys.size(); ++i) params.emplace(keys[i], p[i]);
      model.update(params);
      return {array(loss_fn(args...))};
    };
    std::pair<std::vector<array>, std::vector<array>> result;
    try {
      result = kiln::value_and_grad(inner, argnums)(primals);
    } catch (...) {
      model.update(trainable);
      throw;
    }
    // The transform swapped tracers into the model: put the parameters back.
    model.update(trainable);
    Params grads;
    for (size_t i = 0; i < keys.size(); ++i) grads.emplace(keys[i], result.second[i]);
    return {result.first.at(0), std::move(grads)};
  };
}

}  // namespace kiln::nn
