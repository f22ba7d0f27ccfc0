#version 460
// C = op(A) op(B) for tiny products (matmul.cpp picks it when batch·M·N·K is small): one
// invocation per output element walks K in order (the tiled kernel's order, so results agree),
// with no shared-memory tiles to fill. ta / tb: A stored (K, M) / B stored (N, K). Defines: T.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  BUF(T) a;
  BUF(T) b;
  BUF(T) c;
  uint M, N, K, ta, tb, total;
} pc;

void main() {
  uint i = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (i >= pc.total) return;
  uint mn = pc.M * pc.N, z = i / mn, r = i % mn, m = r / pc.N, n = r % pc.N;
  uint ao = z * pc.M * pc.K, bo = z * pc.K * pc.N;
  float acc = 0.0;
  for (uint k = 0u; k < pc.K; ++k) {
    float x = LD(T)(pc.a, ao + (pc.ta != 0u ? k * pc.M + m : m * pc.K + k));
    float y = LD(T)(pc.b, bo + (pc.tb != 0u ? n * pc.K + k : k * pc.N + n));
    acc = fma(x, y, acc);
  }
  ST(T)(pc.c, i, acc);
}
