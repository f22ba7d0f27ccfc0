// eval_gpu of linalg::QR for tall-skinny float32 matrices (the k ≤ 256 panels of subspace
// iteration): CholeskyQR2 with float64 Gram matrices.
//
//   pass 1: G = Zᵀ Z (qr_gram + qr_gram_sum, float64), G = R1ᵀ R1 (qr_chol, float64),
//           Q1 = Z R1⁻¹ (qr_trsm; dependent columns of Z get pseudo-random columns)
//   pass 2: the same on Q1 → R2 and R = R2 R1 (qr_chol); Householder signs d (qr_sign);
//           Q = Q1 R2⁻¹ diag(d) (qr_trsm)
//
// Float64 Gram matrices make the first Cholesky succeed up to cond(Z) ~ 1e7; Q1 is then
// orthonormal to ~cond · 6e-8, and the second pass brings ‖QᵀQ − I‖ to float32 rounding.
// 9 dispatches per batch of matrices, no host work, so it records into replayed compiled
// steps. NaN/Inf in the input propagate to the outputs (the CPU path raises instead: raising
// here would need a host wait).
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
  uint64_t g, w, prev, rt, r, flags;
  uint32_t k, has_prev;
};
struct TrsmPC {
  uint64_t z, rt, flags, d, q;
  uint32_t n, k, has_d;
};
struct SignPC {
  uint64_t q1, rt, flags, r, d, t;
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
// steps, ~1 µs each on an H200) and hardly with m. Measured on the H200 host, a 256 x 32 QR
// (seeds' subspace step, m k² = 2^18) is faster through the CPU, download and upload included
// (step 0.14 ms vs 0.33 ms), a 4096 x 64 one (2^24) much slower there. From m k² = 2^22 on the
// device runs it by default; smaller ones keep the CPU's exact Householder factors and its
// NaN/Inf errors.
constexpr uint64_t kMinWork = 1ull << 22;

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

// G = Rᵀ R: rt = R, r = R · prev (when prev), flags of dependent columns.
void cholesky(const Buf& g, uint32_t k, uint32_t batch, const Buf& prev, const Buf& rt,
              const Buf& r, const Buf& flags) {
  // gdiag, rinv, pdiag (3 x 256 float64), dep (256 uint)
  uint32_t ks = shared_dim(k, sizeof(double), 1, 3 * 256 * 8 + 256 * 4);
  Buf w = ks ? g : temp(size_t(batch) * k * k * sizeof(double));
  CholPC cp{g->address(), w->address(), (prev ? prev : rt)->address(), rt->address(),
            (r ? r : rt)->address(), flags->address(), k, prev ? 1u : 0u};
  std::vector<Buf> reads{g}, writes{rt, flags};
  if (prev) reads.push_back(prev), writes.push_back(r);
  if (!ks) writes.push_back(w);
  dispatch_variant("qr_chol", ks, &cp, sizeof(cp), Grid{batch, 1, 1}, reads, writes);
}

// q = z rt⁻¹ (· diag(d) when d), hash columns where flagged.
void trsm(const Buf& z, const Buf& rt, const Buf& flags, const Buf& d, const Buf& q, uint32_t n,
          uint32_t k, uint32_t batch) {
  uint32_t ks = (k + 15u) / 16u * 16u;
  bool shared = size_t(ks) * ks * sizeof(float) <= Context::require().caps.max_shared_memory;
  TrsmPC tp{z->address(), rt->address(), flags->address(), (d ? d : rt)->address(), q->address(),
            n, k, d ? 1u : 0u};
  std::vector<Buf> reads{z, rt, flags};
  if (d) reads.push_back(d);
  Encoder::get().dispatch(
      pipeline(shared ? "qr_trsm_shared" : "qr_trsm_global", {256, shared ? ks : 16}), &tp,
      sizeof(tp), Grid{div_up(n, 256), batch, 1}, reads, {q});
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
    return fallback(p, inputs, outputs, "small matrix (m k² < 2^22; KILN_GPU_QR=1 forces the GPU)");
  uint64_t batch64 = a.size() / (uint64_t(m) * k);
  if (batch64 > caps.max_workgroup_count[0] || batch64 > caps.max_workgroup_count[1] ||
      batch64 > caps.max_workgroup_count[2])
    return fallback(p, inputs, outputs, "batch too large");
  Buf bq = output(q), br = output(r);
  uint32_t batch = static_cast<uint32_t>(batch64);
  Buf z = input(a);
  size_t kk = size_t(k) * k * batch;
  Buf r1 = temp(kk * 4), r2 = temp(kk * 4), d = temp(size_t(k) * batch * 4);
  Buf flags1 = temp(size_t(k) * batch * 4), flags2 = temp(size_t(k) * batch * 4);
  Buf q1 = temp(a.nbytes());

  cholesky(gram(z, m, k, batch), k, batch, nullptr, r1, nullptr, flags1);
  trsm(z, r1, flags1, nullptr, q1, m, k, batch);

  cholesky(gram(q1, m, k, batch), k, batch, r1, r2, br, flags2);
  uint32_t ks = shared_dim(k, sizeof(float), 1, 256 * 4);
  Buf t = ks ? r1 : temp(kk * 4);
  SignPC sp{q1->address(), r2->address(), flags2->address(), br->address(), d->address(),
            t->address(), m, k};
  std::vector<Buf> writes{br, d};
  if (!ks) writes.push_back(t);
  dispatch_variant("qr_sign", ks, &sp, sizeof(sp), Grid{batch, 1, 1}, {q1, r2, flags2}, writes);
  trsm(q1, r2, flags2, d, bq, m, k, batch);
}

}  // namespace kiln::gpu
