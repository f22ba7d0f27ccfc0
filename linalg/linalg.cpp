// Graph builders of kiln::linalg: qr, svd, topk_svd, subspace_step.
#include "linalg.h"

#include <string>

#include "../core/ops.h"
#include "../core/random.h"
#include "primitives.h"

namespace kiln::linalg {

namespace {
std::string shape_str(const Shape& s) { return detail::shape_str(s); }

// Validates a decomposition input and returns it as float32.
array float_matrix(const array& a, const char* op, bool exactly_2d, StreamOrDevice s) {
  if (exactly_2d ? a.ndim() != 2 : a.ndim() < 2)
    throw std::invalid_argument(
        std::string("[") + op + "] expected " +
        (exactly_2d ? "a 2-D matrix" : "an array with at least 2 dimensions") + ", got shape " +
        shape_str(a.shape()));
  if (!is_floating(a.dtype()))
    throw std::invalid_argument(std::string("[") + op +
                                "] only floating point inputs are supported, got " +
                                to_string(a.dtype()) + " (cast with astype(a, float32))");
  return a.dtype() == float32 ? a : astype(a, float32, s);
}

// Aᵀ W as (Wᵀ A)ᵀ: transposes materialise, so move the two thin (m, l) / (l, n) operands
// rather than the (m, n) matrix.
array at_times(const array& a, const array& w, StreamOrDevice s) {
  return transpose(matmul(transpose(w, s), a, s), s);
}
}  // namespace

std::pair<array, array> qr(const array& a_in, StreamOrDevice s) {
  auto st = to_stream(s);
  array a = float_matrix(a_in, "linalg::qr", false, st);
  auto p = std::make_shared<QR>(st);
  auto shapes = p->output_shapes({a});
  auto outs = array::make_arrays(shapes, {float32, float32}, p, {a});
  return {outs[0], outs[1]};
}

std::tuple<array, array, array> svd(const array& a_in, StreamOrDevice s) {
  auto st = to_stream(s);
  array a = float_matrix(a_in, "linalg::svd", false, st);
  auto p = std::make_shared<SVD>(st);
  auto shapes = p->output_shapes({a});
  auto outs = array::make_arrays(shapes, {float32, float32, float32}, p, {a});
  return {outs[0], outs[1], outs[2]};
}

array subspace_step(const array& a_in, const array& v_in, StreamOrDevice s) {
  auto st = to_stream(s);
  array a = float_matrix(a_in, "linalg::subspace_step", true, st);
  array v = float_matrix(v_in, "linalg::subspace_step", true, st);
  if (v.shape(0) != a.shape(1))
    throw std::invalid_argument("[linalg::subspace_step] V must have as many rows as A has "
                                "columns: A is " + shape_str(a.shape()) + ", V is " +
                                shape_str(v.shape()));
  return qr(at_times(a, matmul(a, v, st), st), st).first;
}

std::tuple<array, array, array> topk_svd(const array& a_in, int k, const TopkSvdOptions& options,
                                         StreamOrDevice s) {
  auto st = to_stream(s);
  array a = float_matrix(a_in, "linalg::topk_svd", true, st);
  int m = a.shape(0), n = a.shape(1), kmax = std::min(m, n);
  if (k < 1 || k > kmax)
    throw std::invalid_argument("[linalg::topk_svd] k must be in [1, min(m, n)] = [1, " +
                                std::to_string(kmax) + "] for a matrix of shape " +
                                shape_str(a.shape()) + ", got k = " + std::to_string(k));
  if (options.iters < 0)
    throw std::invalid_argument("[linalg::topk_svd] iters must be >= 0, got " +
                                std::to_string(options.iters));
  if (options.oversample < 0)
    throw std::invalid_argument("[linalg::topk_svd] oversample must be >= 0, got " +
                                std::to_string(options.oversample));
  int l = std::min(k + options.oversample, kmax);
  // Aᵀ(A V) squares A's scale: each step computes Aᵀ(A (V/c))/c with c = mean|A| so that
  // neither large nor tiny entries overflow or underflow float32 (only (n, l) and (m, l)
  // arrays are rescaled; qr's Q does not depend on the scale). max|A|/c is in [1, m n].
  array c = mean(abs(a, st), false, st);
  array inv = reciprocal(where(greater(c, array(0.f), st), c, array(1.f), st), st);
  auto step = [&](const array& v) {
    array w = matmul(a, multiply(v, inv, st), st);
    return qr(multiply(at_times(a, w, st), inv, st), st).first;
  };
  array v = random::normal({n, l}, float32, 0.f, 1.f, options.key, st);
  if (options.iters == 0) v = qr(v, st).first;  // the final projection needs orthonormal V
  for (int i = 0; i < options.iters; ++i) v = step(v);
  // A ≈ (A V) Vᵀ; with A V = Ub diag(Sb) Vtb, A ≈ Ub diag(Sb) (Vtb Vᵀ).
  auto [ub, sb, vtb] = svd(matmul(a, v, st), st);
  array u = slice(ub, {0, 0}, {m, k}, st);
  array sv = slice(sb, {0}, {k}, st);
  array vt = matmul(slice(vtb, {0, 0}, {k, l}, st), transpose(v, st), st);
  return {u, sv, vt};
}

}  // namespace kiln::linalg
