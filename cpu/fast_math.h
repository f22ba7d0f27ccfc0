// Branch-free float32 math that GCC/Clang vectorize (the loops of elementwise kernels).
// Accuracy: a few ulp over the full range; NaN and infinities propagate like <cmath>.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace kiln::cpu::fm {

inline float as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t as_uint(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// exp: range reduction by ln2, degree-6 polynomial, scale by 2^n built in the exponent bits
// (split in two factors so that subnormal results come out right).
inline float exp(float x) {
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

// erf: Abramowitz–Stegun 7.1.26 is too coarse; use the rational form of glibc's single
// precision erff split at |x| = 0.84375 (max error ~1e-7 relative).
inline float erf(float x) {
  float ax = std::fabs(x);
  // |x| < 0.84375: x + x*P(x^2)/Q(x^2)
  float z = x * x;
  float p1 = 1.28379166e-01f + z * (-3.25042099e-01f + z * (-2.84817495e-02f +
             z * (-5.77027029e-03f + z * -2.37630166e-05f)));
  float q1 = 1.0f + z * (3.97917211e-01f + z * (6.50222491e-02f + z * (5.08130631e-03f +
             z * (1.32494734e-04f + z * -3.96022827e-06f))));
  float small = x + x * (p1 / q1);
  // 0.84375 <= |x| < 1.25: erx + P(s)/Q(s), s = |x|-1
  float s = ax - 1.0f;
  float p2 = -2.36211856e-03f + s * (4.14856106e-01f + s * (-3.72207481e-01f +
             s * (3.18346640e-01f + s * (-1.10894689e-01f + s * (3.54783051e-02f +
             s * -2.16637552e-03f)))));
  float q2 = 1.0f + s * (1.06420882e-01f + s * (5.40397942e-01f + s * (7.18286559e-02f +
             s * (1.26171219e-01f + s * (1.36370836e-02f + s * 1.19844997e-02f)))));
  float mid = 8.45062911e-01f + p2 / q2;
  // |x| >= 1.25: 1 - exp(-x^2 - 0.5625 + R(1/x^2)/S(1/x^2)) / |x|
  float t = 1.0f / (ax * ax);
  float ra, sa;
  {
    float ra1 = -9.86494403e-03f + t * (-6.93858016e-01f + t * (-1.05586262e+01f +
                t * (-6.23753357e+01f + t * (-1.62396660e+02f + t * (-1.84605087e+02f +
                t * (-8.12874374e+01f + t * -9.81432915e+00f))))));
    float sa1 = 1.0f + t * (1.96512716e+01f + t * (1.37657754e+02f + t * (4.34565887e+02f +
                t * (6.45387268e+02f + t * (4.29008148e+02f + t * (1.08635002e+02f +
                t * (6.57024980e+00f + t * -6.04244126e-02f)))))));
    float rb1 = -9.86494310e-03f + t * (-7.99283209e-01f + t * (-1.77579553e+01f +
                t * (-1.60636383e+02f + t * (-6.37566467e+02f + t * (-1.02509509e+03f +
                t * -4.83519189e+02f)))));
    float sb1 = 1.0f + t * (3.03380604e+01f + t * (3.25792511e+02f + t * (1.53672925e+03f +
                t * (3.19985840e+03f + t * (2.55305034e+03f + t * (4.74528534e+02f +
                t * -2.24409524e+01f))))));
    bool use_a = ax < 2.85714293f;
    ra = use_a ? ra1 : rb1;
    sa = use_a ? sa1 : sb1;
  }
  float zz = as_float(as_uint(ax) & 0xfffff000u);
  float r = fm::exp(-zz * zz - 0.5625f) * fm::exp((zz - ax) * (zz + ax) + ra / sa);
  float big = 1.0f - r / ax;
  big = ax >= 6.0f ? 1.0f : big;
  float res = ax < 0.84375f ? small : (ax < 1.25f ? std::copysign(mid, x) : std::copysign(big, x));
  return x != x ? x : res;
}

// tanh through exp: 1 - 2/(exp(2x)+1), with a polynomial near zero for relative accuracy.
inline float tanh(float x) {
  float ax = std::fabs(x);
  float e = fm::exp(2.0f * (ax > 9.0f ? 9.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  float z = x * x;
  float small = x + x * z * (-3.33332819e-1f + z * (1.33314422e-1f + z * (-5.37397155e-2f +
                z * (2.06390887e-2f + z * -5.70498872e-3f))));
  float res = ax < 0.55f ? small : std::copysign(big, x);
  return x != x ? x : res;
}

inline float sigmoid(float x) {
  // 1/(1+exp(-x)) is accurate for x >= 0; for x < 0 use e/(1+e) with e = exp(x)
  float e = fm::exp(-std::fabs(x));
  float pos = 1.0f / (1.0f + e);
  float neg = e / (1.0f + e);
  return x >= 0.0f ? pos : (x != x ? x : neg);
}

// log: reduce to m in [sqrt(.5), sqrt(2)), log(m) by atanh series.
inline float log(float x) {
  uint32_t u = as_uint(x);
  int32_t e = static_cast<int32_t>((u >> 23) & 0xff) - 127;
  float m = as_float((u & 0x7fffffu) | 0x3f800000u);
  bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1 : e;
  float f = (m - 1.0f) / (m + 1.0f);
  float f2 = f * f;
  float p = f2 * (0.6666666666f + f2 * (0.4000000598f + f2 * (0.2857142874f +
            f2 * (0.2222219843f + f2 * (0.1818357216f + f2 * 0.1531383769f)))));
  float r = 2.0f * f + f * p + static_cast<float>(e) * 0.693147180559945f;
  bool normal = x >= 1.17549435e-38f && x < INFINITY;
  return normal ? r : std::log(x);
}

}  // namespace kiln::cpu::fm
