// float32 math with accuracy close to <cmath> (a few ulp), independent of the driver's
// relaxed built-ins. exp, log, tanh, sigmoid and erf follow cpu/fast_math.h step by step.
const float K_PI = 3.14159265358979323846;
const float K_PI_2 = 1.57079632679489661923;
const float K_PI_4 = 0.78539816339744830962;
#define K_INF uintBitsToFloat(0x7f800000u)
#define K_NAN uintBitsToFloat(0x7fc00000u)

float copysign_f(float a, float s) {
  return uintBitsToFloat((floatBitsToUint(a) & 0x7fffffffu) | (floatBitsToUint(s) & 0x80000000u));
}
bool signbit_f(float a) { return (floatBitsToUint(a) & 0x80000000u) != 0u; }

float k_exp(float x) {
  float xc = clamp(x, -104.0, 88.7228394);
  float n = roundEven(xc * 1.44269504088896341);
  float r = xc - n * 0.693145751953125;
  r = r - n * 1.428606765330187045e-06;
  float p = 1.9875691500e-4;
  p = p * r + 1.3981999507e-3;
  p = p * r + 8.3334519073e-3;
  p = p * r + 4.1665795894e-2;
  p = p * r + 1.6666665459e-1;
  p = p * r + 5.0000001201e-1;
  p = p * r * r + r + 1.0;
  int ni = int(n);
  int e1 = ni >> 1, e2 = ni - e1;
  float res = p * uintBitsToFloat(uint(e1 + 127) << 23) * uintBitsToFloat(uint(e2 + 127) << 23);
  res = x < -103.97 ? 0.0 : res;
  res = x > 88.7228394 ? K_INF : res;
  return isnan(x) ? x : res;
}

// log(m * 2^e) with m in [sqrt(.5), sqrt(2)): returns (e, log(m)).
float k_log_core(float x, out float e_out) {
  uint u = floatBitsToUint(x);
  int e = int((u >> 23) & 0xffu) - 127;
  float m = uintBitsToFloat((u & 0x7fffffu) | 0x3f800000u);
  bool big = m > 1.41421356;
  m = big ? m * 0.5 : m;
  e = big ? e + 1 : e;
  float f = (m - 1.0) / (m + 1.0);
  float f2 = f * f;
  float p = f2 * (0.6666666666 + f2 * (0.4000000598 + f2 * (0.2857142874 +
            f2 * (0.2222219843 + f2 * (0.1818357216 + f2 * 0.1531383769)))));
  e_out = float(e);
  return 2.0 * f + f * p;
}
float k_log_special(float x) {
  if (isnan(x) || x < 0.0) return K_NAN;
  if (x == 0.0) return -K_INF;
  return K_INF;  // +inf
}
float k_log(float x) {
  bool normal = x >= 1.17549435e-38 && x < K_INF;
  if (!normal) {
    if (x > 0.0 && x < 1.17549435e-38) {  // subnormal
      float e;
      float l = k_log_core(x * 8388608.0, e);
      return l + (e - 23.0) * 0.693147180559945;
    }
    return k_log_special(x);
  }
  float e;
  float l = k_log_core(x, e);
  return l + e * 0.693147180559945;
}
float k_log2(float x) {
  if (!(x >= 1.17549435e-38 && x < K_INF)) return k_log(x) * 1.44269504088896341;
  float e;
  float l = k_log_core(x, e);
  return e + l * 1.44269504088896341;
}

float k_expm1(float x) {
  if (abs(x) < 1e-5) return x + 0.5 * x * x;
  float u = k_exp(x);
  if (isinf(u) || isnan(u) || abs(x) > 1.0) return u - 1.0;
  float um1 = u - 1.0;
  if (um1 == -1.0) return -1.0;
  return um1 * x / k_log(u);
}
float k_log1p(float x) {
  float u = 1.0 + x;
  if (u == 1.0) return x;
  if (isinf(u) || isnan(u) || u <= 0.0) return k_log(u);
  return k_log(u) * x / (u - 1.0);
}

float k_erf(float a) {
  float x = clamp(a, -4.0, 4.0);
  float x2 = x * x;
  float p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
  p = x2 * p + -2.10102402082508e-06;
  p = x2 * p + -5.69250639462346e-05;
  p = x2 * p + -7.34990630326855e-04;
  p = x2 * p + -2.95459980854025e-03;
  p = x2 * p + -1.60960333262415e-02;
  p = x * p;
  float q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04;
  q = x2 * q + -1.68282697438203e-03;
  q = x2 * q + -7.37332916720468e-03;
  q = x2 * q + -1.42647390514189e-02;
  float r = p / q;
  return isnan(a) ? a : r;
}

float k_tanh(float x) {
  float ax = abs(x);
  float e = k_exp(2.0 * min(ax, 9.0));
  float big = 1.0 - 2.0 / (e + 1.0);
  float z = x * x;
  float small = x + x * z * (-3.33332819e-1 + z * (1.33314422e-1 + z * (-5.37397155e-2 +
                z * (2.06390887e-2 + z * -5.70498872e-3))));
  float res = ax < 0.55 ? small : copysign_f(big, x);
  res = ax >= 9.0 ? copysign_f(1.0, x) : res;  // tanh rounds to +-1 in float32 there
  return isnan(x) ? x : res;
}

float k_sigmoid(float x) {
  float e = k_exp(-abs(x));
  float pos = 1.0 / (1.0 + e);
  float neg = e / (1.0 + e);
  return x >= 0.0 ? pos : (isnan(x) ? x : neg);
}

#ifdef KILN_F64
// double exp for |x| < 700: reduction by ln2 (two-part), Taylor to degree 13.
double d_exp(double x) {
  double n = roundEven(x * 1.4426950408889634lf);
  double r = x - n * 6.93147180369123816490e-01lf;
  r = r - n * 1.90821492927058770002e-10lf;
  double p = 1.0lf / 6227020800.0lf;
  p = p * r + 1.0lf / 479001600.0lf;
  p = p * r + 1.0lf / 39916800.0lf;
  p = p * r + 1.0lf / 3628800.0lf;
  p = p * r + 1.0lf / 362880.0lf;
  p = p * r + 1.0lf / 40320.0lf;
  p = p * r + 1.0lf / 5040.0lf;
  p = p * r + 1.0lf / 720.0lf;
  p = p * r + 1.0lf / 120.0lf;
  p = p * r + 1.0lf / 24.0lf;
  p = p * r + 1.0lf / 6.0lf;
  p = p * r + 0.5lf;
  p = p * r + 1.0lf;
  p = p * r + 1.0lf;
  return ldexp(p, int(n));
}
// double erf: Maclaurin series below 2.5, continued fraction of erfc above.
double d_erf(double x) {
  double ax = abs(x);
  double r;
  if (ax < 2.5lf) {
    double x2 = x * x, t = x, sum = x;
    for (int n = 1; n < 80; ++n) {
      t *= -x2 / double(n);
      double term = t / double(2 * n + 1);
      sum += term;
      if (abs(term) < 1e-17lf * abs(sum)) break;
    }
    return 1.1283791670955126lf * sum;
  }
  double f = ax;
  for (int k = 80; k >= 1; --k) f = ax + (double(k) * 0.5lf) / f;
  r = 1.0lf - d_exp(-ax * ax) / (1.7724538509055160lf * f);
  return x < 0.0lf ? -r : r;
}
#endif

// Giles' single-precision erfinv, refined by one Newton step.
float k_erfinv(float x) {
  if (x <= -1.0) return x == -1.0 ? -K_INF : K_NAN;
  if (x >= 1.0) return x == 1.0 ? K_INF : K_NAN;
  if (isnan(x)) return x;
  float w = -k_log((1.0 - x) * (1.0 + x)), p;
  if (w < 5.0) {
    w = w - 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
#ifdef KILN_F64
  // the CPU's Newton step in double, so results are bit-identical to it
  double yd = double(p) * double(x);
  double errd = d_erf(yd) - double(x);
  yd -= errd / (1.1283791670955126lf * d_exp(-yd * yd));
  return float(yd);
#else
  float y = p * x;
  float err = k_erf(y) - x;
  float d = 1.1283791670955126 * k_exp(-y * y);
  if (d > 0.0 && abs(y) < 3.5) y -= err / d;
  return y;
#endif
}

// sin/cos: Cody-Waite reduction by pi/2 (accurate for |x| up to ~1e5), minimax polynomials.
float k_sincos(float x, int shift) {
  if (isinf(x) || isnan(x)) return K_NAN;
  float j = roundEven(x * 0.636619772367581343);
  float r = x - j * 1.5703125;
  r = r - j * 4.837512969970703125e-4;
  r = r - j * 7.54978995489188216e-8;
  int q = (int(j) + shift) & 3;
  float r2 = r * r;
  float s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  float c = 1.0 - 0.5 * r2 +
            r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  float v = (q & 1) == 0 ? s : c;
  return (q & 2) == 0 ? v : -v;
}
float k_sin(float x) { return k_sincos(x, 0); }
float k_cos(float x) { return k_sincos(x, 1); }
float k_tan(float x) { return k_sin(x) / k_cos(x); }

float k_atan(float x) {
  float ax = abs(x);
  float y0 = 0.0, z = ax;
  if (ax > 2.414213562373095) {
    y0 = K_PI_2;
    z = -1.0 / ax;
  } else if (ax > 0.4142135623730950) {
    y0 = K_PI_4;
    z = (ax - 1.0) / (ax + 1.0);
  }
  float z2 = z * z;
  float p = (((8.05374449538e-2 * z2 - 1.38776856032e-1) * z2 + 1.99777106478e-1) * z2 -
             3.33329491539e-1) * z2 * z + z;
  float r = y0 + p;
  return isnan(x) ? x : copysign_f(r, x);
}
float k_asin(float x) {
  float a = abs(x);
  if (!(a <= 1.0)) return K_NAN;
  bool big = a > 0.5;
  float z, r;
  if (big) {
    z = 0.5 * (1.0 - a);
    r = sqrt(z);
  } else {
    r = a;
    z = a * a;
  }
  float p = ((((4.2163199048e-2 * z + 2.4181311049e-2) * z + 4.5470025998e-2) * z +
              7.4953002686e-2) * z + 1.6666752422e-1) * z * r + r;
  if (big) p = K_PI_2 - 2.0 * p;
  return copysign_f(p, x);
}
float k_acos(float x) {
  if (!(abs(x) <= 1.0)) return K_NAN;
  if (x < -0.5) return K_PI - 2.0 * k_asin(sqrt(0.5 * (1.0 + x)));
  if (x > 0.5) return 2.0 * k_asin(sqrt(0.5 * (1.0 - x)));
  return K_PI_2 - k_asin(x);
}
float k_atan2(float y, float x) {
  if (isnan(x) || isnan(y)) return x + y;
  float ax = abs(x), ay = abs(y), a;
  if (ay == 0.0) a = 0.0;
  else if (ax == 0.0) a = K_PI_2;
  else if (isinf(ax) && isinf(ay)) a = K_PI_4;
  else if (ax >= ay) a = k_atan(ay / ax);
  else a = K_PI_2 - k_atan(ax / ay);
  if (signbit_f(x)) a = K_PI - a;
  return copysign_f(a, y);
}
float k_sinh(float x) {
  float ax = abs(x);
  float r;
  if (ax < 1.0) {
    float em1 = k_expm1(ax);
    r = 0.5 * (em1 + em1 / (em1 + 1.0));
  } else {
    float e = k_exp(ax * 0.5);  // exp(x)/2 = (e * e) / 2 without early overflow
    r = 0.5 * e * e - 0.5 / (e * e);
  }
  return isnan(x) ? x : copysign_f(r, x);
}
float k_cosh(float x) {
  float e = k_exp(abs(x) * 0.5);
  return isnan(x) ? x : 0.5 * e * e + 0.5 / (e * e);
}

// a / b corrected by one residual step (plain division may be 2.5 ulp in Vulkan).
float k_div(float a, float b) {
  float q = a / b;
  if (isinf(q) || isnan(q) || q == 0.0) return q;
  float r = fma(-q, b, a);
  return q + r / b;
}
float k_fmod(float a, float b) {
  if (isnan(a) || isnan(b) || isinf(a) || b == 0.0) return K_NAN;
  if (isinf(b)) return a;
  float q = trunc(k_div(a, b));
  float r = fma(-q, b, a);
  // keep |r| < |b| with the sign of a
  if (abs(r) >= abs(b)) r -= copysign_f(abs(b), r);
  if (r != 0.0 && signbit_f(r) != signbit_f(a)) r += copysign_f(abs(b), a);
  return r;
}
bool k_is_int(float y) { return floor(y) == y && !isinf(y); }
float k_pow(float x, float y) {
  if (y == 0.0 || x == 1.0) return 1.0;
  if (isnan(x) || isnan(y)) return K_NAN;
  bool odd = k_is_int(y) && abs(y) < 16777216.0 && (int64_t(y) & 1) != 0;
  if (x == 0.0) {
    float r = y > 0.0 ? 0.0 : K_INF;
    return odd ? copysign_f(r, x) : r;
  }
  if (isinf(y)) {
    float ax = abs(x);
    if (ax == 1.0) return 1.0;
    return (ax > 1.0) == (y > 0.0) ? K_INF : 0.0;
  }
  if (x < 0.0 && !k_is_int(y)) return K_NAN;
  float r = k_exp(y * k_log(abs(x)));
  if (isinf(x)) r = y > 0.0 ? K_INF : 0.0;
  return (x < 0.0 && odd) ? -r : r;
}
