#version 460
// Many independent contiguous copies in one dispatch (gpu/replay.cpp: the inputs of a replayed
// step into its slots, its results out to fresh arrays). table holds per copy (source address,
// destination address, size in 16-byte units); workgroup row y is copy y, and each workgroup
// moves 4 x 16 bytes per thread. Addresses are 16-byte aligned (allocations are 256-aligned).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(buffer_reference, std430, buffer_reference_align = 16) buffer V4 { uvec4 v[]; };
layout(push_constant) uniform PC {
  Buf_u64 table;
  uint count;
} pc;

void main() {
  uint c = gl_WorkGroupID.y;
  if (c >= pc.count) return;
  V4 src = V4(pc.table.v[3u * c]);
  V4 dst = V4(pc.table.v[3u * c + 1u]);
  uint n = uint(pc.table.v[3u * c + 2u]);
  uint base = gl_WorkGroupID.x * gl_WorkGroupSize.x * 4u + gl_LocalInvocationID.x;
  for (uint k = 0u; k < 4u; ++k) {
    uint i = base + k * gl_WorkGroupSize.x;
    if (i < n) dst.v[i] = src.v[i];
  }
}
