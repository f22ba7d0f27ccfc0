#include "init.h"

#include <cmath>
#include <stdexcept>

#include "../core/ops.h"
#include "../core/random.h"

namespace kiln::nn::init {

Initializer constant(float value, Dtype dtype) {
  return [=](const array& a) { return full(a.shape(), array(value), dtype); };
}

Initializer normal(float mean, float std, Dtype dtype) {
  return [=](const array& a) { return random::normal(a.shape(), dtype, mean, std); };
}

Initializer uniform(float low, float high, Dtype dtype) {
  return [=](const array& a) { return random::uniform(low, high, a.shape(), dtype); };
}

Initializer identity(Dtype dtype) {
  return [=](const array& a) {
    if (a.ndim() != 2 || a.shape(0) != a.shape(1))
      throw std::invalid_argument("[init::identity] needs a square matrix, got shape " +
                                  detail::shape_str(a.shape()));
    return eye(a.shape(0), -1, 0, dtype);
  };
}

std::pair<int, int> fan_in_fan_out(const Shape& shape) {
  if (shape.size() < 2)
    throw std::invalid_argument(
        "[init] Glorot / He initialization needs an array of at least 2 dimensions, got shape " +
        detail::shape_str(shape));
  int fan_in = shape.back(), fan_out = shape.front();
  int rf = 1;
  for (size_t i = 1; i + 1 < shape.size(); ++i) rf *= shape[i];
  return {fan_in * rf, fan_out * rf};
}

array GlorotInit::operator()(const array& a, float gain) const {
  auto [fi, fo] = fan_in_fan_out(a.shape());
  if (uniform) {
    float limit = gain * static_cast<float>(std::sqrt(6.0 / (fi + fo)));
    return random::uniform(-limit, limit, a.shape(), dtype);
  }
  float std = gain * static_cast<float>(std::sqrt(2.0 / (fi + fo)));
  return random::normal(a.shape(), dtype, 0.f, std);
}

GlorotInit glorot_normal(Dtype dtype) { return {false, dtype}; }
GlorotInit glorot_uniform(Dtype dtype) { return {true, dtype}; }

array HeInit::operator()(const array& a, FanMode mode, float gain) const {
  auto [fi, fo] = fan_in_fan_out(a.shape());
  double fan = mode == FanMode::fan_in ? fi : fo;
  if (uniform) {
    float limit = gain * static_cast<float>(std::sqrt(3.0 / fan));
    return random::uniform(-limit, limit, a.shape(), dtype);
  }
  return random::normal(a.shape(), dtype, 0.f, gain / static_cast<float>(std::sqrt(fan)));
}

HeInit he_normal(Dtype dtype) { return {false, dtype}; }
HeInit he_uniform(Dtype dtype) { return {true, dtype}; }

}  // namespace kiln::nn::init
