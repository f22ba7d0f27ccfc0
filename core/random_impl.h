// Threefry-2x32 (20 rounds): the counter-based generator behind kiln::random. The same
// function is written in GLSL for the GPU so streams are bit-identical across devices.
// Bits for an output of n elements: element i < ceil(n/2) is word 0 of block
// threefry(key, (i, i + ceil(n/2))), element i + ceil(n/2) is word 1 (JAX's layout).
#pragma once
#include <cstdint>
#include <utility>

namespace kiln::random::detail {

inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline std::pair<uint32_t, uint32_t> threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0,
                                                  uint32_t c1) {
  constexpr int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  uint32_t ks[3] = {k0, k1, 0x1BD11BDAu ^ k0 ^ k1};
  uint32_t x0 = c0 + ks[0], x1 = c1 + ks[1];
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) {
      x0 += x1;
      x1 = rotl32(x1, rot[(i % 2) * 4 + j]);
      x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + static_cast<uint32_t>(i + 1);
  }
  return {x0, x1};
}

}  // namespace kiln::random::detail
