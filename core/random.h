// kiln::random — counter-based (Threefry-2x32) keys; the same key gives the same bits on
// every device and every run. Without an explicit key, the global state random::state()
// is split and advanced (capture it in compile's inputs/outputs to get fresh numbers per call).
#pragma once
#include <cstdint>
#include <optional>
#include <utility>

#include "array.h"
#include "stateful.h"

namespace kiln::random {

// The global key, a Stateful holding one uint32 (2,) array.
class KeyState : public Stateful {
 public:
  std::vector<array> state_arrays() const override;
  void set_state_arrays(const std::vector<array>& arrays) override;
  // Returns a fresh subkey and advances the state.
  array next();
  void seed(uint64_t s);
  const array& key() const;

 private:
  mutable std::optional<array> key_;
};

KeyState& state();
void seed(uint64_t seed);
// A key (uint32, shape (2,)) from a seed.
array key(uint64_t seed);
// num keys, shape (num, 2).
array split(const array& key, int num, StreamOrDevice s = {});
// Two keys.
std::pair<array, array> split(const array& key, StreamOrDevice s = {});

using Key = std::optional<array>;

// Random uint32 bits of `shape` (width must be 4 bytes).
array bits(const Shape& shape, int width = 4, const Key& key = {}, StreamOrDevice s = {});
// Uniform on [low, high).
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const Key& key = {}, StreamOrDevice s = {});
array uniform(float low, float high, const Shape& shape, Dtype dtype = float32,
              const Key& key = {}, StreamOrDevice s = {});
array uniform(const Shape& shape, Dtype dtype = float32, const Key& key = {},
              StreamOrDevice s = {});
// Normal with mean loc and standard deviation scale.
array normal(const Shape& shape, Dtype dtype = float32, float loc = 0.f, float scale = 1.f,
             const Key& key = {}, StreamOrDevice s = {});
array normal(const Shape& shape, Dtype dtype, const array& loc, const array& scale,
             const Key& key = {}, StreamOrDevice s = {});
// Bernoulli(p) as bool; p broadcast to shape.
array bernoulli(const array& p, const Shape& shape, const Key& key = {}, StreamOrDevice s = {});
array bernoulli(float p, const Shape& shape, const Key& key = {}, StreamOrDevice s = {});
array bernoulli(const Key& key = {}, StreamOrDevice s = {});
// Integers uniform on [low, high).
array randint(int low, int high, const Shape& shape, Dtype dtype = int32, const Key& key = {},
              StreamOrDevice s = {});
// Normal truncated to [lower, upper].
array truncated_normal(float lower, float upper, const Shape& shape, Dtype dtype = float32,
                       const Key& key = {}, StreamOrDevice s = {});
// Samples class indices (uint32) from unnormalised log-probabilities along axis.
array categorical(const array& logits, int axis = -1, const Key& key = {},
                  StreamOrDevice s = {});
array categorical(const array& logits, int axis, int num_samples, const Key& key = {},
                  StreamOrDevice s = {});
array gumbel(const Shape& shape, Dtype dtype = float32, const Key& key = {},
             StreamOrDevice s = {});
// A random permutation of arange(n), or of x along axis.
array permutation(int n, const Key& key = {}, StreamOrDevice s = {});
array permutation(const array& x, int axis = 0, const Key& key = {}, StreamOrDevice s = {});

}  // namespace kiln::random
