#include "layers.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "../core/ops.h"
#include "../core/random.h"

namespace kiln::nn {

namespace {
std::string shp(const array& x) { return detail::shape_str(x.shape()); }
}  // namespace

// ------------------------------------------------------------------ Linear
Linear::Linear(int input_dims, int output_dims, bool bias)
    : in_(input_dims), out_(output_dims), has_bias_(bias) {
  if (input_dims <= 0 || output_dims <= 0)
    throw std::invalid_argument("[Linear] dimensions must be positive, got " +
                                std::to_string(input_dims) + " and " + std::to_string(output_dims));
  float scale = static_cast<float>(std::sqrt(1.0 / input_dims));
  register_parameter("weight", random::uniform(-scale, scale, {output_dims, input_dims}));
  if (bias) register_parameter("bias", random::uniform(-scale, scale, {output_dims}));
}

array Linear::operator()(const array& x) {
  if (x.ndim() == 0 || x.shape(-1) != in_)
    throw std::invalid_argument("[Linear] expects inputs with last dimension " +
                                std::to_string(in_) + ", got shape " + shp(x));
  array y = matmul(x, transpose(param("weight")));
  return has_bias_ ? y + param("bias") : y;
}

std::string Linear::describe() const {
  return "Linear(input_dims=" + std::to_string(in_) + ", output_dims=" + std::to_string(out_) +
         ", bias=" + (has_bias_ ? "true" : "false") + ")";
}

// ------------------------------------------------------------------ Sequential
array Sequential::operator()(const array& x) {
  array y = x;
  for (auto& l : layers_) y = (*l)(y);
  return y;
}

// ------------------------------------------------------------------ Dropout
Dropout::Dropout(float p) : p_(p) {
  if (!(p >= 0.f && p < 1.f))
    throw std::invalid_argument("[Dropout] the probability should be in [0, 1), got " +
                                std::to_string(p));
}

array Dropout::operator()(const array& x) {
  if (p_ == 0.f || !training()) return x;
  float keep = 1.f - p_;
  array mask = random::bernoulli(keep, x.shape());
  return (x * mask) * (1.f / keep);
}

std::string Dropout::describe() const {
  std::ostringstream os;
  os << "Dropout(p=" << p_ << ")";
  return os.str();
}

// ------------------------------------------------------------------ Embedding
Embedding::Embedding(int num_embeddings, int dims) : n_(num_embeddings), dims_(dims) {
  if (num_embeddings <= 0 || dims <= 0)
    throw std::invalid_argument("[Embedding] sizes must be positive");
  float scale = static_cast<float>(std::sqrt(1.0 / dims));
  register_parameter("weight", random::normal({num_embeddings, dims}, float32, 0.f, scale));
}

array Embedding::operator()(const array& x) {
  if (!is_integral(x.dtype()))
    throw std::invalid_argument("[Embedding] expects integer indices, got " + to_string(x.dtype()));
  return take(param("weight"), x, 0);
}

array Embedding::as_linear(const array& x) { return matmul(x, transpose(param("weight"))); }

std::string Embedding::describe() const {
  return "Embedding(num_embeddings=" + std::to_string(n_) + ", dims=" + std::to_string(dims_) + ")";
}

// ------------------------------------------------------------------ LayerNorm
LayerNorm::LayerNorm(int dims, float eps, bool affine, bool bias) : dims_(dims), eps_(eps) {
  if (affine) {
    register_parameter("weight", ones({dims}));
    if (bias) register_parameter("bias", zeros({dims}));
  }
}

array LayerNorm::operator()(const array& x) {
  if (x.ndim() == 0 || x.shape(-1) != dims_)
    throw std::invalid_argument("[LayerNorm] expects last dimension " + std::to_string(dims_) +
                                ", got shape " + shp(x));
  array mu = mean(x, -1, true);
  array d = x - mu;
  array v = mean(square(d), -1, true);
  array y = d * rsqrt(v + eps_);
  if (has_param("weight")) y = y * param("weight");
  if (has_param("bias")) y = y + param("bias");
  return y;
}

std::string LayerNorm::describe() const {
  std::ostringstream os;
  os << "LayerNorm(" << dims_ << ", eps=" << eps_
     << ", affine=" << (has_param("weight") ? "true" : "false") << ")";
  return os.str();
}

// ------------------------------------------------------------------ RMSNorm
RMSNorm::RMSNorm(int dims, float eps) : dims_(dims), eps_(eps) {
  register_parameter("weight", ones({dims}));
}

array RMSNorm::operator()(const array& x) {
  if (x.ndim() == 0 || x.shape(-1) != dims_)
    throw std::invalid_argument("[RMSNorm] expects last dimension " + std::to_string(dims_) +
                                ", got shape " + shp(x));
  return x * rsqrt(mean(square(x), -1, true) + eps_) * param("weight");
}

std::string RMSNorm::describe() const {
  std::ostringstream os;
  os << "RMSNorm(" << dims_ << ", eps=" << eps_ << ")";
  return os.str();
}

// ------------------------------------------------------------------ BatchNorm
BatchNorm::BatchNorm(int num_features, float eps, float momentum, bool affine,
                     bool track_running_stats)
    : features_(num_features),
      eps_(eps),
      momentum_(momentum),
      affine_(affine),
      track_(track_running_stats) {
  if (affine) {
    register_parameter("weight", ones({num_features}));
    register_parameter("bias", zeros({num_features}));
  }
  if (track_running_stats) {
    register_state("running_mean", zeros({num_features}));
    register_state("running_var", ones({num_features}));
  }
}

array BatchNorm::operator()(const array& x) {
  if (x.ndim() < 2 || x.ndim() > 4 || x.shape(-1) != features_)
    throw std::invalid_argument("[BatchNorm] expects (N, C), (N, L, C) or (N, H, W, C) with C = " +
                                std::to_string(features_) + ", got shape " + shp(x));
  array mu, v;
  if (training() || !track_) {
    std::vector<int> axes;
    for (int i = 0; i + 1 < x.ndim(); ++i) axes.push_back(i);
    mu = mean(x, axes);
    v = var(x, axes);
    if (training() && track_) {
      array& rm = param("running_mean");
      array& rv = param("running_var");
      rm = rm * (1.f - momentum_) + mu * momentum_;
      rv = rv * (1.f - momentum_) + v * momentum_;
    }
  } else {
    mu = param("running_mean");
    v = param("running_var");
  }
  array y = (x - mu) * rsqrt(v + eps_);
  if (affine_) y = y * param("weight") + param("bias");
  return y;
}

std::string BatchNorm::describe() const {
  std::ostringstream os;
  os << "BatchNorm(" << features_ << ", eps=" << eps_ << ", momentum=" << momentum_
     << ", affine=" << (affine_ ? "true" : "false")
     << ", track_running_stats=" << (track_ ? "true" : "false") << ")";
  return os.str();
}

}  // namespace kiln::nn
