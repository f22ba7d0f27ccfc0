#version 460
// y = c ? a : b with broadcasting (c is bool). Defines: X (element size class x8..x64).
// Spec constants: 0 workgroup size. Push constant `mode`: 0 all contiguous, 1 strided over
// <= 5 dims.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  Buf_bool c;
  BUF(X) a;
  BUF(X) b;
  BUF(X) y;
  uint n;
  uint ndim;
  uint mode;
  uint shape[5];
  int sc[5];
  int sa[5];
  int sb[5];
} pc;

void main() {
  uint base = group_index() * gl_WorkGroupSize.x * 4u + gl_LocalInvocationID.x;
  for (uint k = 0u; k < 4u; ++k) {
    uint i = base + k * gl_WorkGroupSize.x;
    if (i >= pc.n) return;
    uint ic = i, ia = i, ib = i;
    if (pc.mode == 1u) {
      int oc = 0, oa = 0, ob = 0;
      uint r = i;
      for (int d = int(pc.ndim) - 1; d >= 0; --d) {
        uint q = r % pc.shape[d];
        r /= pc.shape[d];
        oc += int(q) * pc.sc[d];
        oa += int(q) * pc.sa[d];
        ob += int(q) * pc.sb[d];
      }
      ic = uint(oc);
      ia = uint(oa);
      ib = uint(ob);
    }
    ST(X)(pc.y, i, ld_bool(pc.c, ic) != 0u ? LD(X)(pc.a, ia) : LD(X)(pc.b, ib));
  }
}
