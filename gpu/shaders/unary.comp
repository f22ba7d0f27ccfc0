#version 460
// y[i] = op(x[i]), contiguous. Defines: T (input dtype), PRED (output bool: logical_not,
// isnan, isinf), KILN_F64 (erfinv refined in float64 like the CPU: the unary_erfinv_* variants). Spec constants: 0 workgroup size, 1 op (kiln::UnaryOp).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
#include "common/math.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;
#ifdef PRED
#define O bool
#else
#define O T
#endif
layout(push_constant) uniform PC {
  BUF(T) x;
  BUF(O) y;
  uint n;
} pc;

// kiln::UnaryOp
const uint Abs = 0, Negative = 1, Sign = 2, Square = 3, Sqrt = 4, Rsqrt = 5, Exp = 6, Expm1 = 7,
           Log = 8, Log1p = 9, Log2 = 10, Sin = 11, Cos = 12, Tan = 13, Tanh = 14, Sinh = 15,
           Cosh = 16, ArcSin = 17, ArcCos = 18, ArcTan = 19, Sigmoid = 20, Erf = 21, ErfInv = 22,
           Floor = 23, Ceil = 24, Round = 25, LogicalNot = 26, IsNan = 27, IsInf = 28,
           Identity = 29;

CT(O) apply(CT(T) v) {
#ifdef PRED
#if T_ISF
  if (OP == IsNan) return isnan(v) ? 1u : 0u;
  if (OP == IsInf) return isinf(v) ? 1u : 0u;
  return v != 0.0 ? 0u : 1u;  // LogicalNot (NaN is true)
#else
  if (OP == LogicalNot) return v != CT(T)(0) ? 0u : 1u;
  return 0u;
#endif
#else
#if T_ISF
  switch (OP) {
    case Abs: return abs(v);
    case Negative: return -v;
    case Sign: return v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : (isnan(v) ? v : 0.0));
    case Square: return v * v;
    case Sqrt: return sqrt(v);
    case Rsqrt: return 1.0 / sqrt(v);
    case Exp: return k_exp(v);
    case Expm1: return k_expm1(v);
    case Log: return k_log(v);
    case Log1p: return k_log1p(v);
    case Log2: return k_log2(v);
    case Sin: return k_sin(v);
    case Cos: return k_cos(v);
    case Tan: return k_tan(v);
    case Tanh: return k_tanh(v);
    case Sinh: return k_sinh(v);
    case Cosh: return k_cosh(v);
    case ArcSin: return k_asin(v);
    case ArcCos: return k_acos(v);
    case ArcTan: return k_atan(v);
    case Sigmoid: return k_sigmoid(v);
    case Erf: return k_erf(v);
    case ErfInv: return k_erfinv(v);
    case Floor: return floor(v);
    case Ceil: return ceil(v);
    case Round: return roundEven(v);
    default: return v;
  }
#elif T_ISINT
  switch (OP) {
#if !T_UNSIGNED
    case Abs: return v < CT(T)(0) ? -v : v;
    case Sign: return v > CT(T)(0) ? CT(T)(1) : (v < CT(T)(0) ? CT(T)(-1) : CT(T)(0));
#else
    case Sign: return v > 0u ? 1u : 0u;
#endif
    case Negative: return CT(T)(0) - v;
    case Square: return v * v;
    default: return v;
  }
#else
  return v;  // bool: identity
#endif
#endif
}

void main() {
  uint base = group_index() * gl_WorkGroupSize.x * 4u + gl_LocalInvocationID.x;
  // all four loads first (in flight together), then the math and the stores
  CT(T) v[4];
  for (uint k = 0u; k < 4u; ++k) {
    uint i = base + k * gl_WorkGroupSize.x;
    if (i < pc.n) v[k] = LD(T)(pc.x, i);
  }
  for (uint k = 0u; k < 4u; ++k) {
    uint i = base + k * gl_WorkGroupSize.x;
    if (i < pc.n) ST(O)(pc.y, i, apply(v[k]));
  }
}
