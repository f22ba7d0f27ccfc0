// Attention and transformer layers, as in mlx.nn.
#pragma once
#include <functional>
#include <optional>
#include <vector>

#include "layers.h"

namespace kiln::nn {

// softmax(scale * q k^T + mask) v over the last two axes; q (..., L, D), k (..., S, D),
// v (..., S, Dv). A boolean mask keeps the positions where it is true; any other mask is
// added to the scores. Masks broadcast against (..., L, S).
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::optional<array>& mask = std::nullopt);

// An additive causal mask (N, N): 0 on and below the diagonal, -1e9 above (MLX's
// MultiHeadAttention.create_additive_causal_mask).
array create_additive_causal_mask(int n, Dtype dtype = float32);

struct MultiHeadAttentionOptions {
  int query_input_dims = 0;   // 0: dims
  int key_input_dims = 0;     // 0: dims
  int value_input_dims = 0;   // 0: key_input_dims
  int value_dims = 0;         // 0: dims
  int value_output_dims = 0;  // 0: dims
  bool bias = false;          // MLX default: projections without bias
};

// Multi-head attention with query/key/value/output projections (query_proj, key_proj,
// value_proj, out_proj), heads of dims / num_heads, scale 1/sqrt(head_dim).
// Inputs (B, L, D) (or (L, D)).
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(int dims, int num_heads, MultiHeadAttentionOptions options = {});
  MultiHeadAttention(int dims, int num_heads, bool bias)
      : MultiHeadAttention(dims, num_heads, MultiHeadAttentionOptions{.bias = bias}) {}
  array operator()(const array& queries, const array& keys, const array& values,
                   const std::optional<array>& mask = std::nullopt);
  // Self-attention without a mask.
  array operator()(const array& x) override { return (*this)(x, x, x); }
  std::string name() const override { return "MultiHeadAttention"; }
  std::string describe() const override;

 private:
  int dims_, heads_;
  Linear* q_;
  Linear* k_;
  Linear* v_;
  Linear* o_;
};

using Activation = std::function<array(const array&)>;

// Pre-norm (norm_first, MLX default) or post-norm transformer encoder layer: self-attention
// (attention), ln1, ln2, linear1 (dims -> mlp_dims), linear2, dropout1, dropout2.
// Defaults mlp_dims = 4 * dims (when 0), dropout = 0, activation = relu, norm_first = true.
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int dims, int num_heads, int mlp_dims = 0, float dropout = 0.f,
                          Activation activation = {}, bool norm_first = true);
  array operator()(const array& x, const std::optional<array>& mask);
  array operator()(const array& x) override { return (*this)(x, std::nullopt); }
  std::string name() const override { return "TransformerEncoderLayer"; }
  std::string describe() const override;

 private:
  int dims_, heads_, mlp_dims_;
  bool norm_first_;
  Activation act_;
  MultiHeadAttention* attn_;
  LayerNorm* ln1_;
  LayerNorm* ln2_;
  Linear* linear1_;
  Linear* linear2_;
  Dropout* dropout1_;
  Dropout* dropout2_;
};

// num_layers TransformerEncoderLayers ("layers.<i>") followed by a LayerNorm ("ln").
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(int num_layers, int dims, int num_heads, int mlp_dims = 0, float dropout = 0.f,
                     Activation activation = {}, bool norm_first = true);
  array operator()(const array& x, const std::optional<array>& mask);
  array operator()(const array& x) override { return (*this)(x, std::nullopt); }
  std::string name() const override { return "TransformerEncoder"; }

 private:
  std::vector<TransformerEncoderLayer*> layers_;
  LayerNorm* ln_;
};

}  // namespace kiln::nn
