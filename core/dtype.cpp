#include "dtype.h"

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

namespace kiln {

float16_t::float16_t(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {  // inf or nan
    bits = static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    return;
  }
  if (absx >= 0x477ff000u) {  // overflow to inf (>= 65520)
    bits = static_cast<uint16_t>(sign | 0x7c00u);
    return;
  }
  if (absx < 0x38800000u) {  // subnormal or zero in half
    float af;
    std::memcpy(&af, &absx, 4);
    // scale so that the half subnormal ulp (2^-24) becomes 1, round to nearest even
    float scaled = af * 16777216.0f;
    uint32_t m = static_cast<uint32_t>(scaled);
    float rem = scaled - static_cast<float>(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1u))) ++m;
    bits = static_cast<uint16_t>(sign | m);
    return;
  }
  uint32_t mant = absx & 0x7fffffu;
  uint32_t exp = (absx >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t round = mant & 0x1fffu;
  if (round > 0x1000u || (round == 0x1000u && (h & 1u))) ++h;
  bits = static_cast<uint16_t>(sign | h);
}

float16_t::operator float() const {
  uint32_t sign = (bits & 0x8000u) << 16;
  uint32_t exp = (bits >> 10) & 0x1fu;
  uint32_t mant = bits & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      float f = static_cast<float>(mant) / 16777216.0f;
      std::memcpy(&x, &f, 4);
      x |= sign;
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

bfloat16_t::bfloat16_t(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    bits = static_cast<uint16_t>((x >> 16) | 0x40u);
    return;
  }
  uint32_t lsb = (x >> 16) & 1u;
  x += 0x7fffu + lsb;
  bits = static_cast<uint16_t>(x >> 16);
}

bfloat16_t::operator float() const {
  uint32_t x = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

namespace detail {

void half_to_float(const float16_t* src, float* dst, size_t n) {
  size_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

void float_to_half(const float* src, float16_t* dst, size_t n) {
  size_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; ++i) dst[i] = float16_t(src[i]);
}

void bhalf_to_float(const bfloat16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t x = static_cast<uint32_t>(src[i].bits) << 16;
    std::memcpy(dst + i, &x, 4);
  }
}

void float_to_bhalf(const float* src, bfloat16_t* dst, size_t n) {
  // the scalar constructor's rounding, written without branches so the loop vectorizes
  for (size_t i = 0; i < n; ++i) {
    uint32_t x;
    std::memcpy(&x, src + i, 4);
    uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    uint32_t nan = (x >> 16) | 0x40u;
    dst[i].bits = static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
  }
}

}  // namespace detail

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  if (a == bool_) return b;
  if (b == bool_) return a;
  bool fa = is_floating(a), fb = is_floating(b);
  if (fa && fb) {
    if (a == float32 || b == float32) return float32;
    return float32;  // float16 + bfloat16
  }
  if (fa) return a;
  if (fb) return b;
  // both integral, different
  if (a == int64 || b == int64) return int64;
  // uint32 with int32
  return int64;
}

std::string to_string(Dtype d) {
  switch (d.val()) {
    case Dtype::Val::bool_: return "bool";
    case Dtype::Val::uint32: return "uint32";
    case Dtype::Val::int32: return "int32";
    case Dtype::Val::int64: return "int64";
    case Dtype::Val::float16: return "float16";
    case Dtype::Val::bfloat16: return "bfloat16";
    default: return "float32";
  }
}

std::ostream& operator<<(std::ostream& os, Dtype d) { return os << to_string(d); }

}  // namespace kiln
