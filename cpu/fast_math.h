// Branch-free float32 math that GCC/Clang vectorize (the loops of elementwise kernels).
// Accuracy: a few ulp over the full range; NaN and infinities propagate like <cmath>.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#define KILN_FM_INLINE inline __attribute__((always_inline))

namespace kiln::cpu::fm {

KILN_FM_INLINE float as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
KILN_FM_INLINE uint32_t as_uint(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// exp: range reduction by ln2, degree-6 polynomial, scale by 2^n built in the exponent bits
// (split in two factors so that subnormal results come out right).
KILN_FM_INLINE float exp(float x) {
  float xc = x < -104.0f ? -104.0f : (x > 88.7228394f ? 88.7228394f : x);
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t ni = static_cast<int32_t>(n);
  int32_t e1 = ni >> 1, e2 = ni - e1;
  float res = p * as_float(static_cast<uint32_t>(e1 + 127) << 23) *
              as_float(static_cast<uint32_t>(e2 + 127) << 23);
  res = x < -103.97f ? 0.0f : res;
  res = x > 88.7228394f ? INFINITY : res;
  return x != x ? x : res;
}

// erf: odd rational approximation x*P(x^2)/Q(x^2) on [-4, 4] (the one used by Eigen and
// XLA; |error| < 2e-7), +-1 outside.
KILN_FM_INLINE float erf(float a) {
  float x = a < -4.0f ? -4.0f : (a > 4.0f ? 4.0f : a);
  float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  float r = p / q;
  return a != a ? a : r;
}

// tanh through exp: 1 - 2/(exp(2x)+1), with a polynomial near zero for relative accuracy.
KILN_FM_INLINE float tanh(float x) {
  float ax = std::fabs(x);
  // 2/(exp(2x)+1) is below half an ulp of 1 from x = 9.1 on; clamp well past that
  float e = fm::exp(2.0f * (ax > 20.0f ? 20.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  float z = x * x;
  float small = x + x * z * (-3.33332819e-1f + z * (1.33314422e-1f + z * (-5.37397155e-2f +
                z * (2.06390887e-2f + z * -5.70498872e-3f))));
  float res = ax < 0.55f ? small : std::copysign(big, x);
  return x != x ? x : res;
}

KILN_FM_INLINE float sigmoid(float x) {
  // 1/(1+exp(-x)) is accurate for x >= 0; for x < 0 use e/(1+e) with e = exp(x)
  float e = fm::exp(-std::fabs(x));
  float pos = 1.0f / (1.0f + e);
  float neg = e / (1.0f + e);
  return x >= 0.0f ? pos : (x != x ? x : neg);
}

// log: reduce to m in [sqrt(.5), sqrt(2)), log(m) by atanh series. Subnormals are scaled
// by 2^23 first; zero, negatives, inf and NaN are selected at the end (no calls, so the
// loop vectorizes).
KILN_FM_INLINE float log(float x) {
  bool sub = x < 1.17549435e-38f;
  float xs = sub ? x * 8388608.0f : x;
  uint32_t u = as_uint(xs);
  int32_t e = static_cast<int32_t>((u >> 23) & 0xff) - (sub ? 150 : 127);
  float m = as_float((u & 0x7fffffu) | 0x3f800000u);
  bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1 : e;
  float f = (m - 1.0f) / (m + 1.0f);
  float f2 = f * f;
  float p = f2 * (0.6666666666f + f2 * (0.4000000598f + f2 * (0.2857142874f +
            f2 * (0.2222219843f + f2 * (0.1818357216f + f2 * 0.1531383769f)))));
  float r = 2.0f * f + f * p + static_cast<float>(e) * 0.693147180559945f;
  r = x == 0.0f ? -INFINITY : r;
  r = x < 0.0f ? NAN : r;
  r = x == INFINITY ? INFINITY : r;
  return x != x ? x : r;
}

// sin and cos for |x| <= kTrigMax: Cody-Waite reduction by pi/2 in three parts (exact for
// the quadrant counts reached there), Cephes' single-precision polynomials on [-pi/4, pi/4].
// Callers recompute larger |x| with <cmath>.
constexpr float kTrigMax = 8192.0f;
KILN_FM_INLINE void sincos_reduced(float x, float& s, float& c, int32_t& q) {
  float j = (x * 0.636619772367581343f + 12582912.0f) - 12582912.0f;  // round(x * 2/pi)
  float r = x - j * 1.5703125f;
  r = r - j * 4.837512969970703125e-4f;
  r = r - j * 7.54978995489188216e-8f;
  float z = r * r;
  s = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
  c = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
      0.5f * z + 1.0f;
  q = static_cast<int32_t>(j) & 3;
}
KILN_FM_INLINE float sin(float x) {
  float s, c;
  int32_t q;
  sincos_reduced(x, s, c, q);
  float v = (q & 1) ? c : s;
  return (q & 2) ? -v : v;
}
KILN_FM_INLINE float cos(float x) {
  float s, c;
  int32_t q;
  sincos_reduced(x, s, c, q);
  float v = (q & 1) ? s : c;
  return ((q + 1) & 2) ? -v : v;
}

}  // namespace kiln::cpu::fm
