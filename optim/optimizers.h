// Optimizers, as in mlx.optimizers. Every optimizer keeps its state as arrays — the step
// (int32 scalar), the learning rate (float32 scalar) and per-parameter slots such as Adam's
// m and v — and is Stateful, so a compiled training step captures it and a schedule never
// forces a retrace. Per-parameter state is created lazily on the first update (or by init).
//
// The update of one parameter w with gradient g at step t (t counted from 1, lr = the learning
// rate, read from the schedule at t - 1 when there is one):
//   SGD:     g += weight_decay w;  momentum == 0: w -= lr g; otherwise
//            v = momentum v + (1 - dampening) g;  w -= lr (nesterov ? g + momentum v : v)
//   Adam:    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//            w -= lr m / (sqrt(v) + eps), or with bias correction
//            w -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   AdamW:   w *= 1 - lr weight_decay, then Adam
//   RMSprop: v = alpha v + (1 - alpha) g^2;  w -= lr g / (sqrt(v) + eps)
//   Adagrad: v += g^2;  w -= lr g / (sqrt(v) + eps)
//   Lion:    c = b1 m + (1 - b1) g;  m = b2 m + (1 - b2) g;  w *= 1 - lr weight_decay;
//            w -= lr sign(c)
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/array.h"
#include "../core/stateful.h"
#include "../nn/module.h"
#include "schedulers.h"

namespace kiln::optim {

using nn::Params;

// A learning rate: a number or a schedule (any callable array(const array& step)).
struct LearningRate {
  LearningRate(float v) : value(v) {}                       // NOLINT: implicit
  LearningRate(double v) : value(static_cast<float>(v)) {}  // NOLINT: implicit
  LearningRate(int v) : value(static_cast<float>(v)) {}     // NOLINT: implicit
  template <typename F, typename = std::enable_if_t<std::is_invocable_r_v<array, F, const array&>>>
  LearningRate(F f) : schedule(std::move(f)) {}  // NOLINT: implicit
  float value = 0.f;
  Schedule schedule;
};

class Optimizer : public Stateful {
 public:
  explicit Optimizer(LearningRate learning_rate);
  ~Optimizer() override = default;

  // model.update(apply_gradients(grads, model.parameters())).
  void update(nn::Module& model, const Params& grads);
  // The updated parameters for the keys of `grads` (params may hold more keys). Advances
  // the step and, with a schedule, sets the learning rate from it first.
  Params apply_gradients(const Params& grads, const Params& params);
  // Creates the per-parameter state for params that have none yet (optional: the first
  // update does it).
  void init(const Params& params);

  // The state as a flat map: "step", "learning_rate" and "<parameter path>.<slot>".
  Params state() const;
  // Restores a state produced by state() (e.g. from a checkpoint); replaces everything.
  void set_state(const Params& state);
  array step() const { return step_; }
  array learning_rate() const { return lr_; }
  // Sets a constant learning rate (drops a schedule).
  void set_learning_rate(float lr);
  virtual std::string name() const = 0;

  // Stateful: step, learning_rate, then every slot (sorted by parameter path, then slot name).
  std::vector<array> state_arrays() const override;
  void set_state_arrays(const std::vector<array>& arrays) override;

 protected:
  using Slots = std::map<std::string, array>;
  virtual void init_single(const array& parameter, Slots& slots) = 0;
  virtual array apply_single(const array& gradient, const array& parameter, Slots& slots) = 0;
  // The learning rate in the gradient's dtype.
  array lr_as(const array& g) const;

  array step_;
  array lr_;

 private:
  Schedule schedule_;
  std::map<std::string, Slots> slots_;
};

// Defaults: momentum 0, weight_decay 0, dampening 0, nesterov false. Nesterov needs
// momentum > 0 and dampening 0.
class SGD : public Optimizer {
 public:
  SGD(LearningRate learning_rate, float momentum = 0.f, float weight_decay = 0.f,
      float dampening = 0.f, bool nesterov = false);
  std::string name() const override { return "SGD"; }

 protected:
  void init_single(const array& p, Slots& s) override;
  array apply_single(const array& g, const array& p, Slots& s) override;

 private:
  float momentum_, weight_decay_, dampening_;
  bool nesterov_;
};

// Defaults: betas (0.9, 0.999), eps 1e-8, bias_correction false (MLX's default).
class Adam : public Optimizer {
 public:
  Adam(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.999f},
       float eps = 1e-8f, bool bias_correction = false);
  std::string name() const override { return "Adam"; }

 protected:
  void init_single(const array& p, Slots& s) override;
  array apply_single(const array& g, const array& p, Slots& s) override;

  std::pair<float, float> betas_;
  float eps_;
  bool bias_correction_;
};

// Adam with decoupled weight decay. Defaults: betas (0.9, 0.999), eps 1e-8,
// weight_decay 0.01, bias_correction false.
class AdamW : public Adam {
 public:
  AdamW(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.999f},
        float eps = 1e-8f, float weight_decay = 0.01f, bool bias_correction = false);
  std::string name() const override { return "AdamW"; }

 protected:
  array apply_single(const array& g, const array& p, Slots& s) override;

 private:
  float weight_decay_;
};

// Defaults: alpha 0.99, eps 1e-8.
class RMSprop : public Optimizer {
 public:
  RMSprop(LearningRate learning_rate, float alpha = 0.99f, float eps = 1e-8f);
  std::string name() const override { return "RMSprop"; }

 protected:
  void init_single(const array& p, Slots& s) override;
  array apply_single(const array& g, const array& p, Slots& s) override;

 private:
  float alpha_, eps_;
};

// Default eps 1e-8.
class Adagrad : public Optimizer {
 public:
  explicit Adagrad(LearningRate learning_rate, float eps = 1e-8f);
  std::string name() const override { return "Adagrad"; }

 protected:
  void init_single(const array& p, Slots& s) override;
  array apply_single(const array& g, const array& p, Slots& s) override;

 private:
  float eps_;
};

// Defaults: betas (0.9, 0.99), weight_decay 0.
class Lion : public Optimizer {
 public:
  Lion(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.99f},
       float weight_decay = 0.f);
  std::string name() const override { return "Lion"; }

 protected:
  void init_single(const array& p, Slots& s) override;
  array apply_single(const array& g, const array& p, Slots& s) override;

 private:
  std::pair<float, float> betas_;
  float weight_decay_;
};

// Rescales the gradients so that their global L2 norm is at most max_norm (by
// max_norm / (norm + 1e-6), selected with where: no host sync). Returns the gradients and
// the norm before clipping.
std::pair<Params, array> clip_grad_norm(const Params& grads, float max_norm);

}  // namespace kiln::optim
