#version 460
// One pass of a reduction over an (O, R, I) view, R split into P chunks of `chunk`:
// y[o, p, i] = reduce_{r in chunk p} x[o, r, i]. Defines: T. Spec constants: 0 workgroup
// size (256), 1 op (kiln::ReduceOp), 2 read accumulator-typed input, 3 write accumulator-typed
// output, 4 rows mode (I == 1: one workgroup per (o, p) with a shared-memory tree; else one
// thread per output element).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;
layout(constant_id = 2) const uint READ_ACC = 0;
layout(constant_id = 3) const uint WRITE_ACC = 0;
layout(constant_id = 4) const uint ROWS = 0;
layout(push_constant) uniform PC {
  BUF(T) x;
  BUF(A) xa;
  BUF(T) y;
  BUF(A) ya;
  uint O, R, I, P, chunk;
} pc;

const uint Sum = 0, Prod = 1, Max = 2, Min = 3, And = 4, Or = 5;
#define ACC CT(A)

ACC init() {
#if defined(T_bool)
  return (OP == And || OP == Min || OP == Prod) ? 1u : 0u;
#else
  if (OP == Sum) return ACC(0);
  if (OP == Prod) return ACC(1);
#if T_ISF
  if (OP == Max) return -uintBitsToFloat(0x7f800000u);
  return uintBitsToFloat(0x7f800000u);
#elif defined(T_i32)
  return OP == Max ? int(0x80000000u) : 0x7fffffff;
#elif defined(T_u32)
  return OP == Max ? 0u : 0xffffffffu;
#else
  return OP == Max ? int64_t(0x8000000000000000ul) : int64_t(0x7ffffffffffffffful);
#endif
#endif
}
ACC combine(ACC a, ACC b) {
#if defined(T_bool)
  return (OP == And || OP == Min || OP == Prod) ? (a & b) : (a | b);
#else
  if (OP == Sum) return a + b;
  if (OP == Prod) return a * b;
#if T_ISF
  if (OP == Max) return (b > a || isnan(b)) ? b : a;
  return (b < a || isnan(b)) ? b : a;
#else
  if (OP == Max) return b > a ? b : a;
  return b < a ? b : a;
#endif
#endif
}
ACC load(uint i) {
  if (READ_ACC == 1u) return LD(A)(pc.xa, i);
  return ACC(LD(T)(pc.x, i));
}
void store(uint i, ACC v) {
  if (WRITE_ACC == 1u) ST(A)(pc.ya, i, v);
  else ST(T)(pc.y, i, CT(T)(v));
}

shared ACC partial[256];

void main() {
  if (ROWS == 1u) {
    uint g = group_index();
    if (g >= pc.O * pc.P) return;
    uint o = g / pc.P, p = g % pc.P;
    uint r0 = p * pc.chunk, r1 = min(pc.R, r0 + pc.chunk);
    uint base = o * pc.R;
    uint t = gl_LocalInvocationID.x, W = gl_WorkGroupSize.x;
    ACC acc = init();
    uint r = r0 + t;
    for (; r + 3u * W < r1; r += 4u * W) {
      ACC v0 = load(base + r), v1 = load(base + r + W), v2 = load(base + r + 2u * W),
          v3 = load(base + r + 3u * W);
      acc = combine(acc, combine(combine(v0, v1), combine(v2, v3)));
    }
    for (; r < r1; r += W) acc = combine(acc, load(base + r));
    partial[t] = acc;
    barrier();
    for (uint s = W / 2u; s > 0u; s >>= 1) {
      if (t < s) partial[t] = combine(partial[t], partial[t + s]);
      barrier();
    }
    if (t == 0u) store(g, partial[0]);
    return;
  }
  uint t = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  uint total = pc.O * pc.P * pc.I;
  if (t >= total) return;
  uint o = t / (pc.P * pc.I), rem = t % (pc.P * pc.I);
  uint p = rem / pc.I, i = rem % pc.I;
  uint r0 = p * pc.chunk, r1 = min(pc.R, r0 + pc.chunk);
  ACC acc = init();
  for (uint r = r0; r < r1; ++r) acc = combine(acc, load((o * pc.R + r) * pc.I + i));
  store(t, acc);
}
