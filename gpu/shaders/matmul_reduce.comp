#version 460
// Second pass of a split-K matmul (matmul.comp): c[z, i] = sum over s of part[z, s, i]
// (float32 partial products), stored as T. Defines: T.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  Buf_f32 part;
  BUF(T) c;
  uint mn;      // M * N
  uint splits;
  uint total;   // batch * M * N
} pc;

void main() {
  uint i = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (i >= pc.total) return;
  uint z = i / pc.mn, r = i % pc.mn;
  uint base = z * pc.splits * pc.mn + r;
  float acc = 0.0;
  for (uint s = 0u; s < pc.splits; ++s) acc += pc.part.v[base + s * pc.mn];
  ST(T)(pc.c, i, acc);
}
