// Helpers of the tests/test_gpu_*.cpp suites: the cross-backend comparison (CPU is the
// oracle), random inputs of every dtype, and the fallback counter check.
#pragma once
#include <gtest/gtest.h>
#include <kiln/gpu/stats.h>
#include <kiln/kiln.h>

#include <cmath>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace kx = kiln;

namespace gt {

#define REQUIRE_GPU()                                                           \
  do {                                                                          \
    if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device available"; \
  } while (0)

inline const std::vector<kx::Dtype> kAll = {kx::float32, kx::float16, kx::bfloat16, kx::int32,
                                            kx::uint32,  kx::int64,   kx::bool_};
inline const std::vector<kx::Dtype> kFloats = {kx::float32, kx::float16, kx::bfloat16};
inline const std::vector<kx::Dtype> kNumeric = {kx::float32, kx::float16, kx::bfloat16,
                                                kx::int32,   kx::uint32,  kx::int64};

// Host (CPU) array of uniform values in [lo, hi) converted to dtype (integers: rounded).
inline kx::array rand(const kx::Shape& shape, kx::Dtype dtype, float lo = -2.f, float hi = 2.f,
                      uint32_t seed = 1) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  size_t n = 1;
  for (int d : shape) n *= d;
  std::vector<float> v(n);
  for (auto& x : v) {
    x = u(g);
    if (!kx::is_floating(dtype)) x = std::round(x);
    if (dtype == kx::bool_) x = x > 0 ? 1.f : 0.f;
  }
  return kx::array(v, shape, dtype);
}

// Compares a CPU and a GPU result: same shape and dtype; integers and bools exactly; floats
// within atol + rtol |cpu| (NaN matches NaN, infinities must match).
inline ::testing::AssertionResult same(kx::array cpu, kx::array gpu, float rtol, float atol) {
  if (cpu.shape() != gpu.shape())
    return ::testing::AssertionFailure() << "shape " << kx::detail::shape_str(gpu.shape())
                                         << " != cpu " << kx::detail::shape_str(cpu.shape());
  if (cpu.dtype() != gpu.dtype())
    return ::testing::AssertionFailure() << "dtype " << gpu.dtype() << " != cpu " << cpu.dtype();
  if (kx::is_floating(cpu.dtype())) {
    auto c = cpu.to_vector<float>(), g = gpu.to_vector<float>();
    for (size_t i = 0; i < c.size(); ++i) {
      if (std::isnan(c[i]) && std::isnan(g[i])) continue;
      if (std::isinf(c[i]) && c[i] == g[i]) continue;
      if (!(std::fabs(c[i] - g[i]) <= atol + rtol * std::fabs(c[i])))
        return ::testing::AssertionFailure() << "element " << i << ": gpu " << g[i] << ", cpu "
                                             << c[i] << " (" << cpu.dtype() << ")";
    }
  } else {
    auto c = cpu.to_vector<int64_t>(), g = gpu.to_vector<int64_t>();
    for (size_t i = 0; i < c.size(); ++i)
      if (c[i] != g[i])
        return ::testing::AssertionFailure() << "element " << i << ": gpu " << g[i] << ", cpu "
                                             << c[i] << " (" << cpu.dtype() << ")";
  }
  return ::testing::AssertionSuccess();
}

inline float rtol_for(kx::Dtype d) {
  if (d == kx::float16) return 2e-3f;
  if (d == kx::bfloat16) return 1.6e-2f;
  return 2e-5f;
}

using Fn = std::function<kx::array(const std::vector<kx::array>&, kx::StreamOrDevice)>;

// Runs f on the CPU and on the GPU over the same host inputs and compares.
inline ::testing::AssertionResult check(const Fn& f, const std::vector<kx::array>& inputs,
                                        float rtol = -1, float atol = 1e-5f) {
  kx::array c = f(inputs, kx::Device::cpu);
  kx::array g = f(inputs, kx::Device::gpu);
  kx::eval(c, g);
  if (rtol < 0) rtol = rtol_for(c.dtype());
  return same(c, g, rtol, atol);
}

// Fallbacks since the last reset, as "Name:count ..." (empty when none).
inline std::string fallbacks() {
  auto s = kx::gpu::detail::kernel_stats();
  std::ostringstream os;
  for (auto& [k, v] : s.fallback_by_primitive) os << k << ":" << v << " ";
  return os.str();
}

}  // namespace gt
