#version 460
// Threefry-2x32 (20 rounds) random bits, bit-identical to core/random_impl.h: element
// i < half is word 0 of threefry(key, (i, i + half)), element i + half is word 1.
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC {
  Buf_u32 key;
  Buf_u32 y;
  uint n;
  uint half_n;
} pc;

uint rotl(uint x, int r) { return (x << r) | (x >> (32 - r)); }

void main() {
  uint i = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (i >= pc.half_n) return;
  const int rot[8] = int[8](13, 15, 26, 6, 17, 29, 16, 24);
  uint k0 = pc.key.v[0], k1 = pc.key.v[1];
  uint ks[3] = uint[3](k0, k1, 0x1BD11BDAu ^ k0 ^ k1);
  uint x0 = i + ks[0], x1 = (i + pc.half_n) + ks[1];
  for (int r = 0; r < 5; ++r) {
    for (int j = 0; j < 4; ++j) {
      x0 += x1;
      x1 = rotl(x1, rot[(r % 2) * 4 + j]);
      x1 ^= x0;
    }
    x0 += ks[(r + 1) % 3];
    x1 += ks[(r + 2) % 3] + uint(r + 1);
  }
  pc.y.v[i] = x0;
  if (i + pc.half_n < pc.n) pc.y.v[i + pc.half_n] = x1;
}
