#version 460
// Strided copy: dst[dst_off + sum c_d * dst_st_d] = src[src_off + sum c_d * src_st_d] over a
// shape of <= 8 dims (broadcast, transpose, slice, slice update, concatenate).
// Defines: X (element size class). Spec constants: 0 workgroup size, 1 mode (0: dst
// contiguous, 1: dst strided).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint MODE = 0;
layout(push_constant) uniform PC {
  BUF(X) src;
  BUF(X) dst;
  uint n;
  uint ndim;
  int src_off;
  int dst_off;
  uint shape[8];
  int ss[8];
  int ds[8];
} pc;

void main() {
  uint base = group_index() * gl_WorkGroupSize.x * 4u + gl_LocalInvocationID.x;
  for (uint k = 0u; k < 4u; ++k) {
    uint i = base + k * gl_WorkGroupSize.x;
    if (i >= pc.n) return;
    int so = pc.src_off, dof = pc.dst_off;
    uint r = i;
    for (int d = int(pc.ndim) - 1; d >= 0; --d) {
      uint q = r % pc.shape[d];
      r /= pc.shape[d];
      so += int(q) * pc.ss[d];
      if (MODE == 1u) dof += int(q) * pc.ds[d];
    }
    uint di = MODE == 1u ? uint(dof) : uint(pc.dst_off) + i;
    ST(X)(pc.dst, di, LD(X)(pc.src, uint(so)));
  }
}
