// Derivative rules of Matmul and RandomBits.
#include "rules_util.h"

namespace kiln {

// (..., M, K) @ (..., K, N), equal batch shapes (the op broadcast them already):
// dA = G Bᵀ, dB = Aᵀ G; the jvp is dA B + A dB.
std::vector<array> Matmul::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array &a = primals[0], &b = primals[1], &g = cotangents[0];
  std::vector<array> res;
  for (int arg : argnums)
    res.push_back(arg == 0 ? matmul(g, swapaxes(b, -1, -2, stream()), stream())
                           : matmul(swapaxes(a, -1, -2, stream()), g, stream()));
  return res;
}

std::vector<array> Matmul::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  array total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array t = argnums[k] == 0 ? matmul(tangents[k], primals[1], stream())
                              : matmul(primals[0], tangents[k], stream());
    total = total.valid() ? add(total, t, stream()) : t;
  }
  return {total};
}

// Random bits are a function of an integer key: no derivative.
std::vector<array> RandomBits::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> res;
  for (int arg : argnums) res.push_back(zeros_like(primals[arg], stream()));
  return res;
}

std::vector<array> RandomBits::jvp(const std::vector<array>&, const std::vector<array>&,
                                   const std::vector<int>&) {
  return {zeros(shape_, uint32, stream())};
}

}  // namespace kiln
