// Derivative rules of Matmul and RandomBits.
#include "rules_util.h"

namespace kiln {

// (..., M, K) @ (..., K, N), equal batch shapes (the op broadcast them already):
// dA = G Bᵀ, dB = Aᵀ G; the jvp is dA B + A dB. Transposed operands (the flags compile sets)
// are differentiated through their swapaxes.
std::vector<array> Matmul::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  auto t = [&](const array& x, bool flag) { return flag ? swapaxes(x, -1, -2, stream()) : x; };
  const array a = t(primals[0], transpose_a()), b = t(primals[1], transpose_b());
  const array& g = cotangents[0];
  std::vector<array> res;
  for (int arg : argnums)
    res.push_back(arg == 0 ? t(matmul(g, swapaxes(b, -1, -2, stream()), stream()), transpose_a())
                           : t(matmul(swapaxes(a, -1, -2, stream()), g, stream()), transpose_b()));
  return res;
}

std::vector<array> Matmul::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  auto t = [&](const array& x, bool flag) { return flag ? swapaxes(x, -1, -2, stream()) : x; };
  array total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array d = argnums[k] == 0 ? matmul(t(tangents[k], transpose_a()), t(primals[1], transpose_b()), stream())
                              : matmul(t(primals[0], transpose_a()), t(tangents[k], transpose_b()), stream());
    total = total.valid() ? add(total, d, stream()) : d;
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
