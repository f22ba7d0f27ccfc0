// Element types, their host representations and NumPy/MLX type promotion.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>

namespace kiln {

// IEEE half precision, stored as bits; converts through float.
struct float16_t {
  uint16_t bits = 0;
  float16_t() = default;
  float16_t(float f);  // NOLINT: implicit like a builtin
  operator float() const;
};

// bfloat16 (upper half of a float32), round-to-nearest-even on conversion.
struct bfloat16_t {
  uint16_t bits = 0;
  bfloat16_t() = default;
  bfloat16_t(float f);  // NOLINT
  operator float() const;
};

namespace detail {
// Bulk conversions between the half types and float32 (vectorized; F16C when available).
// Rounding matches the scalar constructors: to nearest even, overflow to inf.
void half_to_float(const float16_t* src, float* dst, size_t n);
void float_to_half(const float* src, float16_t* dst, size_t n);
void bhalf_to_float(const bfloat16_t* src, float* dst, size_t n);
void float_to_bhalf(const float* src, bfloat16_t* dst, size_t n);
}  // namespace detail

class Dtype {
 public:
  enum class Val : uint8_t { bool_, uint32, int32, int64, float16, bfloat16, float32 };
  constexpr explicit Dtype(Val v) : val_(v) {}
  constexpr Val val() const { return val_; }
  constexpr int size() const {
    switch (val_) {
      case Val::bool_: return 1;
      case Val::float16:
      case Val::bfloat16: return 2;
      case Val::int64: return 8;
      default: return 4;
    }
  }
  constexpr bool operator==(const Dtype& o) const { return val_ == o.val_; }
  constexpr bool operator!=(const Dtype& o) const { return val_ != o.val_; }

 private:
  Val val_;
};

inline constexpr Dtype bool_{Dtype::Val::bool_};
inline constexpr Dtype uint32{Dtype::Val::uint32};
inline constexpr Dtype int32{Dtype::Val::int32};
inline constexpr Dtype int64{Dtype::Val::int64};
inline constexpr Dtype float16{Dtype::Val::float16};
inline constexpr Dtype bfloat16{Dtype::Val::bfloat16};
inline constexpr Dtype float32{Dtype::Val::float32};

inline constexpr int kNumDtypes = 7;

constexpr bool is_floating(Dtype d) {
  return d == float16 || d == bfloat16 || d == float32;
}
constexpr bool is_integral(Dtype d) { return d == int32 || d == uint32 || d == int64; }
constexpr bool is_unsigned(Dtype d) { return d == uint32 || d == bool_; }

// NumPy/MLX promotion of two array dtypes.
Dtype promote_types(Dtype a, Dtype b);
// "float32", "int32", ...
std::string to_string(Dtype d);
std::ostream& operator<<(std::ostream& os, Dtype d);

// C++ type → dtype (double maps to float32, as MLX has no float64).
template <typename T>
struct dtype_of;
template <> struct dtype_of<bool> { static constexpr Dtype value = bool_; };
template <> struct dtype_of<uint32_t> { static constexpr Dtype value = uint32; };
template <> struct dtype_of<int32_t> { static constexpr Dtype value = int32; };
template <> struct dtype_of<int64_t> { static constexpr Dtype value = int64; };
template <> struct dtype_of<long long> { static constexpr Dtype value = int64; };
template <> struct dtype_of<float16_t> { static constexpr Dtype value = float16; };
template <> struct dtype_of<bfloat16_t> { static constexpr Dtype value = bfloat16; };
template <> struct dtype_of<float> { static constexpr Dtype value = float32; };
template <> struct dtype_of<double> { static constexpr Dtype value = float32; };
template <typename T>
inline constexpr Dtype dtype_of_v = dtype_of<T>::value;

// Calls f(T{}) with T the host type of d.
template <typename F>
decltype(auto) dispatch_dtype(Dtype d, F&& f) {
  switch (d.val()) {
    case Dtype::Val::bool_: return f(bool{});
    case Dtype::Val::uint32: return f(uint32_t{});
    case Dtype::Val::int32: return f(int32_t{});
    case Dtype::Val::int64: return f(int64_t{});
    case Dtype::Val::float16: return f(float16_t{});
    case Dtype::Val::bfloat16: return f(bfloat16_t{});
    default: return f(float{});
  }
}

}  // namespace kiln
