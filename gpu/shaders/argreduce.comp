#version 460
// Index (uint32) of the first max/min along R of an (O, R, I) view; NaN counts as the
// extreme (the first NaN wins), as on the CPU. Defines: T. Spec constants: 0 workgroup size
// (256), 1 op (0 argmax, 1 argmin), 2 rows mode (I == 1: one workgroup per row).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;
layout(constant_id = 2) const uint ROWS = 0;
layout(push_constant) uniform PC {
  BUF(T) x;
  Buf_u32 y;
  uint O, R, I;
} pc;

#define V CT(T)
// true when (v, iv) should replace (b, ib)
bool better(V v, uint iv, V b, uint ib) {
#if T_ISF
  if (isnan(b)) return isnan(v) && iv < ib;
  if (isnan(v)) return true;
#endif
  if (v == b) return iv < ib;
  return OP == 0u ? v > b : v < b;
}

shared V sv[256];
shared uint si[256];

void main() {
  if (ROWS == 1u) {
    uint o = group_index();
    if (o >= pc.O) return;
    uint t = gl_LocalInvocationID.x, W = gl_WorkGroupSize.x;
    V best = V(0);
    uint bi = 0xffffffffu;
    for (uint r = t; r < pc.R; r += W) {
      V v = LD(T)(pc.x, o * pc.R + r);
      if (bi == 0xffffffffu || better(v, r, best, bi)) {
        best = v;
        bi = r;
      }
    }
    sv[t] = best;
    si[t] = bi;
    barrier();
    for (uint s = W / 2u; s > 0u; s >>= 1) {
      if (t < s && si[t + s] != 0xffffffffu &&
          (si[t] == 0xffffffffu || better(sv[t + s], si[t + s], sv[t], si[t]))) {
        sv[t] = sv[t + s];
        si[t] = si[t + s];
      }
      barrier();
    }
    if (t == 0u) pc.y.v[o] = si[0] == 0xffffffffu ? 0u : si[0];
    return;
  }
  uint t = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (t >= pc.O * pc.I) return;
  uint o = t / pc.I, i = t % pc.I;
  V best = LD(T)(pc.x, o * pc.R * pc.I + i);
  uint bi = 0u;
  for (uint r = 1u; r < pc.R; ++r) {
    V v = LD(T)(pc.x, (o * pc.R + r) * pc.I + i);
    if (better(v, r, best, bi)) {
      best = v;
      bi = r;
    }
  }
  pc.y.v[t] = bi;
}
