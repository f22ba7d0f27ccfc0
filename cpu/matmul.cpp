// eval_cpu of Matmul through Eigen (row-major maps), rows split across the thread pool.
#include <Eigen/Core>
#include <vector>

#include "../core/primitives.h"
#include "cpu_utils.h"

namespace kiln {

namespace {
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void gemm_f32(const float* a, const float* b, float* c, int M, int N, int K) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    std::fill(c, c + static_cast<size_t>(M) * N, 0.0f);
    return;
  }
  Eigen::Map<const RowMat> B(b, K, N);
  double flops = 2.0 * M * N * K;
  int threads = flops > 4e6 ? cpu::num_threads() : 1;
  size_t rows_per = std::max(1, (M + threads - 1) / threads);
  cpu::parallel_for(M, threads > 1 ? rows_per : M, [&](size_t r0, size_t r1) {
    int m = static_cast<int>(r1 - r0);
    Eigen::Map<const RowMat> A(a + r0 * K, m, K);
    Eigen::Map<RowMat> C(c + r0 * N, m, N);
    C.noalias() = A * B;
  });
}

// Transposed operands (the flags compile sets) are materialized first, exactly as the eager
// swapaxes would be: compiled and eager products then agree bit for bit on the CPU.
// (the eager transpose's tiled, threaded copy)
const float* untranspose(const float* x, int rows, int cols, size_t batch, std::vector<float>& buf) {
  buf.resize(batch * rows * cols);
  int64_t mat = static_cast<int64_t>(rows) * cols;
  cpu::copy_strided(reinterpret_cast<const char*>(x), 0, {mat, 1, rows},
                    reinterpret_cast<char*>(buf.data()), 0, {mat, cols, 1},
                    {static_cast<int>(batch), rows, cols}, sizeof(float));
  return buf.data();
}
}  // namespace

void Matmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &b = inputs[1];
  array& out = outputs[0];
  cpu::alloc(out);
  bool ta = transpose_a(), tb = transpose_b();
  int M = out.shape(-2), N = out.shape(-1), K = ta ? a.shape(-2) : a.shape(-1);
  size_t batch = M == 0 || N == 0 ? 0 : out.size() / (static_cast<size_t>(M) * N);
  if (out.size() == 0) return;
  if (a.dtype() == float32) {
    std::vector<float> bufa, bufb;
    const float* pa = cpu::cdata<float>(a);
    const float* pb = cpu::cdata<float>(b);
    if (ta) pa = untranspose(pa, M, K, batch, bufa);
    if (tb) pb = untranspose(pb, K, N, batch, bufb);
    float* pc = cpu::mdata<float>(out);
    for (size_t i = 0; i < batch; ++i)
      gemm_f32(pa + i * M * K, pb + i * K * N, pc + i * M * N, M, N, K);
    return;
  }
  // half types: compute in float32
  std::vector<float> fa(a.size()), fb(b.size()), fc(out.size());
  detail::convert(const_cast<array&>(a).raw_host_ptr(), a.dtype(), fa.data(), float32, a.size());
  detail::convert(const_cast<array&>(b).raw_host_ptr(), b.dtype(), fb.data(), float32, b.size());
  std::vector<float> bufa, bufb;
  const float* pa = ta ? untranspose(fa.data(), M, K, batch, bufa) : fa.data();
  const float* pb = tb ? untranspose(fb.data(), K, N, batch, bufb) : fb.data();
  for (size_t i = 0; i < batch; ++i)
    gemm_f32(pa + i * M * K, pb + i * K * N, fc.data() + i * M * N, M, N, K);
  detail::convert(fc.data(), float32, out.raw_host_ptr(), out.dtype(), out.size());
}

}  // namespace kiln
