// The GPU runtime: device selection, availability, memory (stats, reuse, out-of-memory),
// the one-command-buffer encoder (submits, barriers), async eval, cross-device graphs and
// the CPU fallback path.
#include <kiln/gpu/device_select.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "gpu_test_util.h"

namespace kd = kiln::gpu::detail;

TEST(GpuDeviceSelect, PrefersDiscreteThenIntegratedThenCpu) {
  std::vector<kd::DeviceCandidate> devs = {{"llvmpipe", kd::DeviceKind::cpu},
                                           {"Intel UHD", kd::DeviceKind::integrated},
                                           {"NVIDIA H100", kd::DeviceKind::discrete}};
  EXPECT_EQ(kd::choose_device(devs, ""), 2);
  devs[2].usable = false;
  EXPECT_EQ(kd::choose_device(devs, ""), 1);
  EXPECT_EQ(kd::choose_device({{"llvmpipe", kd::DeviceKind::cpu}}, ""), 0);
  EXPECT_EQ(kd::choose_device({}, ""), -1);
  EXPECT_EQ(kd::choose_device({{"x", kd::DeviceKind::cpu, false}}, ""), -1);
}

TEST(GpuDeviceSelect, ByIndexOrName) {
  std::vector<kd::DeviceCandidate> devs = {{"llvmpipe (LLVM 15)", kd::DeviceKind::cpu},
                                           {"NVIDIA H100 80GB HBM3", kd::DeviceKind::discrete},
                                           {"NVIDIA A10", kd::DeviceKind::discrete, false}};
  EXPECT_EQ(kd::choose_device(devs, "0"), 0);
  EXPECT_EQ(kd::choose_device(devs, "1"), 1);
  EXPECT_EQ(kd::choose_device(devs, "LLVMPIPE"), 0);
  EXPECT_EQ(kd::choose_device(devs, "h100"), 1);
  EXPECT_THROW(kd::choose_device(devs, "2"), std::invalid_argument);  // unusable
  EXPECT_THROW(kd::choose_device(devs, "7"), std::invalid_argument);
  EXPECT_THROW(kd::choose_device(devs, "a10"), std::invalid_argument);
  EXPECT_THROW(kd::choose_device(devs, "radeon"), std::invalid_argument);
}

// Run in a fresh process by AvailableWithName: earlier tests of the same process (the combined
// kiln-suite) may have chosen the default device already.
TEST(GpuRuntime, DefaultDeviceChild) {
  if (!std::getenv("KILN_RUNTIME_CHILD")) GTEST_SKIP() << "run by AvailableWithName";
  REQUIRE_GPU();
  EXPECT_EQ(kx::default_device(), kx::Device(kx::Device::gpu));
}

TEST(GpuRuntime, AvailableWithName) {
  REQUIRE_GPU();
  EXPECT_FALSE(kx::gpu::device_name().empty());
  if (std::getenv("KILN_DEVICE")) return;
  // without KILN_DEVICE the GPU is the default device of a new process
  std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string cmd = "KILN_RUNTIME_CHILD=1 " + exe +
                    " --gtest_filter=GpuRuntime.DefaultDeviceChild > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

// Run in a fresh process by EarlySubmitSetting (the setting is read once per process).
TEST(GpuRuntime, EarlySubmitChild) {
  const char* e = std::getenv("KILN_GPU_EARLY_SUBMIT");
  if (!std::getenv("KILN_RUNTIME_CHILD") || !e) GTEST_SKIP() << "run by EarlySubmitSetting";
  REQUIRE_GPU();
  kx::array x = kx::ones({16}, kx::float32, kx::Device::gpu);
  if (std::string(e) != "banana") x.eval();
  kx::array y = x;
  for (int i = 0; i < 40; ++i) y = kx::multiply(y, kx::array(2.f), kx::Device::gpu);
  if (std::string(e) == "banana") {
    try {
      y.eval();
      ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& err) {
      EXPECT_NE(std::string(err.what()).find("KILN_GPU_EARLY_SUBMIT"), std::string::npos);
      EXPECT_NE(std::string(err.what()).find("banana"), std::string::npos);
    }
    return;
  }
  kx::gpu::detail::reset_kernel_stats();
  y.eval();
  auto s = kx::gpu::detail::kernel_stats();
  EXPECT_GE(s.dispatches, 40u);
  EXPECT_LE(s.dispatches, 41u);  // + the read-back copy of a discrete GPU
  if (std::string(e) == "0") EXPECT_EQ(s.submits, 1u);  // off: one submit at the end
  else EXPECT_LE(s.submits, 41u / std::stoul(e) + 1);
  EXPECT_EQ(y.to_vector<float>()[3], std::pow(2.f, 40.f));
}

TEST(GpuRuntime, EarlySubmitSetting) {
  REQUIRE_GPU();
  std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  for (const char* v : {"0", "1", "5", "banana"}) {
    std::string cmd = std::string("KILN_RUNTIME_CHILD=1 KILN_GPU_EARLY_SUBMIT=") + v + " " + exe +
                      " --gtest_filter=GpuRuntime.EarlySubmitChild > /dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "KILN_GPU_EARLY_SUBMIT=" << v;
  }
}

TEST(GpuRuntime, OutOfMemoryIsAnError) {
  REQUIRE_GPU();
  kx::array huge = kx::zeros({1 << 30, 1 << 12}, kx::float32, kx::Device::gpu);  // 16 TiB
  EXPECT_THROW(huge.eval(), kx::OutOfMemoryError);
  // the device still works afterwards
  kx::array x = kx::add(kx::array({1.f, 2.f}), kx::array(1.f), kx::Device::gpu);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{2.f, 3.f}));
}

TEST(GpuRuntime, MemoryStatsAndReuse) {
  REQUIRE_GPU();
  kx::gpu::synchronize();
  auto before = kx::gpu::memory_stats();
  kx::gpu::reset_peak_memory();
  {
    kx::array a = kx::ones({1 << 20}, kx::float32, kx::Device::gpu);  // 4 MiB
    a.eval();
    auto during = kx::gpu::memory_stats();
    EXPECT_GE(during.active, before.active + (4u << 20));
    EXPECT_GE(during.peak, during.active);
  }
  kx::gpu::synchronize();
  auto after = kx::gpu::memory_stats();
  EXPECT_LE(after.active, before.active);
  EXPECT_GE(after.cached, 4u << 20);
  EXPECT_GE(after.peak, before.active + (4u << 20));
  // the cached block is reused: no growth over repeated same-size allocations
  for (int i = 0; i < 5; ++i) {
    kx::array a = kx::ones({1 << 20}, kx::float32, kx::Device::gpu);
    a.eval();
  }
  kx::gpu::synchronize();
  auto again = kx::gpu::memory_stats();
  EXPECT_EQ(again.active + again.cached, after.active + after.cached);
}

TEST(GpuRuntime, OneSubmitPerEvalAndBarriersOnlyBetweenDependents) {
  REQUIRE_GPU();
  kx::array x = kx::ones({1000}, kx::float32, kx::Device::gpu);
  x.eval();
  // 50 dependent ops: 50 dispatches, a barrier between each pair (or the start of a new command
  // buffer: every 8 dispatches the commands are submitted early unless two submissions are
  // still running)
  // a GPU-resident scalar: host scalars would add an upload (and its barrier) on discrete GPUs
  kx::array c = kx::multiply(kx::array(1.01f), kx::array(1.f), kx::Device::gpu);
  kx::array zero = kx::multiply(kx::array(0.f), kx::array(1.f), kx::Device::gpu);
  kx::eval(c, zero);
  kx::array y = x;
  for (int i = 0; i < 50; ++i) y = kx::multiply(y, c, kx::Device::gpu);
  kx::gpu::detail::reset_kernel_stats();
  y.eval();
  auto s = kx::gpu::detail::kernel_stats();
  EXPECT_GE(s.submits, 1u);
  EXPECT_LE(s.submits, 7u);  // after 8, 16, ..., 48 dispatches at most, and at the end
  EXPECT_EQ(s.dispatches, 50u);
  EXPECT_LE(s.barriers, 49u);
  EXPECT_GE(s.barriers + s.submits, 50u);
  EXPECT_NEAR(y.to_vector<float>()[0], std::pow(1.01f, 50.f), 1e-4);
  // 20 independent ops of one input: no barrier at all
  std::vector<kx::array> outs;
  for (int i = 0; i < 20; ++i)
    outs.push_back(kx::multiply(x, kx::add(zero, kx::array(float(i))), kx::Device::gpu));
  kx::eval(outs);  // the scalars are prepared (and uploaded) here
  for (auto& o : outs) o = kx::multiply(x, o, kx::Device::gpu);
  kx::gpu::detail::reset_kernel_stats();
  kx::eval(outs);
  s = kx::gpu::detail::kernel_stats();
  EXPECT_LE(s.submits, 3u);
  EXPECT_EQ(s.dispatches, 20u);
  EXPECT_LE(s.barriers, s.submits - 1);  // only where a command buffer follows pending work
  EXPECT_EQ(outs[7].to_vector<float>()[3], 7.f);  // 1 * (1 * 7)
}

TEST(GpuRuntime, AsyncEvalThenRead) {
  REQUIRE_GPU();
  // scaled so that the chain is contractive (rounding differences do not grow)
  kx::array a = kx::multiply(gt::rand({256, 256}, kx::float32), kx::array(1.f / 32), kx::Device::cpu);
  kx::array g = kx::matmul(a, a, kx::Device::gpu);
  for (int i = 0; i < 10; ++i) g = kx::tanh(kx::matmul(g, a, kx::Device::gpu), kx::Device::gpu);
  kx::array c = kx::matmul(a, a, kx::Device::cpu);
  for (int i = 0; i < 10; ++i) c = kx::tanh(kx::matmul(c, a, kx::Device::cpu), kx::Device::cpu);
  kx::async_eval(g);
  // intermediates are dropped while the GPU may still run: their memory must stay alive
  for (int i = 0; i < 4; ++i) kx::array t = kx::exp(kx::ones({4096}, kx::float32, kx::Device::gpu), kx::Device::gpu);
  EXPECT_TRUE(gt::same(c, g, 1e-3f, 1e-4f));
}

TEST(GpuRuntime, CrossDeviceGraphs) {
  REQUIRE_GPU();
  kx::array a = gt::rand({33, 17}, kx::float32);
  auto f = [](const kx::array& x, kx::Device d1, kx::Device d2) {
    kx::array y = kx::exp(x, d1);                       // GPU
    kx::array z = kx::sum(kx::add(y, x, d2), 1, false, d2);  // CPU reads a GPU array
    kx::array w = kx::multiply(z, kx::array(2.f), d1);  // GPU reads a CPU array
    return kx::concatenate({w, kx::sum(y, 1, false, d2)}, 0, d1);
  };
  // all in one lazy graph (the CPU op forces a mid-eval submit), and step by step
  kx::array mixed = f(a, kx::Device::gpu, kx::Device::cpu);
  kx::array cpu = f(a, kx::Device::cpu, kx::Device::cpu);
  EXPECT_TRUE(gt::same(cpu, mixed, 1e-5f, 1e-5f));
  kx::array y = kx::exp(a, kx::Device::gpu);
  y.eval();
  kx::array z = kx::add(y, kx::array(1.f), kx::Device::cpu);
  z.eval();
  kx::array w = kx::subtract(z, y, kx::Device::gpu);
  auto v = w.to_vector<float>();
  for (float e : v) EXPECT_NEAR(e, 1.f, 1e-5);
  // GPU arrays print and compare on the host
  EXPECT_TRUE(kx::allclose(y, kx::exp(a, kx::Device::cpu), 1e-5, 1e-6, false, kx::Device::cpu).item<bool>());
}

TEST(GpuRuntime, FallbackIsCountedAndCorrect) {
  REQUIRE_GPU();
  // where() over 6 non-collapsible broadcast dims exceeds the select kernel's 5: CPU fallback
  kx::array c = gt::rand({2, 1, 2, 1, 2, 1}, kx::bool_, -1, 1, 5);
  kx::array a = gt::rand({1, 2, 1, 2, 1, 2}, kx::float32, -1, 1, 6);
  kx::array b = gt::rand({2, 1, 2, 1, 2, 1}, kx::float32, -1, 1, 7);
  kx::gpu::detail::reset_kernel_stats();
  kx::array g = kx::exp(kx::where(c, a, b, kx::Device::gpu), kx::Device::gpu);
  kx::array r = kx::exp(kx::where(c, a, b, kx::Device::cpu), kx::Device::cpu);
  EXPECT_TRUE(gt::same(r, g, 1e-6f, 0));
  auto s = kx::gpu::detail::kernel_stats();
  EXPECT_EQ(s.fallbacks, 1u);
  EXPECT_EQ(s.fallback_by_primitive["Select"], 1u);
}

TEST(GpuRuntime, CompiledRegionsRunOnTheDevice) {
  REQUIRE_GPU();
  auto fn = [](const std::vector<kx::array>& in) {
    kx::array x = in[0];
    return std::vector<kx::array>{kx::multiply(x, kx::sigmoid(kx::multiply(x, kx::array(1.702f))))};
  };
  auto cf = kx::compile(fn);
  kx::array x = gt::rand({1000}, kx::float32);
  kx::gpu::detail::reset_kernel_stats();
  kx::array g = cf({kx::astype(x, kx::float32, kx::Device::gpu)})[0];
  kx::array c = fn({x})[0];
  EXPECT_TRUE(gt::same(c, g, 1e-5f, 1e-6f));
  EXPECT_EQ(kx::gpu::detail::kernel_stats().fallbacks, 0u);
}

// KILN_GPU_PROFILE=1 (run in a child process: the table is printed at exit).
TEST(GpuRuntime, ProfileChild) {
  if (!std::getenv("KILN_PROFILE_CHILD")) GTEST_SKIP() << "run by ProfilePrintsDeviceTimePerKernel";
  REQUIRE_GPU();
  kx::array x = kx::ones({4096}, kx::float32, kx::Device::gpu);
  for (int i = 0; i < 3; ++i) x = kx::multiply(x, x, kx::Device::gpu);
  EXPECT_EQ(x.to_vector<float>()[7], 1.f);
}

TEST(GpuRuntime, ProfilePrintsDeviceTimePerKernel) {
  REQUIRE_GPU();
  std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string out = (std::filesystem::temp_directory_path() /
                     ("kiln_profile_" + std::to_string(::getpid()) + ".txt")).string();
  std::string cmd = "KILN_PROFILE_CHILD=1 KILN_GPU_PROFILE=1 " + exe +
                    " --gtest_filter=GpuRuntime.ProfileChild > " + out + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream f(out);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::remove(out.c_str());
  EXPECT_NE(text.find("[kiln gpu profile]"), std::string::npos) << text;
  EXPECT_NE(text.find("binary_f32"), std::string::npos) << text;  // the multiplies, by name
}
