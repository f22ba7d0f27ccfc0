#version 460
// Inclusive/exclusive, forward/reverse scans along R of an (O, R, I) view. Defines: T.
// Spec constants: 0 workgroup size (256), 1 op (kiln::ScanOp), 2 inclusive, 3 reverse,
// 4 rows mode (I == 1: one workgroup per row, tiles of 4 x 256 with a shared-memory scan of
// per-thread totals; else one thread per (o, i) column).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;
layout(constant_id = 2) const uint INCLUSIVE = 1;
layout(constant_id = 3) const uint REVERSE = 0;
layout(constant_id = 4) const uint ROWS = 0;
layout(push_constant) uniform PC {
  BUF(T) x;
  BUF(T) y;
  uint O, R, I;
} pc;

const uint Sum = 0, Prod = 1, Max = 2, Min = 3;
#define ACC CT(A)

ACC init() {
  if (OP == Sum) return ACC(0);
  if (OP == Prod) return ACC(1);
#if T_ISF
  if (OP == Max) return -uintBitsToFloat(0x7f800000u);
  return uintBitsToFloat(0x7f800000u);
#elif defined(T_i32)
  return OP == Max ? int(0x80000000u) : 0x7fffffff;
#elif defined(T_u32) || defined(T_bool)
  return OP == Max ? 0u : 0xffffffffu;
#else
  return OP == Max ? int64_t(0x8000000000000000ul) : int64_t(0x7ffffffffffffffful);
#endif
}
ACC combine(ACC a, ACC b) {
  if (OP == Sum) return a + b;
  if (OP == Prod) return a * b;
#if T_ISF
  if (OP == Max) return (b > a || isnan(b)) ? b : a;
  return (b < a || isnan(b)) ? b : a;
#else
  if (OP == Max) return b > a ? b : a;
  return b < a ? b : a;
#endif
}
uint at(uint o, uint k, uint i) {
  uint r = REVERSE == 1u ? pc.R - 1u - k : k;
  return (o * pc.R + r) * pc.I + i;
}

shared ACC tot[256];

void main() {
  if (ROWS == 1u) {
    uint o = group_index();
    if (o >= pc.O) return;
    uint t = gl_LocalInvocationID.x, W = gl_WorkGroupSize.x;
    ACC carry = init();
    for (uint base = 0u; base < pc.R; base += 4u * W) {
      ACC v[4];
      ACC run = init();
      for (uint j = 0u; j < 4u; ++j) {
        uint k = base + 4u * t + j;
        v[j] = k < pc.R ? ACC(LD(T)(pc.x, at(o, k, 0u))) : init();
        run = combine(run, v[j]);
      }
      tot[t] = run;
      barrier();
      // Hillis-Steele inclusive scan of the per-thread totals
      for (uint off = 1u; off < W; off <<= 1) {
        ACC other = t >= off ? tot[t - off] : init();
        barrier();
        tot[t] = combine(other, tot[t]);
        barrier();
      }
      ACC acc = t == 0u ? carry : combine(carry, tot[t - 1u]);
      for (uint j = 0u; j < 4u; ++j) {
        uint k = base + 4u * t + j;
        if (INCLUSIVE == 1u) acc = combine(acc, v[j]);
        if (k < pc.R) ST(T)(pc.y, at(o, k, 0u), CT(T)(acc));
        if (INCLUSIVE == 0u) acc = combine(acc, v[j]);
      }
      carry = combine(carry, tot[W - 1u]);
      barrier();
    }
    return;
  }
  uint t = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (t >= pc.O * pc.I) return;
  uint o = t / pc.I, i = t % pc.I;
  ACC acc = init();
  for (uint k = 0u; k < pc.R; ++k) {
    uint idx = at(o, k, i);
    ACC v = ACC(LD(T)(pc.x, idx));
    if (INCLUSIVE == 1u) acc = combine(acc, v);
    ST(T)(pc.y, idx, CT(T)(acc));
    if (INCLUSIVE == 0u) acc = combine(acc, v);
  }
}
