// Helpers shared by the op-family files: device buffers of inputs/outputs, dtype names for
// shader variants, device support checks, dispatch with a push-constant struct, and the
// CPU fallback.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "../core/array.h"
#include "../core/primitives.h"
#include "context.h"
#include "encoder.h"

namespace kiln::gpu {

constexpr uint32_t kWorkgroup = 256;

// Device buffer of an evaluated input; host-only data is uploaded once and the device copy
// is kept on the array's Data.
Buf input(const array& a);
// Fresh device memory that becomes `out`'s data.
Buf output(array& out);
// out shares in's storage (reshape, identity).
void share(const array& in, array& out);

// Shader-name suffix of a dtype: f32 f16 bf16 i32 u32 i64 bool.
const char* dt(Dtype d);
// Suffix for data movement by element size: x8 x16 x32 x64.
const char* xt(Dtype d);
// True when the device can store/compute this dtype in shaders.
bool dtype_supported(Dtype d);
bool all_supported(std::initializer_list<std::reference_wrapper<const array>> arrays);  // no copies

// Records one dispatch of `shader` with push constants `pc`.
template <typename PC>
void dispatch(const char* shader, std::initializer_list<uint32_t> spec, const PC& pc, Grid grid,
              std::initializer_list<Buf> reads, std::initializer_list<Buf> writes) {
  static_assert(sizeof(PC) <= 128, "push constants are limited to 128 bytes");
  Encoder::get().dispatch(pipeline(shader, spec), &pc, sizeof(PC), grid, reads, writes);
}

// Evaluates the primitive on the CPU (inputs are downloaded, outputs stay on the host until
// a GPU consumer uploads them). Logged under KILN_LOG=gpu and counted.
void fallback(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
              const std::string& why);

// Shape helpers: element strides of `in` broadcast to `out` (0 on broadcast axes).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Drops size-1 axes and merges axes contiguous in every operand; returns the new shape and
// rewrites strides in place (each strides vector has shape.size() entries).
Shape collapse(const Shape& shape, std::vector<std::vector<int64_t>*> strides);

// Row-major element strides of a shape.
std::vector<int64_t> row_major(const Shape& s);
// dst[dst_off + c·ds] = src[src_off + c·ss] over `shape` (copy.cpp). Returns false when the
// copy cannot be expressed (too many dims after collapsing, too large), recording nothing.
bool strided_copy(const Buf& src, int64_t src_off, std::vector<int64_t> ss, const Buf& dst,
                  int64_t dst_off, std::vector<int64_t> ds, const Shape& shape, Dtype dtype);
// dst[i] = src[i] (bytes[i] each, contiguous) as ONE dispatch (replay.cpp); zero sizes skipped.
void copy_many(const std::vector<Buf>& src, const std::vector<Buf>& dst,
               const std::vector<size_t>& bytes);
// y = a @ b over `batch` row-major products (M, K) @ (K, N) (matmul.cpp); ta / tb: a is
// stored (K, M) / b is stored (N, K). Float dtypes only.
void matmul(const Buf& a, const Buf& b, const Buf& y, uint32_t M, uint32_t N, uint32_t K,
            uint64_t batch, bool ta, bool tb, Dtype dtype);
// Device memory for a temporary of one eval (kept alive by the dispatches that use it).
inline Buf temp(size_t nbytes) { return Allocator::get().device(nbytes); }

// An (O, R, I) view for reducing/scanning `axes` (sorted). When the axes are not one
// contiguous block the input is first transposed (on the device) so that they are last;
// `data` is then that temporary.
struct ORI {
  uint64_t O = 1, R = 1, I = 1;
  Buf data;
};
// Returns false (recording nothing) when the transpose is not expressible.
bool ori_view(const array& in, const std::vector<int>& axes, ORI& v);
inline uint32_t div_up(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

}  // namespace kiln::gpu
