#include "attention.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "../core/ops.h"
#include "activations.h"

namespace kiln::nn {

array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::optional<array>& mask) {
  if (q.ndim() < 2 || k.ndim() < 2 || v.ndim() < 2 || q.shape(-1) != k.shape(-1) ||
      k.shape(-2) != v.shape(-2))
    throw std::invalid_argument(
        "[scaled_dot_product_attention] incompatible shapes q " + detail::shape_str(q.shape()) +
        ", k " + detail::shape_str(k.shape()) + ", v " + detail::shape_str(v.shape()));
  array scores = matmul(q * scale, swapaxes(k, -1, -2));
  if (mask) {
    if (mask->dtype() == bool_) {
      float lowest = -std::numeric_limits<float>::infinity();
      scores = where(*mask, scores, array(lowest, scores.dtype()));
    } else {
      scores = scores + astype(*mask, scores.dtype());
    }
  }
  return matmul(kiln::softmax(scores, -1, /*precise=*/true), v);
}

array create_additive_causal_mask(int n, Dtype dtype) {
  array idx = arange(n);
  array m = less(expand_dims(idx, 1), expand_dims(idx, 0));
  return astype(m, dtype) * -1e9f;
}

// ------------------------------------------------------------------ MultiHeadAttention
MultiHeadAttention::MultiHeadAttention(int dims, int num_heads, MultiHeadAttentionOptions o)
    : dims_(dims), heads_(num_heads) {
  if (num_heads <= 0 || dims % num_heads != 0)
    throw std::invalid_argument(
        "[MultiHeadAttention] the input feature dimensions should be "
        "divisible by the number of heads (" +
        std::to_string(dims) + " % " + std::to_string(num_heads) + ")");
  int qd = o.query_input_dims ? o.query_input_dims : dims;
  int kd = o.key_input_dims ? o.key_input_dims : dims;
  int vd = o.value_input_dims ? o.value_input_dims : kd;
  int vdims = o.value_dims ? o.value_dims : dims;
  int vout = o.value_output_dims ? o.value_output_dims : dims;
  if (vdims % num_heads != 0)
    throw std::invalid_argument("[MultiHeadAttention] value_dims must be divisible by num_heads");
  q_ = &register_module("query_proj", Linear(qd, dims, o.bias));
  k_ = &register_module("key_proj", Linear(kd, dims, o.bias));
  v_ = &register_module("value_proj", Linear(vd, vdims, o.bias));
  o_ = &register_module("out_proj", Linear(vdims, vout, o.bias));
}

array MultiHeadAttention::operator()(const array& queries, const array& keys, const array& values,
                                     const std::optional<array>& mask) {
  bool unbatched = queries.ndim() == 2;
  array qi = unbatched ? expand_dims(queries, 0) : queries;
  array ki = keys.ndim() == 2 ? expand_dims(keys, 0) : keys;
  array vi = values.ndim() == 2 ? expand_dims(values, 0) : values;
  if (qi.ndim() != 3 || ki.ndim() != 3 || vi.ndim() != 3)
    throw std::invalid_argument("[MultiHeadAttention] expects inputs (B, L, D) or (L, D), got " +
                                detail::shape_str(queries.shape()));
  array q = (*q_)(qi), k = (*k_)(ki), v = (*v_)(vi);
  int B = q.shape(0), L = q.shape(1), S = k.shape(1);
  auto heads = [&](const array& t, int len) {
    return transpose(reshape(t, {t.shape(0), len, heads_, -1}), {0, 2, 1, 3});
  };
  q = heads(q, L);
  k = heads(k, S);
  v = heads(v, S);
  float scale = static_cast<float>(std::sqrt(1.0 / q.shape(-1)));
  array o = scaled_dot_product_attention(q, k, v, scale, mask);
  o = reshape(transpose(o, {0, 2, 1, 3}), {B, L, -1});
  o = (*o_)(o);
  return unbatched ? squeeze(o, 0) : o;
}

std::string MultiHeadAttention::describe() const {
  return "MultiHeadAttention(dims=" + std::to_string(dims_) +
         ", num_heads=" + std::to_string(heads_) + ")";
}

// ------------------------------------------------------------------ TransformerEncoderLayer
TransformerEncoderLayer::TransformerEncoderLayer(int dims, int num_heads, int mlp_dims,
                                                 float dropout, Activation activation,
                                                 bool norm_first)
    : dims_(dims),
      heads_(num_heads),
      mlp_dims_(mlp_dims > 0 ? mlp_dims : 4 * dims),
      norm_first_(norm_first),
      act_(activation ? std::move(activation) : Activation(relu)) {
  attn_ = &register_module("attention", MultiHeadAttention(dims, num_heads));
  ln1_ = &register_module("ln1", LayerNorm(dims));
  ln2_ = &register_module("ln2", LayerNorm(dims));
  linear1_ = &register_module("linear1", Linear(dims, mlp_dims_));
  linear2_ = &register_module("linear2", Linear(mlp_dims_, dims));
  dropout1_ = &register_module("dropout1", Dropout(dropout));
  dropout2_ = &register_module("dropout2", Dropout(dropout));
}

array TransformerEncoderLayer::operator()(const array& x, const std::optional<array>& mask) {
  if (norm_first_) {
    array y = (*ln1_)(x);
    y = (*attn_)(y, y, y, mask);
    y = (*dropout1_)(y);
    array h = x + y;
    y = (*ln2_)(h);
    y = (*linear1_)(y);
    y = act_(y);
    y = (*dropout2_)(y);
    y = (*linear2_)(y);
    return h + y;
  }
  array y = (*attn_)(x, x, x, mask);
  y = (*dropout1_)(y);
  array h = (*ln1_)(x + y);
  y = (*linear1_)(h);
  y = act_(y);
  y = (*dropout2_)(y);
  y = (*linear2_)(y);
  return (*ln2_)(h + y);
}

std::string TransformerEncoderLayer::describe() const {
  return "TransformerEncoderLayer(dims=" + std::to_string(dims_) +
         ", num_heads=" + std::to_string(heads_) + ", mlp_dims=" + std::to_string(mlp_dims_) +
         ", norm_first=" + (norm_first_ ? "true" : "false") + ")";
}

// ------------------------------------------------------------------ TransformerEncoder
TransformerEncoder::TransformerEncoder(int num_layers, int dims, int num_heads, int mlp_dims,
                                       float dropout, Activation activation, bool norm_first) {
  for (int i = 0; i < num_layers; ++i)
    layers_.push_back(&register_module(
        "layers." + std::to_string(i),
        TransformerEncoderLayer(dims, num_heads, mlp_dims, dropout, activation, norm_first)));
  ln_ = &register_module("ln", LayerNorm(dims));
}

array TransformerEncoder::operator()(const array& x, const std::optional<array>& mask) {
  array y = x;
  for (auto* l : layers_) y = (*l)(y, mask);
  return (*ln_)(y);
}

}  // namespace kiln::nn
