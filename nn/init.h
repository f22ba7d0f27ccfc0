// Parameter initializers, as in mlx.nn.init: each factory returns an initializer that maps an
// array (only its shape is used) to a freshly sampled array of the same shape. Sampling uses
// the global random state (kiln::random::state()).
#pragma once
#include <functional>

#include "../core/array.h"

namespace kiln::nn::init {

using Initializer = std::function<array(const array&)>;

// Fills with `value`. Default dtype float32.
Initializer constant(float value, Dtype dtype = float32);
// Normal(mean, std). Defaults mean = 0, std = 1, dtype float32.
Initializer normal(float mean = 0.f, float std = 1.f, Dtype dtype = float32);
// Uniform on [low, high). Defaults low = 0, high = 1, dtype float32.
Initializer uniform(float low = 0.f, float high = 1.f, Dtype dtype = float32);
// The identity matrix (the array must be square 2-D). Default dtype float32.
Initializer identity(Dtype dtype = float32);

// fan_in = shape[-1], fan_out = shape[0], both times the receptive field (the product of the
// middle dimensions) for ndim > 2 (MLX's convention for (out, ..., in) weights). ndim >= 2.
std::pair<int, int> fan_in_fan_out(const Shape& shape);

enum class FanMode { fan_in, fan_out };

// Glorot/Xavier. normal: std = gain * sqrt(2 / (fan_in + fan_out));
// uniform: limit = gain * sqrt(6 / (fan_in + fan_out)). Default gain 1.
struct GlorotInit {
  bool uniform;
  Dtype dtype;
  array operator()(const array& a, float gain = 1.f) const;
};
GlorotInit glorot_normal(Dtype dtype = float32);
GlorotInit glorot_uniform(Dtype dtype = float32);
inline GlorotInit xavier_normal(Dtype dtype = float32) { return glorot_normal(dtype); }
inline GlorotInit xavier_uniform(Dtype dtype = float32) { return glorot_uniform(dtype); }

// He/Kaiming. normal: std = gain / sqrt(fan); uniform: limit = gain * sqrt(3 / fan), with
// fan = fan_in (default) or fan_out. Default gain 1.
struct HeInit {
  bool uniform;
  Dtype dtype;
  array operator()(const array& a, FanMode mode = FanMode::fan_in, float gain = 1.f) const;
};
HeInit he_normal(Dtype dtype = float32);
HeInit he_uniform(Dtype dtype = float32);
inline HeInit kaiming_normal(Dtype dtype = float32) { return he_normal(dtype); }
inline HeInit kaiming_uniform(Dtype dtype = float32) { return he_uniform(dtype); }

}  // namespace kiln::nn::init
