// eval_gpu of linalg::QR for tall-skinny float32 matrices (the k ≤ 256 panels of subspace
// iteration): CholeskyQR2 with float64 Gram matrices.
//
//   pass 1: G = Zᵀ Z (qr_gram + qr_gram_sum, float64), G = R1ᵀ R1 and R1⁻¹ (qr_chol,
//           float64), Q1 = Z R1⁻¹ accumulated in float64, dependent columns of Z replaced by
//           pseudo-random ones (qr_apply)
//   pass 2: the same on Q1 → R2, R2⁻¹ and R = R2 R1 (qr_chol); Householder signs d folded
//           into R2⁻¹ and R (qr_sign); Q = Q1 R2⁻¹ diag(d) (qr_apply)
//
// Float64 Gram matrices make the first Cholesky succeed up to cond(Z) ~ 1e7; Q1 is then
// orthonormal to ~cond · 6e-8, and the second pass brings ‖QᵀQ − I‖ to float32 rounding.
// 9 dispatches per batch of matrices, no host work, so it records into replayed compiled steps. NaN/Inf in the input propagate to the outputs (the
// CPU path raises instead: raising here would need a host wait).
#include "qr.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace kiln::gpu {

namespace {
struct GramPC {
  uint64_t z, part;
  uint32_t n, k, rows, chunks, tiles;
};
struct SumPC {
  uint64_t part, g;
  uint32_t k, chunks, total;
};
struct CholPC {
  uint64_t g, w, prev, x, r, flags;
  uint32_t k, has_prev;
};
struct ApplyPC {
  uint64_t z, x, flags, q;
  uint32_t n, k, has_flags;
};
struct SignPC {
  uint64_t q1, x, r, t;
  uint32_t n, k;
};
constexpr uint32_t kMaxK = 256;
// KILN_GPU_QR (docs/env.md): "1"/"always" every shape the kernels take, "0"/"never" none,
// default (auto) from kMinWork on.
enum class Policy { automatic, always, never };
Policy policy() {
  const char* e = std::getenv("KILN_GPU_QR");
  if (!e || !*e || std::strcmp(e, "auto") == 0) return Policy::automatic;
  if (std::strcmp(e, "1") == 0 || std::strcmp(e, "always") == 0) return Policy::always;
  if (std::strcmp(e, "0") == 0 || std::strcmp(e, "never") == 0) return Policy::never;
  return Policy::automatic;
}
// Householder QR costs ~4 m k² flops on the CPU; the GPU's cost grows with k (one-workgroup
// steps, ~1 µs each on an H200) and hardly with m. Measured on the H200 host, the seeds'
// subspace step (a 256 x 32 QR, m k² = 2^18) takes 0.150-0.155 ms with the device kernels and
// 0.128-0.196 ms through the CPU (download and upload included) depending on the host's load;
// a 4096 x 64 QR is much slower there. From m k² = 2^18 on the device runs it by default;
// smaller ones keep the CPU's exact Householder factors and its NaN/Inf errors.
constexpr uint64_t kMinWork = 1ull << 18;

// The shared-memory dimension for a k x k matrix of `elem`-byte entries (rows padded by
// `pad`) plus `extra` bytes of other shared arrays: k rounded up to 16 (bounding the pipeline
// variants) when that fits the device's shared memory, else 0 (device memory).
uint32_t shared_dim(uint32_t k, size_t elem, uint32_t pad, size_t extra) {
  uint32_t ks = (k + 15u) / 16u * 16u;
  size_t need = size_t(ks) * (ks + pad) * elem + extra;
  return need <= Context::require().caps.max_shared_memory ? ks : 0u;
}

// A one-workgroup-per-matrix kernel in its shared- or device-memory variant.
void dispatch_variant(const char* base, uint32_t ks, const void* pc, uint32_t pc_size, Grid grid,
                      const std::vector<Buf>& reads, const std::vector<Buf>& writes) {
  std::string name = std::string(base) + (ks ? "_shared" : "_global");
  Encoder::get().dispatch(pipeline(name.c_str(), {256, ks ? ks : 16}), pc, pc_size, grid, reads,
                          writes);
}

// G = Zᵀ Z (upper triangle, float64) for `batch` matrices z (n, k).
Buf gram(const Buf& z, uint32_t n, uint32_t k, uint32_t batch) {
  uint32_t tiles = div_up(k, 32), pairs = tiles * tiles;
  // Chunks of ~128 rows keep each workgroup's serial loop short (a 4096 x 64 matrix gives
  // 32 chunks x 3 upper tile pairs), at most 2^18 partial doubles per matrix for the sum, and
  // never more than 4096 rows per workgroup (lavapipe bounds an invocation's loop iterations).
  uint32_t chunks =
      std::min<uint32_t>(div_up(n, 128), std::max<uint32_t>(1, (1u << 18) / (k * k)));
  chunks = std::max(chunks, div_up(n, 4096));
  uint32_t rows = div_up(div_up(n, chunks), 32) * 32;
  chunks = div_up(n, rows);
  size_t kk = size_t(k) * k;
  Buf part = temp(size_t(batch) * chunks * kk * sizeof(double));
  GramPC gp{z->address(), part->address(), n, k, rows, chunks, tiles};
  dispatch("qr_gram", {}, gp, Grid{pairs, chunks, batch}, {z}, {part});
  Buf g = temp(size_t(batch) * kk * sizeof(double));
  uint32_t total = static_cast<uint32_t>(batch * kk);
  SumPC sp{part->address(), g->address(), k, chunks, total};
  dispatch("qr_gram_sum", {kWorkgroup}, sp, grid_1d(div_up(total, kWorkgroup)), {part}, {g});
  return g;
}

// G = Rᵀ R: x = R⁻¹, r = R · prev (or R), flags of dependent columns.
void cholesky(const Buf& g, uint32_t k, uint32_t batch, const Buf& prev, const Buf& x,
              const Buf& r, const Buf& flags) {
  // gdiag, rinv, pdiag, xdiag (4 x 256 float64), dep (256 uint)
  uint32_t ks = shared_dim(k, sizeof(double), 1, 4 * 256 * 8 + 256 * 4);
  Buf w = ks ? g : temp(size_t(batch) * k * k * sizeof(double));
  CholPC cp{g->address(), w->address(), (prev ? prev : x)->address(), x->address(),
            r->address(), flags->address(), k, prev ? 1u : 0u};
  std::vector<Buf> reads{g}, writes{x, r, flags};
  if (prev) reads.push_back(prev);
  if (!ks) writes.push_back(w);
  dispatch_variant("qr_chol", ks, &cp, sizeof(cp), Grid{batch, 1, 1}, reads, writes);
}

// q = z x (float64 accumulation); columns flagged in `flags` (when given) pseudo-random.
void apply(const Buf& z, const Buf& x, const Buf& flags, const Buf& q, uint32_t n, uint32_t k,
           uint32_t batch) {
  ApplyPC ap{z->address(), x->address(), (flags ? flags : x)->address(), q->address(), n, k,
             flags ? 1u : 0u};
  std::vector<Buf> reads{z, x};
  if (flags) reads.push_back(flags);
  Encoder::get().dispatch(pipeline("qr_apply", {}), &ap, sizeof(ap),
                          Grid{div_up(k, 16), div_up(n, 16), batch}, reads, {q});
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
  Policy pol = policy();
  if (pol == Policy::never) return fallback(p, inputs, outputs, "KILN_GPU_QR=0");
  if (pol == Policy::automatic && uint64_t(m) * k * k < kMinWork)
    return fallback(p, inputs, outputs, "small matrix (m k² < 2^18; KILN_GPU_QR=1 forces the GPU)");
  uint64_t batch64 = a.size() / (uint64_t(m) * k);
  if (batch64 > caps.max_workgroup_count[0] || batch64 > caps.max_workgroup_count[1] ||
      batch64 > caps.max_workgroup_count[2])
    return fallback(p, inputs, outputs, "batch too large");
  if (div_up(m, 16) > caps.max_workgroup_count[1])
    return fallback(p, inputs, outputs, "too many rows");
  Buf bq = output(q), br = output(r);
  uint32_t batch = static_cast<uint32_t>(batch64);
  Buf z = input(a);
  size_t kk = size_t(k) * k * batch;
  // x1, x2: R⁻¹ in float64
  Buf x1 = temp(kk * 8), r1 = temp(kk * 4), x2 = temp(kk * 8);
  Buf flags1 = temp(size_t(k) * batch * 4), flags2 = temp(size_t(k) * batch * 4);
  Buf q1 = temp(a.nbytes());

  cholesky(gram(z, m, k, batch), k, batch, nullptr, x1, r1, flags1);
  apply(z, x1, flags1, q1, m, k, batch);

  cholesky(gram(q1, m, k, batch), k, batch, r1, x2, br, flags2);
  // T and x staged in shared memory (two padded k x k float matrices) up to k = 64
  uint32_t ks = k <= 64 ? shared_dim(k, 2 * sizeof(float), 1, 256 * 4) : 0;
  Buf t = ks ? r1 : temp(kk * 4);  // (an unused address in the shared variant)
  SignPC sp{q1->address(), x2->address(), br->address(), t->address(), m, k};
  std::vector<Buf> writes{x2, br};
  if (!ks) writes.push_back(t);
  dispatch_variant("qr_sign", ks, &sp, sizeof(sp), Grid{batch, 1, 1}, {q1}, writes);
  apply(q1, x2, nullptr, bq, m, k, batch);
}

}  // namespace kiln::gpu
