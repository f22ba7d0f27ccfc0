// eval_gpu of linalg::QR for tall-skinny float32 matrices (the k ≤ 256 panels of subspace
// iteration): CholeskyQR2 with float64 Gram matrices.
//
//   pass 1: G = Zᵀ Z (qr_gram, float64), G = R1ᵀ R1 and x1 = R1⁻¹ (qr_chol, float64),
//           Q1 = Z x1 (matmul), dependent columns of Q1 replaced (qr_fix)
//   pass 2: the same on Q1 → R2, x2; R = R2 R1; signs (qr_sign); Q = Q1 x2 (matmul)
//
// Float64 Gram matrices make the first Cholesky succeed up to cond(Z) ~ 1e7; Q1 is then
// orthonormal to ~cond · 6e-8, and the second pass brings ‖QᵀQ − I‖ to float32 rounding.
// 8 dispatches per batch of matrices (plus a split-K reduce where the matmul needs it), no
// host work, so it records into replayed compiled steps. NaN/Inf in the input propagate to
// the outputs (the CPU path raises instead: raising here would need a host wait).
#include "qr.h"

#include <algorithm>

#include "kernels.h"

namespace kiln::gpu {

namespace {
struct GramPC {
  uint64_t z, part;
  uint32_t n, k, rows, chunks, tiles;
};
struct CholPC {
  uint64_t part, w, prev, x, r, flags;
  uint32_t k, chunks, has_prev;
};
struct FixPC {
  uint64_t q, flags;
  uint32_t n, k, total;
};
struct SignPC {
  uint64_t q1, x, r, t;
  uint32_t n, k;
};
constexpr uint32_t kMaxK = 256;
// Smaller matrices take the CPU path: there the factorisation costs less than the kernels'
// launches, and the CPU's exact Householder factors and NaN/Inf errors are kept.
constexpr uint64_t kMinElements = 4096;

// The shared-memory dimension for a k x k matrix of `elem`-byte entries (rows padded by one)
// plus `extra` bytes of other shared arrays: k rounded up to 16 (bounding the pipeline
// variants) when that fits the device's shared memory, else 0 (device memory).
uint32_t shared_dim(uint32_t k, size_t elem, size_t extra) {
  uint32_t ks = (k + 15u) / 16u * 16u;
  size_t need = size_t(ks) * (ks + 1) * elem + extra;  // rows padded to ks + 1
  return need <= Context::require().caps.max_shared_memory ? ks : 0u;
}

// One CholeskyQR pass over `batch` matrices z (n, k): writes x = R⁻¹, r = R · prev (or R),
// flags of dependent columns.
void chol_pass(const Buf& z, uint32_t n, uint32_t k, uint32_t batch, const Buf& prev,
               const Buf& x, const Buf& r, const Buf& flags) {
  uint32_t tiles = div_up(k, 32), pairs = tiles * tiles;
  // Chunks of ~128 rows keep each workgroup's serial loop short (the Gram matrix of a
  // 4096 x 64 matrix is 32 chunks x 3 tile pairs), bounded by what the one workgroup of
  // qr_chol sums quickly (chunks x k x k ≤ 2^18 doubles); never more than 4096 rows per
  // workgroup (lavapipe bounds an invocation's loop iterations).
  uint32_t chunks = std::min<uint32_t>(div_up(n, 128), std::max<uint32_t>(1, (1u << 18) / (k * k)));
  chunks = std::max(chunks, div_up(n, 4096));
  uint32_t rows = div_up(div_up(n, chunks), 32) * 32;
  chunks = div_up(n, rows);
  size_t kk = size_t(k) * k;
  Buf part = temp(size_t(batch) * chunks * kk * sizeof(double));
  GramPC gp{z->address(), part->address(), n, k, rows, chunks, tiles};
  dispatch("qr_gram", {}, gp, Grid{pairs, chunks, batch}, {z}, {part});

  // gdiag, rinv, xdiag (3 x 256 float64), dep (256 uint)
  uint32_t ks = shared_dim(k, sizeof(double), 3 * 256 * 8 + 256 * 4);
  Buf w = ks ? part : temp(batch * kk * sizeof(double));
  CholPC cp{part->address(), w->address(), prev ? prev->address() : x->address(), x->address(),
            r->address(), flags->address(), k, chunks, prev ? 1u : 0u};
  std::vector<Buf> reads{part};
  if (prev) reads.push_back(prev);
  std::vector<Buf> writes{x, r, flags};
  if (!ks) writes.push_back(w);
  Encoder::get().dispatch(pipeline(ks ? "qr_chol_shared" : "qr_chol_global", {256, ks ? ks : 16}),
                          &cp, sizeof(cp), Grid{batch, 1, 1}, reads, writes);
}
}  // namespace

void eval_qr(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  array &q = outputs[0], &r = outputs[1];
  uint32_t m = a.shape(-2), k = a.shape(-1);
  const Capabilities& caps = Context::require().caps;
  if (a.dtype() != float32) return fallback(p, inputs, outputs, "only float32 runs on the GPU");
  if (k > m) return fallback(p, inputs, outputs, "wide matrix (n > m)");
  if (k > kMaxK) return fallback(p, inputs, outputs, "more than 256 columns");
  if (!caps.float64) return fallback(p, inputs, outputs, "the device has no float64");
  if (a.size() >= (1ull << 31)) return fallback(p, inputs, outputs, "array too large");
  if (uint64_t(m) * k < kMinElements)
    return fallback(p, inputs, outputs, "small matrix (fewer than 4096 elements)");
  Buf bq = output(q), br = output(r);
  if (a.size() == 0) return;
  uint64_t batch64 = a.size() / (uint64_t(m) * k);
  if (batch64 > caps.max_workgroup_count[0] || batch64 > caps.max_workgroup_count[2])
    return fallback(p, inputs, outputs, "batch too large");
  uint32_t batch = static_cast<uint32_t>(batch64);
  Buf z = input(a);
  size_t kk = size_t(k) * k * batch;
  Buf x1 = temp(kk * 4), r1 = temp(kk * 4), x2 = temp(kk * 4);
  Buf flags = temp(size_t(k) * batch * 4), flags2 = temp(size_t(k) * batch * 4);
  Buf q1 = temp(a.nbytes());

  chol_pass(z, m, k, batch, nullptr, x1, r1, flags);
  matmul(z, x1, q1, m, k, k, batch, false, false, float32);
  uint32_t total = static_cast<uint32_t>(a.size());
  FixPC fp{q1->address(), flags->address(), m, k, total};
  dispatch("qr_fix", {kWorkgroup}, fp, grid_1d(div_up(total, kWorkgroup)), {flags}, {q1});

  chol_pass(q1, m, k, batch, r1, x2, br, flags2);
  // T and x in shared memory (two padded k x k float matrices) up to k = 64
  uint32_t ks = k <= 64 ? shared_dim(k, 2 * sizeof(float), 256 * 4) : 0;
  Buf t = ks ? x1 : temp(kk * 4);
  SignPC sp{q1->address(), x2->address(), br->address(), t->address(), m, k};
  std::vector<Buf> writes{x2, br};
  if (!ks) writes.push_back(t);
  Encoder::get().dispatch(pipeline(ks ? "qr_sign_shared" : "qr_sign_global", {256, ks ? ks : 16}),
                          &sp, sizeof(sp), Grid{batch, 1, 1}, {q1}, writes);
  matmul(q1, x2, bq, m, k, k, batch, false, false, float32);
}

}  // namespace kiln::gpu
