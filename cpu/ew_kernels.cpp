#include "ew_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/array.h"
#include "fast_math.h"

namespace kiln::cpu {

namespace {

template <typename T>
constexpr bool is_half_v = std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>;

inline void to_float(const float16_t* x, float* y, size_t n) { detail::half_to_float(x, y, n); }
inline void to_float(const bfloat16_t* x, float* y, size_t n) { detail::bhalf_to_float(x, y, n); }
inline void from_float(const float* x, float16_t* y, size_t n) { detail::float_to_half(x, y, n); }
inline void from_float(const float* x, bfloat16_t* y, size_t n) { detail::float_to_bhalf(x, y, n); }

// Inverse error function (Giles' single precision approximation, refined by one Newton step).
float erfinv_f(float x) {
  if (x <= -1.0f) return x == -1.0f ? -INFINITY : NAN;
  if (x >= 1.0f) return x == 1.0f ? INFINITY : NAN;
  float w = -std::log((1.0f - x) * (1.0f + x)), p;
  if (w < 5.0f) {
    w = w - 2.5f;
    p = 2.81022636e-08f;
    p = 3.43273939e-07f + p * w;
    p = -3.5233877e-06f + p * w;
    p = -4.39150654e-06f + p * w;
    p = 0.00021858087f + p * w;
    p = -0.00125372503f + p * w;
    p = -0.00417768164f + p * w;
    p = 0.246640727f + p * w;
    p = 1.50140941f + p * w;
  } else {
    w = std::sqrt(w) - 3.0f;
    p = -0.000200214257f;
    p = 0.000100950558f + p * w;
    p = 0.00134934322f + p * w;
    p = -0.00367342844f + p * w;
    p = 0.00573950773f + p * w;
    p = -0.0076224613f + p * w;
    p = 0.00943887047f + p * w;
    p = 1.00167406f + p * w;
    p = 2.83297682f + p * w;
  }
  double y = static_cast<double>(p) * x;
  // one Newton step in double: f(y) = erf(y) - x
  double err = std::erf(y) - x;
  y -= err / (1.1283791670955126 * std::exp(-y * y));
  return static_cast<float>(y);
}

template <typename T>
T int_pow(T base, T e) {
  if constexpr (std::is_signed_v<T>) {
    if (e < 0) return base == 1 ? 1 : (base == -1 ? ((e & 1) ? -1 : 1) : 0);
  }
  T r = 1;
  while (e) {
    if (e & 1) r *= base;
    base *= base;
    e >>= 1;
  }
  return r;
}

// ---- float kernels
void unary_f32(UnaryOp op, const float* x, float* y, size_t n) {
#define LOOP(expr)                          \
  for (size_t i = 0; i < n; ++i) {          \
    float v = x[i];                         \
    y[i] = (expr);                          \
  }                                         \
  return;
  switch (op) {
    case UnaryOp::Abs: LOOP(std::fabs(v))
    case UnaryOp::Negative: LOOP(-v)
    case UnaryOp::Sign: LOOP(v > 0.f ? 1.f : (v < 0.f ? -1.f : (v != v ? v : 0.f)))
    case UnaryOp::Square: LOOP(v * v)
    case UnaryOp::Sqrt: LOOP(std::sqrt(v))
    case UnaryOp::Rsqrt: LOOP(1.0f / std::sqrt(v))
    case UnaryOp::Exp: LOOP(fm::exp(v))
    case UnaryOp::Expm1: LOOP(std::expm1(v))
    case UnaryOp::Log: LOOP(fm::log(v))
    case UnaryOp::Log1p: LOOP(std::log1p(v))
    case UnaryOp::Log2: LOOP(std::log2(v))
    case UnaryOp::Sin:
    case UnaryOp::Cos: {
      bool is_sin = op == UnaryOp::Sin;
      // a span with a large or non-finite argument (rare) goes through <cmath> whole
      bool big = false;
      for (size_t i = 0; i < n; ++i) big |= !(std::fabs(x[i]) <= fm::kTrigMax);
      if (big) {
        for (size_t i = 0; i < n; ++i) y[i] = is_sin ? std::sin(x[i]) : std::cos(x[i]);
      } else if (is_sin) {
        for (size_t i = 0; i < n; ++i) y[i] = fm::sin(x[i]);
      } else {
        for (size_t i = 0; i < n; ++i) y[i] = fm::cos(x[i]);
      }
      return;
    }
    case UnaryOp::Tan: LOOP(std::tan(v))
    case UnaryOp::Tanh: LOOP(fm::tanh(v))
    case UnaryOp::Sinh: LOOP(std::sinh(v))
    case UnaryOp::Cosh: LOOP(std::cosh(v))
    case UnaryOp::ArcSin: LOOP(std::asin(v))
    case UnaryOp::ArcCos: LOOP(std::acos(v))
    case UnaryOp::ArcTan: LOOP(std::atan(v))
    case UnaryOp::Sigmoid: LOOP(fm::sigmoid(v))
    case UnaryOp::Erf: LOOP(fm::erf(v))
    case UnaryOp::ErfInv: LOOP(erfinv_f(v))
    case UnaryOp::Floor: LOOP(std::floor(v))
    case UnaryOp::Ceil: LOOP(std::ceil(v))
    case UnaryOp::Round: LOOP(std::nearbyint(v))
    case UnaryOp::Identity: LOOP(v)
    default: break;
  }
#undef LOOP
}

template <typename T>
void unary_int(UnaryOp op, const T* x, T* y, size_t n) {
  switch (op) {
    case UnaryOp::Abs:
      for (size_t i = 0; i < n; ++i) {
        if constexpr (std::is_signed_v<T>) y[i] = x[i] < 0 ? -x[i] : x[i];
        else y[i] = x[i];
      }
      return;
    case UnaryOp::Negative:
      for (size_t i = 0; i < n; ++i) y[i] = static_cast<T>(T(0) - x[i]);
      return;
    case UnaryOp::Sign:
      for (size_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? 1 : (x[i] < 0 ? static_cast<T>(-1) : 0);
      return;
    case UnaryOp::Square:
      for (size_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
      return;
    case UnaryOp::Identity:
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
      std::copy(x, x + n, y);
      return;
    default:
      throw std::invalid_argument(std::string("[") + unary_op_name(op) +
                                  "] not supported for integer arrays");
  }
}

template <typename T>
void unary_typed(UnaryOp op, const T* x, void* out, size_t n) {
  if (op == UnaryOp::LogicalNot) {
    auto* y = static_cast<uint8_t*>(out);
    for (size_t i = 0; i < n; ++i) y[i] = !(static_cast<float>(x[i]) != 0.0f);
    return;
  }
  if (op == UnaryOp::IsNan || op == UnaryOp::IsInf) {
    auto* y = static_cast<uint8_t*>(out);
    for (size_t i = 0; i < n; ++i) {
      float v = static_cast<float>(x[i]);
      y[i] = op == UnaryOp::IsNan ? (v != v) : std::isinf(v);
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    unary_f32(op, x, static_cast<float*>(out), n);
  } else if constexpr (is_half_v<T>) {
    float a[256], b[256];
    T* y = static_cast<T*>(out);
    for (size_t s = 0; s < n; s += 256) {
      size_t m = std::min<size_t>(256, n - s);
      to_float(x + s, a, m);
      unary_f32(op, a, b, m);
      from_float(b, y + s, m);
    }
  } else if constexpr (std::is_same_v<T, bool>) {
    // bool arithmetic is promoted by the ops; identity only
    std::copy(x, x + n, static_cast<bool*>(out));
  } else {
    unary_int<T>(op, x, static_cast<T*>(out), n);
  }
}

// ---- binary
template <typename T>
struct BinFns {
  static T floor_div(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return std::floor(a / b);
    } else {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<T>) {
        if (b == -1) return static_cast<T>(T(0) - a);
        T q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
        return q;
      } else {
        return a / b;
      }
    }
  }
  static T rem(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      T r = std::fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      return r;
    } else {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<T>) {
        if (b == -1) return 0;
        T r = a % b;
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
      } else {
        return a % b;
      }
    }
  }
};

template <typename T, typename O, typename F>
inline void bin_loop(const T* a, int64_t sa, const T* b, int64_t sb, O* y, size_t n, F f) {
  if (sa == 1 && sb == 1) {
    for (size_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa == 0 && sb == 1) {
    T av = a[0];
    for (size_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else if (sa == 1 && sb == 0) {
    T bv = b[0];
    for (size_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else {
    for (size_t i = 0; i < n; ++i) y[i] = f(a[i * sa], b[i * sb]);
  }
}

template <typename T>
void binary_typed(BinaryOp op, const T* a, int64_t sa, const T* b, int64_t sb, void* out,
                  size_t n) {
  if constexpr (is_half_v<T>) {
    float fa[256], fb[256], fy[256];
    bool cmp = is_comparison(op);
    // a stride-0 (scalar) operand is converted once and stays stride 0
    auto load = [](const T* p, int64_t st, size_t s, size_t m, float* f) -> int64_t {
      if (st == 0) {
        f[0] = static_cast<float>(p[0]);
        return 0;
      }
      if (st == 1) {
        to_float(p + s, f, m);
      } else {
        for (size_t i = 0; i < m; ++i) f[i] = static_cast<float>(p[(s + i) * st]);
      }
      return 1;
    };
    for (size_t s = 0; s < n; s += 256) {
      size_t m = std::min<size_t>(256, n - s);
      int64_t fsa = load(a, sa, s, m, fa), fsb = load(b, sb, s, m, fb);
      if (cmp) {
        binary_typed<float>(op, fa, fsa, fb, fsb, static_cast<uint8_t*>(out) + s, m);
      } else {
        binary_typed<float>(op, fa, fsa, fb, fsb, fy, m);
        from_float(fy, static_cast<T*>(out) + s, m);
      }
    }
    return;
  } else {
    T* y = static_cast<T*>(out);
    auto* yb = static_cast<uint8_t*>(out);
    switch (op) {
      case BinaryOp::Add:
        if constexpr (std::is_same_v<T, bool>) bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return u || v; });
        else bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return static_cast<T>(u + v); });
        return;
      case BinaryOp::Subtract:
        bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return static_cast<T>(u - v); });
        return;
      case BinaryOp::Multiply:
        if constexpr (std::is_same_v<T, bool>) bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return u && v; });
        else bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return static_cast<T>(u * v); });
        return;
      case BinaryOp::Divide:
        if constexpr (std::is_floating_point_v<T>)
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return u / v; });
        else
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return BinFns<T>::floor_div(u, v); });
        return;
      case BinaryOp::FloorDivide:
        bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return BinFns<T>::floor_div(u, v); });
        return;
      case BinaryOp::Maximum:
        if constexpr (std::is_floating_point_v<T>)
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return (u != u || v != v) ? u + v : (u > v ? u : v); });
        else
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return u > v ? u : v; });
        return;
      case BinaryOp::Minimum:
        if constexpr (std::is_floating_point_v<T>)
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return (u != u || v != v) ? u + v : (u < v ? u : v); });
        else
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return u < v ? u : v; });
        return;
      case BinaryOp::Power:
        if constexpr (std::is_floating_point_v<T>) {
          if (sb == 0 && b[0] == T(2))  // x**2: u*u is the correctly rounded pow(u, 2)
            bin_loop(a, sa, b, sb, y, n, [](T u, T) { return u * u; });
          else
            bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return std::pow(u, v); });
        }
        else if constexpr (std::is_same_v<T, bool>)
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return u || !v; });
        else
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return int_pow<T>(u, v); });
        return;
      case BinaryOp::Remainder:
        if constexpr (!std::is_same_v<T, bool>)
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return BinFns<T>::rem(u, v); });
        return;
      case BinaryOp::ArcTan2:
        if constexpr (std::is_floating_point_v<T>)
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) { return std::atan2(u, v); });
        return;
      case BinaryOp::LogAddExp:
        if constexpr (std::is_floating_point_v<T>)
          bin_loop(a, sa, b, sb, y, n, [](T u, T v) {
            T m = u > v ? u : v;
            if (u != u || v != v) return u + v;
            if (std::isinf(m)) return m;
            return m + std::log1p(std::exp(-std::fabs(u - v)));
          });
        return;
      case BinaryOp::Equal: bin_loop(a, sa, b, sb, yb, n, [](T u, T v) -> uint8_t { return u == v; }); return;
      case BinaryOp::NotEqual: bin_loop(a, sa, b, sb, yb, n, [](T u, T v) -> uint8_t { return u != v; }); return;
      case BinaryOp::Less: bin_loop(a, sa, b, sb, yb, n, [](T u, T v) -> uint8_t { return u < v; }); return;
      case BinaryOp::LessEqual: bin_loop(a, sa, b, sb, yb, n, [](T u, T v) -> uint8_t { return u <= v; }); return;
      case BinaryOp::Greater: bin_loop(a, sa, b, sb, yb, n, [](T u, T v) -> uint8_t { return u > v; }); return;
      case BinaryOp::GreaterEqual: bin_loop(a, sa, b, sb, yb, n, [](T u, T v) -> uint8_t { return u >= v; }); return;
      case BinaryOp::LogicalAnd: bin_loop(a, sa, b, sb, yb, n, [](T u, T v) -> uint8_t { return u && v; }); return;
      case BinaryOp::LogicalOr: bin_loop(a, sa, b, sb, yb, n, [](T u, T v) -> uint8_t { return u || v; }); return;
      default: break;
    }
    throw std::invalid_argument(std::string("[") + binary_op_name(op) + "] not supported for dtype");
  }
}

}  // namespace

void unary_span(UnaryOp op, Dtype in_t, const void* in, void* out, size_t n) {
  dispatch_dtype(in_t, [&](auto tag) {
    using T = decltype(tag);
    unary_typed<T>(op, static_cast<const T*>(in), out, n);
  });
}

void binary_span(BinaryOp op, Dtype t, const void* a, int64_t sa, const void* b, int64_t sb,
                 void* out, size_t n) {
  dispatch_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    binary_typed<T>(op, static_cast<const T*>(a), sa, static_cast<const T*>(b), sb, out, n);
  });
}

void select_span(Dtype t, const uint8_t* c, int64_t sc, const void* a, int64_t sa, const void* b,
                 int64_t sb, void* out, size_t n) {
  auto go = [&](auto tag) {
    using U = decltype(tag);
    const U* x = static_cast<const U*>(a);
    const U* y = static_cast<const U*>(b);
    U* o = static_cast<U*>(out);
    if (sc == 1 && sa == 1 && sb == 1) {
      for (size_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : y[i];
    } else {
      for (size_t i = 0; i < n; ++i) o[i] = c[i * sc] ? x[i * sa] : y[i * sb];
    }
  };
  switch (t.size()) {
    case 1: go(uint8_t{}); break;
    case 2: go(uint16_t{}); break;
    case 4: go(uint32_t{}); break;
    default: go(uint64_t{}); break;
  }
}

void astype_span(Dtype from, const void* in, Dtype to, void* out, size_t n) {
  detail::convert(in, from, out, to, n);
}

}  // namespace kiln::cpu
