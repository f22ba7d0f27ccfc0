// kiln::linalg — QR, SVD, norms and a randomized top-k SVD by subspace iteration.
// qr/svd/topk_svd work in float32 (float16/bfloat16 inputs are computed and returned in
// float32) and are not differentiable; norm's vector and Frobenius cases are built from
// differentiable ops.
#pragma once
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../core/array.h"

namespace kiln::linalg {

// Thin QR of a (..., m, n) array (batched over leading dims): Q (..., m, k) with
// orthonormal columns and upper-triangular R (..., k, n), k = min(m, n), A = Q R.
std::pair<array, array> qr(const array& a, StreamOrDevice s = {});

// Thin SVD of a (..., m, n) array: U (..., m, k), S (..., k) in descending order,
// Vt (..., k, n), k = min(m, n), A = U diag(S) Vt.
std::tuple<array, array, array> svd(const array& a, StreamOrDevice s = {});

// Norms with NumPy/MLX semantics. Without ord: the 2-norm of the flattened array (axis
// unset) or over `axis` (1 axis: vector 2-norm, 2 axes: Frobenius).
array norm(const array& a, const std::optional<std::vector<int>>& axis = std::nullopt,
           bool keepdims = false, StreamOrDevice s = {});
// Vector norms (1 axis, or a 1-D array): ord = 0 (count of non-zeros), 1, 2, inf, -inf or any
// p (sum |x|^p)^(1/p). Matrix norms (2 axes, or a 2-D array): ord = 1, -1, inf, -inf
// (max/min column/row abs sums), 2, -2 (largest/smallest singular value, via svd).
array norm(const array& a, double ord, const std::optional<std::vector<int>>& axis = std::nullopt,
           bool keepdims = false, StreamOrDevice s = {});
// Matrix norms by name: "fro" (Frobenius) and "nuc" (nuclear, the sum of singular values).
array norm(const array& a, const std::string& ord,
           const std::optional<std::vector<int>>& axis = std::nullopt, bool keepdims = false,
           StreamOrDevice s = {});

struct TopkSvdOptions {
  int iters = 3;        // subspace iterations
  int oversample = 8;   // extra columns carried along (clamped to min(m, n) - k)
  std::optional<array> key = std::nullopt;  // random key for V0; global state if unset
};

// The k largest singular triplets of a 2-D (m, n) array by randomized subspace iteration:
// V0 ~ N(0, 1) of (n, k + oversample); `iters` times V = qr(Aᵀ(A V)).Q; then the small SVD
// of A V (m x (k + oversample)) gives U (m, k), S (k,), Vt (k, n).
std::tuple<array, array, array> topk_svd(const array& a, int k, const TopkSvdOptions& options = {},
                                         StreamOrDevice s = {});

// One subspace-iteration step: the Q of qr(Aᵀ(A V)), for A (m, n) and V (n, l).
array subspace_step(const array& a, const array& v, StreamOrDevice s = {});

}  // namespace kiln::linalg
