#version 460
// scatter_add (ScatterAdd) and put/scatter-add along an axis (ScatterAxis) into y, which
// already holds a copy of `a` viewed as (pre, A, post). One thread per (p, q) column walks the
// n updates in order, so results are deterministic and equal the CPU's (no atomics).
// Defines: T, IDX, ALONG_AXIS. Push `add`: 1 accumulate, 0 assign (put_along_axis).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  BUF(T) y;
  BUF(IDX) idx;
  BUF(T) upd;
  uint pre, A, n, post, add;
} pc;

uint clamp_index(uint at) {
#if defined(IDX_i64)
  int64_t v = pc.idx.v[at];
  if (v < 0) v += int64_t(pc.A);
  return uint(clamp(v, int64_t(0), int64_t(pc.A) - 1));
#elif defined(IDX_u32)
  return min(pc.idx.v[at], pc.A - 1u);
#else
  int v = pc.idx.v[at];
  if (v < 0) v += int(pc.A);
  return uint(clamp(v, 0, int(pc.A) - 1));
#endif
}

void main() {
  uint t = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (t >= pc.pre * pc.post) return;
  uint p = t / pc.post, q = t % pc.post;
  for (uint j = 0u; j < pc.n; ++j) {
    uint src = (p * pc.n + j) * pc.post + q;
#ifdef ALONG_AXIS
    uint k = clamp_index(src);
#else
    uint k = clamp_index(j);
#endif
    uint dst = (p * pc.A + k) * pc.post + q;
    CT(T) v = LD(T)(pc.upd, src);
    if (pc.add == 1u) {
#if defined(T_bool)
      v = LD(T)(pc.y, dst) | v;
#else
      v = LD(T)(pc.y, dst) + v;
#endif
    }
    ST(T)(pc.y, dst, v);
  }
}
