#include "random.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "ops.h"
#include "primitives.h"

namespace kiln::random {

std::vector<array> KeyState::state_arrays() const { return {key()}; }
void KeyState::set_state_arrays(const std::vector<array>& arrays) {
  if (arrays.size() != 1)
    throw std::invalid_argument("[random::state] expects exactly one key array");
  key_ = arrays[0];
}
const array& KeyState::key() const {
  if (!key_) {
    auto t = std::chrono::system_clock::now().time_since_epoch().count();
    key_ = random::key(static_cast<uint64_t>(t));
  }
  return *key_;
}
array KeyState::next() {
  auto ks = split(key());
  key_ = ks.first;
  return ks.second;
}
void KeyState::seed(uint64_t s) { key_ = random::key(s); }

KeyState& state() {
  static KeyState st;
  return st;
}

void seed(uint64_t s) { state().seed(s); }

array key(uint64_t seed) {
  uint32_t k[2] = {static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(seed & 0xffffffffu)};
  return array(k, {2}, uint32);
}

namespace {
array get_key(const Key& key) {
  if (!key) return state().next();
  if (key->dtype() != uint32 || key->shape() != Shape{2})
    throw std::invalid_argument("[random] a key must be a uint32 array of shape (2,), got " +
                                to_string(key->dtype()) + " " + detail::shape_str(key->shape()));
  return *key;
}
void check_float(Dtype d, const char* op) {
  if (!is_floating(d))
    throw std::invalid_argument(std::string("[random::") + op +
                                "] dtype must be floating point, got " + to_string(d));
}
// Distribution parameters must broadcast to the requested shape (not widen it).
void check_params_fit(const array& p, const array& q, const Shape& shape, const char* op,
                      const char* what) {
  Shape b;
  try {
    b = broadcast_shapes(broadcast_shapes(p.shape(), q.shape()), shape);
  } catch (const std::invalid_argument&) {
  }
  if (b != shape)
    throw std::invalid_argument(std::string("[random::") + op + "] " + what + " shapes " +
                                detail::shape_str(p.shape()) + ", " +
                                detail::shape_str(q.shape()) + " cannot be broadcast to " +
                                detail::shape_str(shape));
}
}  // namespace

array split(const array& key, int num, StreamOrDevice s) {
  if (num < 1) throw std::invalid_argument("[random::split] num must be at least 1");
  return bits({num, 2}, 4, key, s);
}
std::pair<array, array> split(const array& key, StreamOrDevice s) {
  array ks = split(key, 2, s);
  return {reshape(slice(ks, {0, 0}, {1, 2}, s), {2}, s), reshape(slice(ks, {1, 0}, {2, 2}, s), {2}, s)};
}

array bits(const Shape& shape, int width, const Key& key, StreamOrDevice s) {
  if (width != 4)
    throw std::invalid_argument("[random::bits] only width 4 (uint32) is supported, got " +
                                std::to_string(width));
  for (int d : shape)
    if (d < 0) throw std::invalid_argument("[random::bits] negative dimension in shape");
  array k = get_key(key);
  return array(shape, uint32, std::make_shared<RandomBits>(to_stream(s), shape), {k});
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype,
              const Key& key, StreamOrDevice s) {
  check_float(dtype, "uniform");
  check_params_fit(low, high, shape, "uniform", "low/high");
  array b = bits(shape, 4, key, s);
  // 24 random bits → [0, 1) exactly representable in float32
  array u = multiply(astype(floor_divide(b, array(256u, uint32), s), float32, s),
                     array(1.0f / 16777216.0f), s);
  array lo = astype(low, float32, s), hi = astype(high, float32, s);
  array out = add(lo, multiply(subtract(hi, lo, s), u, s), s);
  return astype(out, dtype, s);
}
array uniform(float low, float high, const Shape& shape, Dtype dtype, const Key& key,
              StreamOrDevice s) {
  return uniform(array(low), array(high), shape, dtype, key, s);
}
array uniform(const Shape& shape, Dtype dtype, const Key& key, StreamOrDevice s) {
  return uniform(0.0f, 1.0f, shape, dtype, key, s);
}

array normal(const Shape& shape, Dtype dtype, const array& loc, const array& scale,
             const Key& key, StreamOrDevice s) {
  check_float(dtype, "normal");
  check_params_fit(loc, scale, shape, "normal", "loc/scale");
  float lo = std::nextafter(-1.0f, 0.0f);
  array u = uniform(lo, 1.0f, shape, float32, key, s);
  array z = multiply(erfinv(u, s), array(static_cast<float>(M_SQRT2)), s);
  z = add(multiply(z, astype(scale, float32, s), s), astype(loc, float32, s), s);
  return astype(z, dtype, s);
}
array normal(const Shape& shape, Dtype dtype, float loc, float scale, const Key& key,
             StreamOrDevice s) {
  return normal(shape, dtype, array(loc), array(scale), key, s);
}

array bernoulli(const array& p, const Shape& shape, const Key& key, StreamOrDevice s) {
  Shape b;
  try {
    b = broadcast_shapes(p.shape(), shape);
  } catch (const std::invalid_argument&) {
  }
  if (b != shape)
    throw std::invalid_argument("[random::bernoulli] p of shape " + detail::shape_str(p.shape()) +
                                " cannot be broadcast to the shape " + detail::shape_str(shape));
  return less(uniform(shape, float32, key, s), astype(p, float32, s), s);
}
array bernoulli(float p, const Shape& shape, const Key& key, StreamOrDevice s) {
  return bernoulli(array(p), shape, key, s);
}
array bernoulli(const Key& key, StreamOrDevice s) { return bernoulli(0.5f, {}, key, s); }

array randint(int low, int high, const Shape& shape, Dtype dtype, const Key& key,
              StreamOrDevice s) {
  if (!is_integral(dtype))
    throw std::invalid_argument("[random::randint] dtype must be an integer type, got " +
                                to_string(dtype));
  if (high <= low)
    throw std::invalid_argument("[random::randint] high (" + std::to_string(high) +
                                ") must be greater than low (" + std::to_string(low) + ")");
  array b = bits(shape, 4, key, s);
  // (bits mod range) + low, computed in int64 so the range never overflows
  array r = remainder(astype(b, int64, s),
                      array(static_cast<int64_t>(high) - static_cast<int64_t>(low), int64), s);
  return astype(add(r, array(static_cast<int64_t>(low), int64), s), dtype, s);
}

array truncated_normal(float lower, float upper, const Shape& shape, Dtype dtype,
                       const Key& key, StreamOrDevice s) {
  check_float(dtype, "truncated_normal");
  if (!(upper > lower))
    throw std::invalid_argument("[random::truncated_normal] upper must be greater than lower");
  float a = std::erf(lower / static_cast<float>(M_SQRT2));
  float b = std::erf(upper / static_cast<float>(M_SQRT2));
  float lo = std::nextafter(a, std::numeric_limits<float>::max());
  array u = uniform(lo, b, shape, float32, key, s);
  array z = multiply(erfinv(u, s), array(static_cast<float>(M_SQRT2)), s);
  z = clip(z, array(lower), array(upper), s);
  return astype(z, dtype, s);
}

array gumbel(const Shape& shape, Dtype dtype, const Key& key, StreamOrDevice s) {
  check_float(dtype, "gumbel");
  float tiny = std::numeric_limits<float>::min();
  array u = uniform(tiny, 1.0f, shape, float32, key, s);
  return astype(negative(log(negative(log(u, s), s), s), s), dtype, s);
}

array categorical(const array& logits, int axis, const Key& key, StreamOrDevice s) {
  int ax = axis < 0 ? axis + logits.ndim() : axis;
  if (ax < 0 || ax >= logits.ndim())
    throw std::invalid_argument("[random::categorical] axis " + std::to_string(axis) +
                                " is out of bounds for logits of shape " +
                                detail::shape_str(logits.shape()));
  array g = gumbel(logits.shape(), float32, key, s);
  return argmax(add(astype(logits, float32, s), g, s), ax, false, s);
}
array categorical(const array& logits, int axis, int num_samples, const Key& key,
                  StreamOrDevice s) {
  int ax = axis < 0 ? axis + logits.ndim() : axis;
  if (ax < 0 || ax >= logits.ndim())
    throw std::invalid_argument("[random::categorical] axis out of bounds");
  if (num_samples < 0) throw std::invalid_argument("[random::categorical] num_samples < 0");
  // logits (..., C, ...) → samples shape (..., ..., num_samples)
  array l = moveaxis(logits, ax, -1, s);
  Shape sh = l.shape();
  sh.insert(sh.end() - 1, num_samples);
  array ex = expand_dims(l, -2, s);
  array g = gumbel(sh, float32, key, s);
  return argmax(add(astype(ex, float32, s), g, s), -1, false, s);
}

array permutation(int n, const Key& key, StreamOrDevice s) {
  if (n < 0) throw std::invalid_argument("[random::permutation] n must be non-negative");
  return astype(argsort(bits({n}, 4, key, s), -1, s), int32, s);
}
array permutation(const array& x, int axis, const Key& key, StreamOrDevice s) {
  int ax = axis < 0 ? axis + x.ndim() : axis;
  if (ax < 0 || ax >= x.ndim())
    throw std::invalid_argument("[random::permutation] axis out of bounds");
  return take(x, permutation(x.shape(ax), key, s), ax, s);
}

}  // namespace kiln::random
