#version 460
// Sums the row-chunk partial Gram matrices of qr_gram.comp (gpu/qr.cpp): g[z][e] = Σ_c
// part[z][c][e] over the upper triangle (e = i k + j, j ≥ i), one invocation per entry, so the
// sum runs on the whole device instead of inside qr_chol's one workgroup (where it was bound
// by memory latency: ~30 µs of a 4096 x 64 QR on an H200).
#extension GL_GOOGLE_include_directive : require
#include "common/common.glsl"
layout(local_size_x_id = 0) in;
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Buf_f64 { double v[]; };
layout(push_constant) uniform PC {
  Buf_f64 part;
  Buf_f64 g;
  uint k, chunks, total;  // total = batch * k * k
} pc;

void main() {
  uint idx = group_index() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (idx >= pc.total) return;
  uint kk = pc.k * pc.k, z = idx / kk, e = idx % kk;
  if (e % pc.k < e / pc.k) return;  // lower triangle: never read
  uint base = z * pc.chunks * kk + e;
  double s = 0.0LF;
  uint c = 0u;
  for (; c + 4u <= pc.chunks; c += 4u)
    s += (pc.part.v[base + c * kk] + pc.part.v[base + (c + 1u) * kk]) +
         (pc.part.v[base + (c + 2u) * kk] + pc.part.v[base + (c + 3u) * kk]);
  for (; c < pc.chunks; ++c) s += pc.part.v[base + c * kk];
  pc.g.v[idx] = s;
}
