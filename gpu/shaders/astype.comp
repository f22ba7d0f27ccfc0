#version 460
// y[i] = O(x[i]) (contiguous), conversions as core/array.cpp's detail::convert. Defines: T, O.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  BUF(T) x;
  BUF(O) y;
  uint n;
} pc;

CT(O) conv(CT(T) v) {
#if defined(O_bool)
#if T_ISF
  return v != 0.0 ? 1u : 0u;  // NaN converts to true
#else
  return v != CT(T)(0) ? 1u : 0u;
#endif
#elif T_ISF && O_ISF
  return v;
#else
  return CT(O)(v);
#endif
}

void main() {
  uint base = group_index() * gl_WorkGroupSize.x * 4u + gl_LocalInvocationID.x;
  for (uint k = 0u; k < 4u; ++k) {
    uint i = base + k * gl_WorkGroupSize.x;
    if (i < pc.n) ST(O)(pc.y, i, conv(LD(T)(pc.x, i)));
  }
}
