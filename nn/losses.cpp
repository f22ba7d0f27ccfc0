#include "losses.h"

#include <stdexcept>

#include "../core/ops.h"

namespace kiln::nn::losses {

namespace {
std::string shp(const array& x) { return detail::shape_str(x.shape()); }

void same_shape(const array& a, const array& b, const char* op) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(std::string("[") + op + "] inputs of shape " + shp(a) +
                                " and targets of shape " + shp(b) + " differ");
}

array apply_weights(const array& loss, const std::optional<array>& w, const char* op) {
  if (!w) return loss;
  if (w->shape() != loss.shape())
    throw std::invalid_argument(std::string("[") + op + "] weights of shape " + shp(*w) +
                                " do not match the loss of shape " + shp(loss));
  return loss * *w;
}

int norm_axis(int axis, int ndim, const char* op) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    throw std::invalid_argument(std::string("[") + op + "] axis " + std::to_string(axis) +
                                " out of range for " + std::to_string(ndim) + " dimensions");
  return a;
}
}  // namespace

array reduce(const array& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::mean:
      return mean(loss);
    case Reduction::sum:
      return sum(loss);
    default:
      return loss;
  }
}

array binary_cross_entropy(const array& inputs, const array& targets,
                           const BinaryCrossEntropyOptions& o) {
  same_shape(inputs, targets, "binary_cross_entropy");
  array t = is_floating(targets.dtype()) ? targets : astype(targets, inputs.dtype());
  array loss;
  if (o.with_logits) {
    loss = logaddexp(zeros({}, inputs.dtype()), inputs) - inputs * t;
  } else {
    array lo = array(-100.f, inputs.dtype());
    array log_p = maximum(log(inputs), lo);
    array log_1p = maximum(log1p(-inputs), lo);
    loss = -(t * log_p + (1.f - t) * log_1p);
  }
  return reduce(apply_weights(loss, o.weights, "binary_cross_entropy"), o.reduction);
}

array cross_entropy(const array& logits, const array& targets, const CrossEntropyOptions& o) {
  if (o.label_smoothing < 0.f || o.label_smoothing >= 1.f)
    throw std::invalid_argument("[cross_entropy] label_smoothing must be in [0, 1), got " +
                                std::to_string(o.label_smoothing));
  int axis = norm_axis(o.axis, logits.ndim(), "cross_entropy");
  bool as_probs = targets.ndim() == logits.ndim();
  array score;
  if (as_probs) {
    same_shape(logits, targets, "cross_entropy");
    score = sum(logits * targets, axis);
  } else {
    Shape expect = logits.shape();
    expect.erase(expect.begin() + axis);
    if (targets.shape() != expect)
      throw std::invalid_argument("[cross_entropy] targets of shape " + shp(targets) +
                                  " must be class indices of shape " + detail::shape_str(expect) +
                                  " or probabilities of the logits' shape " + shp(logits));
    if (!is_integral(targets.dtype()))
      throw std::invalid_argument("[cross_entropy] class-index targets must be integers, got " +
                                  to_string(targets.dtype()));
    score = squeeze(take_along_axis(logits, expand_dims(targets, axis), axis), axis);
  }
  array lse = logsumexp(logits, axis);
  array loss;
  if (o.label_smoothing > 0.f) {
    float s = o.label_smoothing;
    loss = lse - score * (1.f - s) - mean(logits, axis) * s;
  } else {
    loss = lse - score;
  }
  return reduce(apply_weights(loss, o.weights, "cross_entropy"), o.reduction);
}

array mse_loss(const array& predictions, const array& targets, Reduction reduction) {
  same_shape(predictions, targets, "mse_loss");
  return reduce(square(predictions - targets), reduction);
}

array l1_loss(const array& predictions, const array& targets, Reduction reduction) {
  same_shape(predictions, targets, "l1_loss");
  return reduce(abs(predictions - targets), reduction);
}

array nll_loss(const array& inputs, const array& targets, int axis, Reduction reduction) {
  int ax = norm_axis(axis, inputs.ndim(), "nll_loss");
  if (!is_integral(targets.dtype()) || targets.ndim() + 1 != inputs.ndim())
    throw std::invalid_argument(
        "[nll_loss] targets must be integer class indices with one "
        "dimension less than the inputs, got " +
        shp(targets) + " for inputs " + shp(inputs));
  array loss = -squeeze(take_along_axis(inputs, expand_dims(targets, ax), ax), ax);
  return reduce(loss, reduction);
}

array huber_loss(const array& inputs, const array& targets, float delta, Reduction reduction) {
  same_shape(inputs, targets, "huber_loss");
  array e = abs(inputs - targets);
  array quad = minimum(e, array(delta, e.dtype()));
  array lin = e - quad;
  return reduce(square(quad) * 0.5f + lin * delta, reduction);
}

array smooth_l1_loss(const array& predictions, const array& targets, float beta,
                     Reduction reduction) {
  same_shape(predictions, targets, "smooth_l1_loss");
  array d = abs(predictions - targets);
  array loss = where(d < beta, square(d) * (0.5f / beta), d - 0.5f * beta);
  return reduce(loss, reduction);
}

array kl_div_loss(const array& inputs, const array& targets, int axis, Reduction reduction) {
  same_shape(inputs, targets, "kl_div_loss");
  int ax = norm_axis(axis, inputs.ndim(), "kl_div_loss");
  return reduce(sum(exp(targets) * (targets - inputs), ax), reduction);
}

}  // namespace kiln::nn::losses
