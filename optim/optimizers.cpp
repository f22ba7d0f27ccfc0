#include "optimizers.h"

#include <stdexcept>

#include "../core/ops.h"

namespace kiln::optim {

// ------------------------------------------------------------------ Optimizer
Optimizer::Optimizer(LearningRate learning_rate)
    : step_(array(0, int32)), schedule_(std::move(learning_rate.schedule)) {
  lr_ = schedule_ ? astype(schedule_(step_), float32) : array(learning_rate.value, float32);
}

void Optimizer::update(nn::Module& model, const Params& grads) {
  model.update(apply_gradients(grads, model.parameters()));
}

void Optimizer::init(const Params& params) {
  for (const auto& [k, p] : params) {
    if (slots_.count(k)) continue;
    init_single(p, slots_[k]);
  }
}

Params Optimizer::apply_gradients(const Params& grads, const Params& params) {
  for (const auto& [k, g] : grads) {
    if (!params.count(k))
      throw std::invalid_argument("[" + name() + "::apply_gradients] gradient '" + k +
                                  "' has no parameter");
    if (!slots_.count(k)) init_single(g, slots_[k]);
  }
  if (schedule_) lr_ = astype(schedule_(step_), float32);
  step_ = step_ + 1;
  Params out;
  for (const auto& [k, g] : grads) {
    const array& p = params.at(k);
    if (p.shape() != g.shape())
      throw std::invalid_argument("[" + name() + "::apply_gradients] gradient '" + k +
                                  "' of shape " + detail::shape_str(g.shape()) +
                                  " for a parameter of shape " + detail::shape_str(p.shape()));
    out.emplace(k, apply_single(g, p, slots_[k]));
  }
  return out;
}

Params Optimizer::state() const {
  Params out{{"step", step_}, {"learning_rate", lr_}};
  for (const auto& [k, slots] : slots_)
    for (const auto& [n, a] : slots) out.emplace(k + "." + n, a);
  return out;
}

void Optimizer::set_state(const Params& state) {
  auto it = state.find("step");
  auto jt = state.find("learning_rate");
  if (it == state.end() || jt == state.end())
    throw std::invalid_argument("[" + name() + "::set_state] needs 'step' and 'learning_rate'");
  // Slot names are known from a fresh init of one parameter; split "<path>.<slot>".
  std::map<std::string, Slots> slots;
  for (const auto& [k, a] : state) {
    if (k == "step" || k == "learning_rate") continue;
    auto dot = k.rfind('.');
    if (dot == std::string::npos)
      throw std::invalid_argument("[" + name() + "::set_state] unexpected key '" + k + "'");
    slots[k.substr(0, dot)][k.substr(dot + 1)] = a;
  }
  step_ = astype(it->second, int32);
  lr_ = astype(jt->second, float32);
  slots_ = std::move(slots);
}

void Optimizer::set_learning_rate(float lr) {
  schedule_ = nullptr;
  lr_ = array(lr, float32);
}

std::vector<array> Optimizer::state_arrays() const {
  std::vector<array> out{step_, lr_};
  for (const auto& [k, slots] : slots_)
    for (const auto& [n, a] : slots) out.push_back(a);
  return out;
}

void Optimizer::set_state_arrays(const std::vector<array>& arrays) {
  size_t n = 2;
  for (const auto& [k, slots] : slots_) n += slots.size();
  if (arrays.size() != n)
    throw std::invalid_argument("[" + name() + "::set_state_arrays] expected " + std::to_string(n) +
                                " arrays, got " + std::to_string(arrays.size()));
  step_ = arrays[0];
  lr_ = arrays[1];
  size_t i = 2;
  for (auto& [k, slots] : slots_)
    for (auto& [nm, a] : slots) a = arrays[i++];
}

array Optimizer::lr_as(const array& g) const {
  return lr_.dtype() == g.dtype() ? lr_ : astype(lr_, g.dtype());
}

// ------------------------------------------------------------------ SGD
SGD::SGD(LearningRate lr, float momentum, float weight_decay, float dampening, bool nesterov)
    : Optimizer(std::move(lr)),
      momentum_(momentum),
      weight_decay_(weight_decay),
      dampening_(dampening),
      nesterov_(nesterov) {
  if (nesterov && (momentum <= 0.f || dampening != 0.f))
    throw std::invalid_argument("[SGD] Nesterov momentum requires a momentum and zero dampening");
}

void SGD::init_single(const array& p, Slots& s) { s["v"] = zeros_like(p); }

array SGD::apply_single(const array& g0, const array& p, Slots& s) {
  array g = g0;
  if (weight_decay_ != 0.f) g = g + p * weight_decay_;
  array lr = lr_as(g);
  if (momentum_ <= 0.f) return p - lr * g;
  array v = s.at("v") * momentum_;
  v = dampening_ > 0.f ? v + g * (1.f - dampening_) : v + g;
  array upd = nesterov_ ? g + v * momentum_ : v;
  s["v"] = v;
  return p - lr * upd;
}

// ------------------------------------------------------------------ Adam / AdamW
Adam::Adam(LearningRate lr, std::pair<float, float> betas, float eps, bool bias_correction)
    : Optimizer(std::move(lr)), betas_(betas), eps_(eps), bias_correction_(bias_correction) {}

void Adam::init_single(const array& p, Slots& s) {
  s["m"] = zeros_like(p);
  s["v"] = zeros_like(p);
}

array Adam::apply_single(const array& g, const array& p, Slots& s) {
  auto [b1, b2] = betas_;
  array lr = lr_as(g);
  array m = s.at("m") * b1 + g * (1.f - b1);
  array v = s.at("v") * b2 + square(g) * (1.f - b2);
  s["m"] = m;
  s["v"] = v;
  if (bias_correction_) {
    array t = astype(step_, g.dtype());
    array c1 = 1.f - power(array(b1, g.dtype()), t);
    array c2 = 1.f - power(array(b2, g.dtype()), t);
    array numerator = lr / c1 * m;
    array denominator = sqrt(v) / sqrt(c2) + eps_;
    return p - numerator / denominator;
  }
  return p - lr * m / (sqrt(v) + eps_);
}

AdamW::AdamW(LearningRate lr, std::pair<float, float> betas, float eps, float weight_decay,
             bool bias_correction)
    : Adam(std::move(lr), betas, eps, bias_correction), weight_decay_(weight_decay) {}

array AdamW::apply_single(const array& g, const array& p, Slots& s) {
  array lr = lr_as(g);
  return Adam::apply_single(g, p * (1.f - lr * weight_decay_), s);
}

// ------------------------------------------------------------------ RMSprop
RMSprop::RMSprop(LearningRate lr, float alpha, float eps)
    : Optimizer(std::move(lr)), alpha_(alpha), eps_(eps) {
  if (alpha < 0.f)
    throw std::invalid_argument("[RMSprop] alpha should be >= 0, got " + std::to_string(alpha));
  if (eps < 0.f)
    throw std::invalid_argument("[RMSprop] eps should be >= 0, got " + std::to_string(eps));
}

void RMSprop::init_single(const array& p, Slots& s) { s["v"] = zeros_like(p); }

array RMSprop::apply_single(const array& g, const array& p, Slots& s) {
  array v = s.at("v") * alpha_ + square(g) * (1.f - alpha_);
  s["v"] = v;
  return p - lr_as(g) * g / (sqrt(v) + eps_);
}

// ------------------------------------------------------------------ Adagrad
Adagrad::Adagrad(LearningRate lr, float eps) : Optimizer(std::move(lr)), eps_(eps) {
  if (eps < 0.f)
    throw std::invalid_argument("[Adagrad] eps should be >= 0, got " + std::to_string(eps));
}

void Adagrad::init_single(const array& p, Slots& s) { s["v"] = zeros_like(p); }

array Adagrad::apply_single(const array& g, const array& p, Slots& s) {
  array v = s.at("v") + square(g);
  s["v"] = v;
  return p - lr_as(g) * g / (sqrt(v) + eps_);
}

// ------------------------------------------------------------------ Lion
Lion::Lion(LearningRate lr, std::pair<float, float> betas, float weight_decay)
    : Optimizer(std::move(lr)), betas_(betas), weight_decay_(weight_decay) {}

void Lion::init_single(const array& p, Slots& s) { s["m"] = zeros_like(p); }

array Lion::apply_single(const array& g, const array& p0, Slots& s) {
  auto [b1, b2] = betas_;
  array lr = lr_as(g);
  const array& m = s.at("m");
  array c = m * b1 + g * (1.f - b1);
  s["m"] = m * b2 + g * (1.f - b2);
  array p = weight_decay_ > 0.f ? p0 * (1.f - lr * weight_decay_) : p0;
  return p - lr * sign(c);
}

// ------------------------------------------------------------------ clip_grad_norm
std::pair<Params, array> clip_grad_norm(const Params& grads, float max_norm) {
  if (grads.empty()) throw std::invalid_argument("[clip_grad_norm] no gradients");
  array sq;
  for (const auto& [k, g] : grads) {
    array s = sum(square(g));
    sq = sq.valid() ? sq + s : s;
  }
  array norm = sqrt(sq);
  array scale = max_norm / (norm + 1e-6f);
  array keep = less(norm, array(max_norm, norm.dtype()));
  Params out;
  for (const auto& [k, g] : grads) out.emplace(k, where(keep, g, g * astype(scale, g.dtype())));
  return {out, norm};
}

}  // namespace kiln::optim
