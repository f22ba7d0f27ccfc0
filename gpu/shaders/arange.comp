#version 460
// y[i] = start + step * i computed in float64 and converted like the CPU. Defines: O.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  BUF(O) y;
  uint n;
  uint pad;
  double start;
  double step;
} pc;

void main() {
  uint i = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (i >= pc.n) return;
  double v = pc.start + pc.step * double(i);
#if defined(O_bool)
  ST(O)(pc.y, i, v != 0.0lf ? 1u : 0u);
#elif O_ISF
  ST(O)(pc.y, i, float(v));
#else
  ST(O)(pc.y, i, CT(O)(v));
#endif
}
