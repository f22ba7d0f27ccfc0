// eval_cpu of movement primitives: Broadcast, Reshape, Flatten, Transpose, Slice,
// SliceUpdate, Concatenate. All produce contiguous outputs through one strided copy.
#include <algorithm>
#include <cstring>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "../core/primitives.h"
#include "cpu_utils.h"

namespace kiln {

namespace cpu {
// dst (strides dst_st, offset dst_off) <- src (strides src_st, offset src_off) over `shape`.
namespace {
#if defined(__AVX2__)
// dst[r * dst_stride + c] = src[c * src_stride + r] for an 8x8 block of 4-byte values.
inline void transpose8x8(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
  __m256 r[8], t[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + k * src_stride);
  t[0] = _mm256_unpacklo_ps(r[0], r[1]);
  t[1] = _mm256_unpackhi_ps(r[0], r[1]);
  t[2] = _mm256_unpacklo_ps(r[2], r[3]);
  t[3] = _mm256_unpackhi_ps(r[2], r[3]);
  t[4] = _mm256_unpacklo_ps(r[4], r[5]);
  t[5] = _mm256_unpackhi_ps(r[4], r[5]);
  t[6] = _mm256_unpacklo_ps(r[6], r[7]);
  t[7] = _mm256_unpackhi_ps(r[6], r[7]);
  r[0] = _mm256_shuffle_ps(t[0], t[2], _MM_SHUFFLE(1, 0, 1, 0));
  r[1] = _mm256_shuffle_ps(t[0], t[2], _MM_SHUFFLE(3, 2, 3, 2));
  r[2] = _mm256_shuffle_ps(t[1], t[3], _MM_SHUFFLE(1, 0, 1, 0));
  r[3] = _mm256_shuffle_ps(t[1], t[3], _MM_SHUFFLE(3, 2, 3, 2));
  r[4] = _mm256_shuffle_ps(t[4], t[6], _MM_SHUFFLE(1, 0, 1, 0));
  r[5] = _mm256_shuffle_ps(t[4], t[6], _MM_SHUFFLE(3, 2, 3, 2));
  r[6] = _mm256_shuffle_ps(t[5], t[7], _MM_SHUFFLE(1, 0, 1, 0));
  r[7] = _mm256_shuffle_ps(t[5], t[7], _MM_SHUFFLE(3, 2, 3, 2));
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(dst + k * dst_stride, _mm256_permute2f128_ps(r[k], r[k + 4], 0x20));
    _mm256_storeu_ps(dst + (k + 4) * dst_stride, _mm256_permute2f128_ps(r[k], r[k + 4], 0x31));
  }
}
#endif

// A transposing copy (the destination's inner axis is strided in the source, and some outer
// axis p is contiguous in the source) done in square tiles over (p, inner), so both sides
// touch a few cache lines per tile instead of one line per element.
template <typename U>
bool copy_transposed(const U* s, U* d, const StridedLoop<2>& loop) {
  int nd = static_cast<int>(loop.shape.size());
  const Strides &ss = loop.strides[0], &ds = loop.strides[1];
  if (nd < 2 || ds[nd - 1] != 1 || ss[nd - 1] == 1 || ss[nd - 1] == 0 ||
      loop.shape[nd - 1] < 16)
    return false;
  int p = -1;
  for (int k = nd - 2; k >= 0; --k)
    if (ss[k] == 1 && loop.shape[k] >= 16) {
      p = k;
      break;
    }
  if (p < 0) return false;
  constexpr int kTile = 32;
  const int ni = loop.shape[p], nj = loop.shape[nd - 1];
  const int64_t ssi = ss[p], ssj = ss[nd - 1], dsi = ds[p];
  // outer axes: all but p and the inner one
  std::vector<int> outer;
  size_t n_outer = 1;
  for (int k = 0; k < nd - 1; ++k)
    if (k != p) {
      outer.push_back(k);
      n_outer *= loop.shape[k];
    }
  size_t i_tiles = (ni + kTile - 1) / kTile;
  size_t jobs = n_outer * i_tiles;
  size_t grain = std::max<size_t>(1, (size_t(1) << 16) / (size_t(kTile) * nj));
  parallel_for(jobs, grain, [&](size_t j0, size_t j1) {
    for (size_t job = j0; job < j1; ++job) {
      size_t o = job / i_tiles, it = job % i_tiles;
      int64_t so = 0, dof = 0;
      for (int k = static_cast<int>(outer.size()) - 1; k >= 0; --k) {
        int ax = outer[k];
        int64_t idx = static_cast<int64_t>(o % loop.shape[ax]);
        o /= loop.shape[ax];
        so += idx * ss[ax];
        dof += idx * ds[ax];
      }
      int i0 = static_cast<int>(it) * kTile, i1 = std::min(ni, i0 + kTile);
      // through an L1-resident buffer: source runs are read whole and destination runs
      // written whole, so power-of-two strides (every line in one cache set) cannot thrash
      U buf[kTile][kTile];  // buf[j][i], the source layout
      const int ti = i1 - i0;
      for (int jb = 0; jb < nj; jb += kTile) {
        int jb1 = std::min(nj, jb + kTile);
        for (int j = jb; j < jb1; ++j) {
          const U* sp = s + so + j * ssj + i0 * ssi;
          for (int i = 0; i < ti; ++i) buf[j - jb][i] = sp[i];
        }
        const int tj = jb1 - jb;
        int i = 0;
#if defined(__AVX2__)
        if constexpr (sizeof(U) == 4) {
          for (; i + 8 <= ti; i += 8) {
            int j = 0;
            for (; j + 8 <= tj; j += 8)
              transpose8x8(reinterpret_cast<const float*>(&buf[j][i]), kTile,
                           reinterpret_cast<float*>(d + dof + (i0 + i) * dsi + jb + j), dsi);
            for (; j < tj; ++j)
              for (int k = 0; k < 8; ++k) d[dof + (i0 + i + k) * dsi + jb + j] = buf[j][i + k];
          }
        }
#endif
        for (; i < ti; ++i) {
          U* dp = d + dof + (i0 + i) * dsi + jb;
          for (int j = 0; j < tj; ++j) dp[j] = buf[j][i];
        }
      }
    }
  });
  return true;
}
}  // namespace

void copy_strided(const char* src, int64_t src_off, const Strides& src_st, char* dst,
                  int64_t dst_off, const Strides& dst_st, const Shape& shape, size_t itemsize) {
  size_t total = 1;
  for (int d : shape) total *= d;
  if (total == 0) return;
  StridedLoop<2> loop(shape, {src_st, dst_st});
  auto go = [&](auto tag) {
    using U = decltype(tag);
    const U* s = reinterpret_cast<const U*>(src) + src_off;
    U* d = reinterpret_cast<U*>(dst) + dst_off;
    if (total >= 4096 && copy_transposed(s, d, loop)) return;
    size_t grain = std::max<size_t>(1, (1 << 16) / std::max(1, loop.shape.back()));
    parallel_for(loop.rows(), grain, [&](size_t r0, size_t r1) {
      loop.run(r0, r1, [&](const std::array<int64_t, 2>& off, int n,
                           const std::array<int64_t, 2>& st) {
        const U* sp = s + off[0];
        U* dp = d + off[1];
        if (st[0] == 1 && st[1] == 1) {
          std::memcpy(dp, sp, n * sizeof(U));
        } else if (st[0] == 0) {
          U v = *sp;
          for (int i = 0; i < n; ++i) dp[i * st[1]] = v;
        } else {
          for (int i = 0; i < n; ++i) dp[i * st[1]] = sp[i * st[0]];
        }
      });
    });
  };
  switch (itemsize) {
    case 1: go(uint8_t{}); break;
    case 2: go(uint16_t{}); break;
    case 4: go(uint32_t{}); break;
    default: go(uint64_t{}); break;
  }
}
}  // namespace cpu

namespace {
const char* cbase(const array& a) {
  return static_cast<const char*>(const_cast<array&>(a).raw_host_ptr());
}
}  // namespace

void Broadcast::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  cpu::copy_strided(cbase(in), 0, cpu::broadcast_strides(in.shape(), out.shape()),
                    static_cast<char*>(out.raw_host_ptr()), 0, out.strides(), out.shape(),
                    out.itemsize());
}

void Reshape::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::share(inputs[0], outputs[0]);
}
void Flatten::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::share(inputs[0], outputs[0]);
}

void Transpose::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  Strides ist = in.strides(), st(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) st[i] = ist[axes_[i]];
  cpu::copy_strided(cbase(in), 0, st, static_cast<char*>(out.raw_host_ptr()), 0, out.strides(),
                    out.shape(), out.itemsize());
}

void Slice::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  cpu::alloc(out);
  if (out.size() == 0) return;
  Strides ist = in.strides(), st(ist.size());
  int64_t off = 0;
  for (size_t i = 0; i < ist.size(); ++i) {
    st[i] = ist[i] * strides_[i];
    off += static_cast<int64_t>(start_[i]) * ist[i];
  }
  cpu::copy_strided(cbase(in), off, st, static_cast<char*>(out.raw_host_ptr()), 0, out.strides(),
                    out.shape(), out.itemsize());
}

void SliceUpdate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &src = inputs[0], &upd = inputs[1];
  array& out = outputs[0];
  cpu::alloc(out);
  char* y = static_cast<char*>(out.raw_host_ptr());
  std::memcpy(y, cbase(src), out.nbytes());
  if (upd.size() == 0) return;
  Strides ost = out.strides(), st(ost.size());
  int64_t off = 0;
  for (size_t i = 0; i < ost.size(); ++i) {
    st[i] = ost[i] * strides_[i];
    off += static_cast<int64_t>(start_[i]) * ost[i];
  }
  cpu::copy_strided(cbase(upd), 0, upd.strides(), y, off, st, upd.shape(), out.itemsize());
}

void Concatenate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  cpu::alloc(out);
  char* y = static_cast<char*>(out.raw_host_ptr());
  Strides ost = out.strides();
  int64_t off = 0;
  for (auto& in : inputs) {
    cpu::copy_strided(cbase(in), 0, in.strides(), y, off, ost, in.shape(), out.itemsize());
    off += static_cast<int64_t>(in.shape()[axis_]) * ost[axis_];
  }
}

}  // namespace kiln
