#version 460
// take (Gather) and take_along_axis (GatherAxis) over a (pre, A, post) view of `a`; the
// output is (pre, n, post). Indices: negative count from the end, then clamped to [0, A).
// Defines: X (element size class), IDX (index dtype i32/u32/i64), ALONG_AXIS.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  BUF(X) a;
  BUF(IDX) idx;
  BUF(X) y;
  uint total, A, n, post;
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
  if (t >= pc.total) return;
  uint q = t % pc.post, j = (t / pc.post) % pc.n, p = t / (pc.post * pc.n);
#ifdef ALONG_AXIS
  uint k = clamp_index(t);
#else
  uint k = clamp_index(j);
#endif
  ST(X)(pc.y, t, LD(X)(pc.a, (p * pc.A + k) * pc.post + q));
}
