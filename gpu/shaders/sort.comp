#version 460
// Stable sort/argsort of rows of length R (the sorted axis made last by the host), by a
// bitonic network over (key, index) pairs padded to N = 2^k per row. Keys are order-
// preserving unsigned transforms of the values (NaN last, -0 == +0). Defines: T. Spec
// constants: 0 workgroup size, 1 mode (0 build keys, 1 one compare-exchange pass (k, j),
// 2 write outputs), 2 arg (write indices instead of values).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint MODE = 0;
layout(constant_id = 2) const uint ARG = 0;
#if defined(T_i64)
#define KT u64
#define KMAX 0xfffffffffffffffful
#else
#define KT u32
#define KMAX 0xffffffffu
#endif
layout(push_constant) uniform PC {
  BUF(T) x;
  BUF(T) y;
  Buf_u32 yi;
  BUF(KT) keys;
  Buf_u32 idx;
  uint rows, R, N, k, j;
} pc;

CT(KT) key_of(CT(T) v) {
#if T_ISF
  if (isnan(v)) return 0xffffffffu;
  if (v == 0.0) v = 0.0;
  uint u = floatBitsToUint(v);
  return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
#elif defined(T_i32)
  return uint(v) ^ 0x80000000u;
#elif defined(T_i64)
  return uint64_t(v) ^ 0x8000000000000000ul;
#else
  return v;
#endif
}

void main() {
  uint t = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (MODE == 0u) {
    if (t >= pc.rows * pc.N) return;
    uint row = t / pc.N, c = t % pc.N;
    if (c < pc.R) {
      ST(KT)(pc.keys, t, key_of(LD(T)(pc.x, row * pc.R + c)));
      pc.idx.v[t] = c;
    } else {
      ST(KT)(pc.keys, t, KMAX);
      pc.idx.v[t] = 0xffffffffu;
    }
  } else if (MODE == 1u) {
    uint half_n = pc.N / 2u;
    if (t >= pc.rows * half_n) return;
    uint row = t / half_n, q = t % half_n;
    uint i = 2u * pc.j * (q / pc.j) + (q % pc.j);
    uint l = i + pc.j;
    bool up = (i & pc.k) == 0u;
    uint gi = row * pc.N + i, gl = row * pc.N + l;
    CT(KT) ki = LD(KT)(pc.keys, gi), kl = LD(KT)(pc.keys, gl);
    uint ii = pc.idx.v[gi], il = pc.idx.v[gl];
    bool greater = ki > kl || (ki == kl && ii > il);
    if (greater == up) {
      ST(KT)(pc.keys, gi, kl);
      ST(KT)(pc.keys, gl, ki);
      pc.idx.v[gi] = il;
      pc.idx.v[gl] = ii;
    }
  } else {
    if (t >= pc.rows * pc.R) return;
    uint row = t / pc.R, c = t % pc.R;
    uint src = pc.idx.v[row * pc.N + c];
    if (ARG == 1u) pc.yi.v[t] = src;
    else ST(T)(pc.y, t, LD(T)(pc.x, row * pc.R + src));
  }
}
