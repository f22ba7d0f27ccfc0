// kiln-gpu-bench: the Vulkan backend's headline numbers, one line per measurement.
//   kiln-gpu-bench [--n ELEMENTS] [--m MATMUL_SIZE] [--ops DEPENDENT_OPS] [--reps R]
// Defaults are the sizes (256M elements, 4096^3, 100 ops); pass small ones on
// lavapipe. Times are wall clock around eval() (which waits for the GPU), best of R.
#include <kiln/kiln.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "gpu/kernels.h"

namespace kx = kiln;

namespace {
double best_seconds(int reps, const std::function<void()>& f) {
  f();  // warm-up: pipelines, allocations
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  long long n = 256ll << 20;
  int m = 4096, ops = 100, reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    long long v = std::atoll(argv[i + 1]);
    if (a == "--n") n = v;
    else if (a == "--m") m = static_cast<int>(v);
    else if (a == "--ops") ops = static_cast<int>(v);
    else if (a == "--reps") reps = static_cast<int>(v);
    else {
      std::fprintf(stderr, "usage: %s [--n N] [--m M] [--ops K] [--reps R]\n", argv[0]);
      return 2;
    }
  }
  if (!kx::gpu::is_available()) {
    std::printf("no Vulkan device: nothing to measure\n");
    return 0;
  }
  const kx::Device gpu(kx::Device::gpu);
  std::printf("device %s\n", kx::gpu::device_name().c_str());

  double copy_gbs = 0;
  // buffer copy (vkCmdCopyBuffer) of n float32: the reference bandwidth
  {
    size_t bytes = static_cast<size_t>(n) * 4;
    auto src = kx::gpu::Allocator::get().device(bytes);
    auto dst = kx::gpu::Allocator::get().device(bytes);
    double t = best_seconds(reps, [&] {
      std::lock_guard<std::recursive_mutex> lk(kx::gpu::Context::require().mutex);
      kx::gpu::Encoder::get().copy(src, 0, dst, 0, bytes);
      kx::gpu::Encoder::get().wait_all();
    });
    copy_gbs = 2.0 * bytes / t / 1e9;
    std::printf("copy_f32 n=%lld %.1f GB/s (read+write)\n", n, copy_gbs);
  }
  // elementwise add: 2 reads + 1 write
  {
    kx::array x = kx::ones({static_cast<int>(n)}, kx::float32, gpu);
    kx::array y = kx::ones({static_cast<int>(n)}, kx::float32, gpu);
    kx::eval(x, y);
    double t = best_seconds(reps, [&] { kx::add(x, y, gpu).eval(); });
    double add_gbs = 3.0 * n * 4 / t / 1e9;
    std::printf("add_f32 n=%lld %.1f GB/s effective (%.0f%% of copy)\n", n, add_gbs,
                100 * add_gbs / copy_gbs);
    double ts = best_seconds(reps, [&] { kx::sum(x, false, gpu).eval(); });
    double sum_gbs = 1.0 * n * 4 / ts / 1e9;
    std::printf("sum_f32 n=%lld %.1f GB/s (%.0f%% of copy)\n", n, sum_gbs, 100 * sum_gbs / copy_gbs);
  }
  // matmul m^3 float32
  {
    kx::array a = kx::random::uniform({m, m}, kx::float32, kx::random::key(1), gpu);
    kx::array b = kx::random::uniform({m, m}, kx::float32, kx::random::key(2), gpu);
    kx::eval(a, b);
    double t = best_seconds(reps, [&] { kx::matmul(a, b, gpu).eval(); });
    std::printf("matmul_f32 m=%d %.2f TFLOP/s\n", m, 2.0 * m * m * m / t / 1e12);
  }
  // overhead: `ops` dependent tiny ops evaluated at once
  {
    kx::array x = kx::ones({16}, kx::float32, gpu);
    x.eval();
    double t = best_seconds(reps * 4, [&] {
      kx::array y = x;
      for (int i = 0; i < ops; ++i) y = kx::multiply(y, kx::array(1.0001f), gpu);
      y.eval();
    });
    std::printf("dependent_ops k=%d %.1f us total (%.2f us/op)\n", ops, t * 1e6, t * 1e6 / ops);
    // the host's share: building the graph, recording it and submitting (async_eval does not
    // wait; the device work is waited for outside the timed region)
    double host = 1e30;
    for (int r = 0; r < reps * 4 + 1; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      kx::array y = x;
      for (int i = 0; i < ops; ++i) y = kx::multiply(y, kx::array(1.0001f), gpu);
      kx::async_eval(y);
      auto t1 = std::chrono::steady_clock::now();
      kx::gpu::synchronize();
      if (r > 0) host = std::min(host, std::chrono::duration<double>(t1 - t0).count());
    }
    std::printf("dependent_ops_host k=%d %.1f us (%.2f us/op: graph + recording + submit)\n", ops,
                host * 1e6, host * 1e6 / ops);
  }
  return 0;
}
