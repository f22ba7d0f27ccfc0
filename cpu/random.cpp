// eval_cpu of RandomBits: Threefry-2x32 with 20 rounds (Salmon et al. 2011, as in JAX/MLX).
#include "../core/primitives.h"
#include "../core/random_impl.h"
#include "cpu_utils.h"

namespace kiln {

void RandomBits::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& key = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  const uint32_t* k = cpu::cdata<uint32_t>(key);
  uint32_t k0 = k[0], k1 = k[1];
  uint32_t* y = cpu::mdata<uint32_t>(out);
  size_t n = out.size();
  size_t half = (n + 1) / 2;
  cpu::parallel_for(half, 1 << 14, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      auto r = random::detail::threefry2x32(k0, k1, static_cast<uint32_t>(i),
                                            static_cast<uint32_t>(i + half));
      y[i] = r.first;
      if (i + half < n) y[i + half] = r.second;
    }
  });
}

}  // namespace kiln
