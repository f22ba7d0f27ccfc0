// Fused GPU kernels: compiled == eager on the GPU, GELU is ONE dispatch, generated kernels are
// cached on disk so a second process compiles nothing, corrupt cache files are tolerated.
#include <gtest/gtest.h>
#include <kiln/compile/compile_info.h>
#include <kiln/gpu/fused.h>
#include <kiln/gpu/stats.h>
#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optimizers.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gpu_test_util.h"  // REQUIRE_GPU

namespace kx = kiln;
using kx::array;

namespace {
array gelu(const array& x) { return x * (1.0f + kx::erf(x / std::sqrt(2.0f))) / 2.0f; }

void expect_close(array a, array b, float tol) {
  ASSERT_EQ(a.shape(), b.shape());
  auto x = kx::astype(a, kx::float32).to_vector<float>();
  auto y = kx::astype(b, kx::float32).to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(y[i])) EXPECT_TRUE(std::isnan(x[i])) << i;
    else if (std::isinf(y[i])) EXPECT_EQ(x[i], y[i]) << i;
    else EXPECT_NEAR(x[i], y[i], tol * (1 + std::fabs(y[i]))) << i;
  }
}
}  // namespace

TEST(GpuFused, GeluIsOneDispatchAndMatchesCpu) {
  REQUIRE_GPU();
  auto cg = kx::compile(gelu);
  array x = kx::random::normal({3, 257, 33}, kx::float32, 0.f, 2.f, kx::random::key(1));
  array ref = gelu(x);  // CPU-resident input: eager on the default device of the op
  ref = kx::copy(ref, kx::Device::cpu);
  kx::set_default_device(kx::Device::gpu);
  cg(x).eval();  // trace + build the kernel
  kx::gpu::detail::reset_kernel_stats();
  array y = cg(x);
  y.eval();
  auto st = kx::gpu::detail::kernel_stats();
  EXPECT_EQ(st.dispatches, 1u);
  EXPECT_EQ(st.fallbacks, 0u);
  expect_close(y, kx::copy(gelu(kx::copy(x, kx::Device::cpu)), kx::Device::cpu), 2e-6f);
  kx::set_default_device(kx::Device::cpu);
}

TEST(GpuFused, CompiledEqualsEagerOnGpu) {
  REQUIRE_GPU();
  kx::set_default_device(kx::Device::gpu);
  array x = kx::random::normal({6, 5}, kx::float32, 0.f, 1.f, kx::random::key(2));
  array y = kx::random::normal({5}, kx::float32, 0.f, 1.f, kx::random::key(3));
  array h = kx::astype(kx::random::normal({6, 5}, kx::float32, 0.f, 1.f, kx::random::key(4)), kx::float16);
  array iv = kx::arange(0, 30, 1);
  std::vector<kx::VectorFn> corpus = {
      [](const std::vector<array>& in) {  // nan / inf constants, broadcasting
        array a = kx::where(in[0] > in[1], array(INFINITY), array(NAN));
        return std::vector<array>{a, kx::isnan(a), kx::maximum(in[0], array(-INFINITY)) * in[1]};
      },
      [](const std::vector<array>& in) {  // mixed dtypes, comparisons, select
        array b = kx::astype(in[0] > in[1], kx::int32) * 3 + 1;
        return std::vector<array>{b, kx::astype(b, kx::float32) / (in[1] + 2.0f),
                                  kx::sigmoid(in[0]) - kx::tanh(in[1]) + kx::exp(in[0] * 0.5f)};
      },
      [](const std::vector<array>& in) {  // float16 chain (rounded like the CPU after each op)
        array a = in[2] * 1.5f + kx::astype(in[0], kx::float16);
        return std::vector<array>{kx::sqrt(kx::abs(a)) - a, kx::astype(a, kx::float32) * 3.0f};
      },
      [](const std::vector<array>& in) {  // integers (fallback paths must agree too)
        array i = in[3];
        return std::vector<array>{(i * i) % 7, i > 10, kx::maximum(i, array(5)) - 2};
      },
      [](const std::vector<array>& in) {  // a reduction between two fused regions
        array e = kx::exp(in[0] - 1.0f);
        return std::vector<array>{kx::log(kx::sum(e, -1, true)) * 2.0f + 1.0f};
      },
  };
  for (size_t c = 0; c < corpus.size(); ++c) {
    auto cf = kx::compile(corpus[c]);
    auto a = cf({x, y, h, iv});
    kx::set_default_device(kx::Device::cpu);
    auto b = corpus[c]({kx::copy(x), kx::copy(y), kx::copy(h), kx::copy(iv)});
    kx::set_default_device(kx::Device::gpu);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].dtype(), b[i].dtype()) << c << "/" << i;
      expect_close(a[i], b[i], a[i].dtype() == kx::float16 ? 1e-3f : 2e-5f);
    }
  }
  kx::set_default_device(kx::Device::cpu);
}

TEST(GpuFused, TrainingStepWithCapturedStateMatchesEager) {
  REQUIRE_GPU();
  kx::set_default_device(kx::Device::gpu);
  auto run = [](bool compiled) {
    kx::random::seed(5);
    kx::nn::Sequential model(kx::nn::Linear(8, 16), kx::nn::GELU(), kx::nn::Dropout(0.25f),
                             kx::nn::Linear(16, 3));
    kx::optim::AdamW opt(1e-2f);
    array x = kx::random::normal({12, 8}, kx::float32, 0.f, 1.f, kx::random::key(9));
    array y = kx::random::randint(0, 3, {12}, kx::int32, kx::random::key(10));
    auto loss_fn = [&](const array& a, const array& b) {
      return kx::nn::losses::cross_entropy(model(a), b, {.reduction = kx::nn::losses::Reduction::mean});
    };
    kx::VectorFn step = [&](const std::vector<array>& in) {
      auto [loss, grads] = kx::nn::value_and_grad(model, loss_fn)(in[0], in[1]);
      opt.update(model, grads);
      return std::vector<array>{loss};
    };
    auto& rs = kx::random::state();
    kx::VectorFn f = compiled ? kx::compile(step, {.inputs = {&model, &opt, &rs},
                                                   .outputs = {&model, &opt, &rs}})
                              : step;
    std::vector<float> losses;
    for (int i = 0; i < 5; ++i) losses.push_back(f({x, y})[0].item<float>());
    return losses;
  };
  auto eager = run(false), comp = run(true);
  for (size_t i = 0; i < eager.size(); ++i) EXPECT_NEAR(eager[i], comp[i], 1e-4f) << i;
  EXPECT_LT(comp.back(), comp.front());
  kx::set_default_device(kx::Device::cpu);
}

// Runs in a second process (spawned below) with the same KILN_CACHE_DIR: nothing compiles.
TEST(GpuFused, SecondProcessChild) {
  if (!std::getenv("KILN_FUSED_CHILD")) GTEST_SKIP() << "run by DiskCacheSecondProcessCompilesNothing";
  REQUIRE_GPU();
  kx::set_default_device(kx::Device::gpu);
  auto cg = kx::compile(gelu);
  cg(kx::ones({64})).eval();
  EXPECT_EQ(kx::gpu::fused_stats().glsl_compiles, 0);
  EXPECT_GE(kx::gpu::fused_stats().disk_hits, 1);
  kx::set_default_device(kx::Device::cpu);
}

TEST(GpuFused, DiskCacheSecondProcessCompilesNothing) {
  REQUIRE_GPU();
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kiln_cache_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string cmd = "KILN_CACHE_DIR=" + dir.string() + " KILN_FUSED_CHILD=1 " + exe +
                    " --gtest_filter=GpuFused.SecondProcessChild > /dev/null 2>&1";
  // first child fills the cache (it compiles, so its own assertion fails: ignore its status)
  std::string fill = "KILN_CACHE_DIR=" + dir.string() + " " + exe +
                     " --gtest_filter=GpuFused.GeluIsOneDispatchAndMatchesCpu > /dev/null 2>&1";
  ASSERT_EQ(std::system(fill.c_str()), 0);
  ASSERT_FALSE(fs::is_empty(dir));
  bool pipelines = false;  // the driver's VkPipelineCache is persisted next to the SPIR-V
  for (auto& e : fs::directory_iterator(dir))
    pipelines = pipelines || e.path().filename().string().rfind("pipelines-", 0) == 0;
  EXPECT_TRUE(pipelines);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "second process compiled a kernel";
  // corrupt every cache file: the next process ignores them and rebuilds
  for (auto& e : fs::directory_iterator(dir)) {
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "garbage";
  }
  EXPECT_EQ(std::system(fill.c_str()), 0) << "a corrupt cache file broke the process";
  // an unwritable cache directory only disables persistence
  std::string ro = "KILN_CACHE_DIR=/proc/kiln_no_such_dir " + exe +
                   " --gtest_filter=GpuFused.GeluIsOneDispatchAndMatchesCpu > /dev/null 2>&1";
  EXPECT_EQ(std::system(ro.c_str()), 0);
  fs::remove_all(dir);
}

// Transposes folded into Matmul flags (compile) run on the GPU kernel's transposed loads,
// with and without split K, float32 and float16.
TEST(GpuFused, TransposedMatmulMatchesCpu) {
  REQUIRE_GPU();
  for (kx::Dtype d : {kx::float32, kx::float16})
    for (auto [m, k, n] : {std::tuple{37, 20, 45}, {9, 300, 13}, {130, 70, 200}})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          kx::VectorFn f = [ta, tb](const std::vector<array>& in) {
            array p = kx::matmul(ta ? kx::transpose(in[0]) : in[0], tb ? kx::transpose(in[1]) : in[1]);
            // and (A Bᵀ)ᵀ = B Aᵀ: the product is computed swapped, never transposed
            array q = kx::transpose(kx::matmul(in[0] * 2.0f, kx::transpose(in[0])));
            return std::vector<array>{p, q};
          };
          kx::Shape sa = ta ? kx::Shape{k, m} : kx::Shape{m, k};
          kx::Shape sb = tb ? kx::Shape{n, k} : kx::Shape{k, n};
          array a = kx::astype(kx::random::uniform(sa, kx::float32, kx::random::key(m)) - 0.5f, d);
          array b = kx::astype(kx::random::uniform(sb, kx::float32, kx::random::key(n)) - 0.5f, d);
          kx::set_default_device(kx::Device::gpu);
          auto cf = kx::compile(f);
          auto got = cf({a, b});
          auto tape = kx::detail::compile_info(cf).tape;
          kx::set_default_device(kx::Device::cpu);
          EXPECT_EQ(std::count(tape.begin(), tape.end(), "Transpose"), 0);
          auto want = f({kx::copy(a), kx::copy(b)});
          SCOPED_TRACE(kx::to_string(d) + " " + std::to_string(m) + "x" + std::to_string(k) + "x" +
                       std::to_string(n) + (ta ? " ta" : "") + (tb ? " tb" : ""));
          for (int i = 0; i < 2; ++i) expect_close(got[i], want[i], d == kx::float16 ? 2e-3f : 2e-5f);
        }
}

// Independent elementwise sinks (what an optimizer update is) run as ONE dispatch: parts of
// different shapes and dtypes, literal and device scalars; a broadcasting sink stays apart.
TEST(GpuFused, IndependentUpdatesAreOneDispatch) {
  REQUIRE_GPU();
  kx::VectorFn f = [](const std::vector<array>& in) {
    array a = in[0] * 2.0f + 1.0f;                        // (5, 7)
    array b = kx::exp(in[1]) * in[5];                     // (300,), times a device scalar
    array c = kx::astype(in[2], kx::float16) * 1.5f;      // float16
    array d = in[3] + 1;                                  // int32 scalar (a step counter)
    array e = in[0] + in[4];                              // broadcast (7,) over (5, 7)
    array h = kx::tanh(kx::sum(in[1]) * in[1]);           // a sink after a reduction
    return std::vector<array>{a, b, c, d, e, h};
  };
  array x = kx::random::normal({5, 7}, kx::float32, 0.f, 1.f, kx::random::key(1));
  array y = kx::random::normal({300}, kx::float32, 0.f, 0.1f, kx::random::key(2));
  array z = kx::random::normal({2, 3}, kx::float32, 0.f, 1.f, kx::random::key(3));
  array s = kx::array(7);
  array w = kx::random::normal({7}, kx::float32, 0.f, 1.f, kx::random::key(4));
  kx::set_default_device(kx::Device::gpu);
  array k = kx::multiply(kx::array(0.5f), kx::array(1.f));  // a scalar produced on the GPU
  auto cf = kx::compile(f);
  auto got = cf({x, y, z, s, w, k});
  auto tape = kx::detail::compile_info(cf).tape;
  kx::eval(got);
  kx::gpu::detail::reset_kernel_stats();
  got = cf({x, y, z, s, w, k});
  kx::async_eval(got);  // (a waiting eval adds a read-back dispatch on discrete GPUs)
  kx::gpu::synchronize();
  auto st = kx::gpu::detail::kernel_stats();
  kx::set_default_device(kx::Device::cpu);
  auto want = f({kx::copy(x), kx::copy(y), kx::copy(z), kx::copy(s), kx::copy(w), kx::copy(k)});
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].dtype(), want[i].dtype()) << i;
    expect_close(got[i], want[i], got[i].dtype() == kx::float16 ? 1e-3f : 2e-5f);
  }
  int batches = 0;
  for (auto& t : tape) batches += t.rfind("CompiledBatch(", 0) == 0;
  EXPECT_EQ(batches, 1);
  // a + b + c + d + h in one dispatch, e alone, the sum: 3 (+ input/output copies of replay)
  EXPECT_EQ(st.dispatches - 2 * st.replays, 3u);
  EXPECT_EQ(st.fallbacks, 0u);
}
