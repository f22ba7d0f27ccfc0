// Basic layers: Identity, Linear, Sequential, Dropout, Embedding, LayerNorm, RMSNorm,
// BatchNorm. Defaults are MLX's (mlx.nn); each is stated on its constructor.
#pragma once
#include <memory>
#include <vector>

#include "module.h"

namespace kiln::nn {

class Identity : public Module {
 public:
  array operator()(const array& x) override { return x; }
  std::string name() const override { return "Identity"; }
};

// y = x W^T + b, W of shape (output_dims, input_dims). W and b are sampled from
// uniform(-1/sqrt(input_dims), 1/sqrt(input_dims)). Default bias = true.
class Linear : public Module {
 public:
  Linear(int input_dims, int output_dims, bool bias = true);
  array operator()(const array& x) override;
  std::string name() const override { return "Linear"; }
  std::string describe() const override;
  array& weight() { return param("weight"); }
  array& bias() { return param("bias"); }

 private:
  int in_, out_;
  bool has_bias_;
};

// Calls its layers in order; their parameters are "layers.<i>.<name>".
class Sequential : public Module {
 public:
  Sequential() = default;
  template <typename... M,
            typename = std::enable_if_t<
                (sizeof...(M) > 0) && (std::is_base_of_v<Module, std::decay_t<M>> && ...) &&
                !(sizeof...(M) == 1 && (std::is_same_v<std::decay_t<M>, Sequential> && ...))>>
  explicit Sequential(M&&... layers) {
    (add(std::forward<M>(layers)), ...);
  }
  // Appends a layer (taken by value) and returns it.
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Module, std::decay_t<M>>>>
  std::decay_t<M>& add(M&& layer) {
    return add(std::make_shared<std::decay_t<M>>(std::forward<M>(layer)));
  }
  template <typename M>
  M& add(std::shared_ptr<M> layer) {
    auto& ref = register_module("layers." + std::to_string(layers_.size()), layer);
    layers_.push_back(std::move(layer));
    return ref;
  }
  array operator()(const array& x) override;
  std::string name() const override { return "Sequential"; }
  size_t size() const { return layers_.size(); }
  Module& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

// Zeroes each element with probability p during training and scales the rest by 1/(1-p);
// the identity in eval mode. Uses the global random state (capture kiln::random::state() when
// compiling). Default p = 0.5; 0 <= p < 1.
class Dropout : public Module {
 public:
  explicit Dropout(float p = 0.5f);
  array operator()(const array& x) override;
  std::string name() const override { return "Dropout"; }
  std::string describe() const override;

 private:
  float p_;
};

// A lookup table of num_embeddings vectors of size dims, initialised normal(0, 1/sqrt(dims)).
// Input: integer indices of any shape; output: indices.shape + (dims,).
class Embedding : public Module {
 public:
  Embedding(int num_embeddings, int dims);
  array operator()(const array& x) override;
  // x @ weight^T: use the embedding as the output projection (weight tying).
  array as_linear(const array& x);
  std::string name() const override { return "Embedding"; }
  std::string describe() const override;

 private:
  int n_, dims_;
};

// Normalises over the last axis: (x - mean) / sqrt(var + eps) * weight + bias.
// Defaults eps = 1e-5, affine = true (weight ones, bias zeros), bias = true.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int dims, float eps = 1e-5f, bool affine = true, bool bias = true);
  array operator()(const array& x) override;
  std::string name() const override { return "LayerNorm"; }
  std::string describe() const override;

 private:
  int dims_;
  float eps_;
};

// x / sqrt(mean(x^2) + eps) * weight over the last axis. Default eps = 1e-5 (weight ones).
class RMSNorm : public Module {
 public:
  explicit RMSNorm(int dims, float eps = 1e-5f);
  array operator()(const array& x) override;
  std::string name() const override { return "RMSNorm"; }
  std::string describe() const override;

 private:
  int dims_;
  float eps_;
};

// Batch normalisation over all axes but the last (features last: (N, C), (N, L, C) or
// (N, H, W, C)). In training mode it normalises with the batch statistics (biased variance)
// and updates running_mean/running_var: r = (1 - momentum) r + momentum * batch_stat; in eval
// mode it uses the running statistics. The running statistics are non-trainable state.
// Defaults eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true.
class BatchNorm : public Module {
 public:
  explicit BatchNorm(int num_features, float eps = 1e-5f, float momentum = 0.1f, bool affine = true,
                     bool track_running_stats = true);
  array operator()(const array& x) override;
  std::string name() const override { return "BatchNorm"; }
  std::string describe() const override;

 private:
  int features_;
  float eps_, momentum_;
  bool affine_, track_;
};

}  // namespace kiln::nn
