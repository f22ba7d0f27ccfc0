// Loss functions, as in mlx.nn.losses, including MLX's per-loss default reductions (stated
// on each). Numerically stable: log-sum-exp for softmax losses, logaddexp for logits.
#pragma once
#include <optional>

#include "../core/array.h"

namespace kiln::nn::losses {

enum class Reduction { none, mean, sum };

// Applies a reduction to a per-element loss.
array reduce(const array& loss, Reduction reduction);

struct BinaryCrossEntropyOptions {
  bool with_logits = true;                      // inputs are logits (else probabilities)
  Reduction reduction = Reduction::mean;        // MLX default: mean
  std::optional<array> weights = std::nullopt;  // per-element weights (shape of the loss)
};
// With logits: log(1 + exp(x)) - x t (stable). With probabilities p:
// -(t log p + (1 - t) log(1 - p)), each log clipped below at -100 (as MLX).
array binary_cross_entropy(const array& inputs, const array& targets,
                           const BinaryCrossEntropyOptions& options = {});

struct CrossEntropyOptions {
  int axis = -1;                                // the class axis
  float label_smoothing = 0.f;                  // in [0, 1)
  Reduction reduction = Reduction::none;        // MLX default: none
  std::optional<array> weights = std::nullopt;  // per-sample weights (shape of the loss)
};
// logsumexp(logits) - score, where targets are class indices (integer, logits' shape without
// the class axis) or probabilities (logits' shape). With label smoothing s the score is
// (1 - s) * score + s * mean(logits over the class axis).
array cross_entropy(const array& logits, const array& targets,
                    const CrossEntropyOptions& options = {});

// Mean squared error. MLX default reduction: mean.
array mse_loss(const array& predictions, const array& targets,
               Reduction reduction = Reduction::mean);
// Mean absolute error. MLX default reduction: mean.
array l1_loss(const array& predictions, const array& targets,
              Reduction reduction = Reduction::mean);
// -inputs[target] along axis, inputs being log-probabilities. MLX defaults: axis -1, none.
array nll_loss(const array& inputs, const array& targets, int axis = -1,
               Reduction reduction = Reduction::none);
// Huber: 0.5 e^2 for |e| <= delta, delta (|e| - 0.5 delta) beyond. MLX defaults: delta 1, none.
array huber_loss(const array& inputs, const array& targets, float delta = 1.f,
                 Reduction reduction = Reduction::none);
// Smooth L1: 0.5 e^2 / beta for |e| < beta, |e| - 0.5 beta beyond. MLX defaults: beta 1, mean.
array smooth_l1_loss(const array& predictions, const array& targets, float beta = 1.f,
                     Reduction reduction = Reduction::mean);
// KL(targets || inputs) = sum(exp(t) (t - x)) along axis, both given as log-probabilities.
// MLX defaults: axis -1, none.
array kl_div_loss(const array& inputs, const array& targets, int axis = -1,
                  Reduction reduction = Reduction::none);

}  // namespace kiln::nn::losses
