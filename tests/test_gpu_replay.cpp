// Replay of compiled steps on the GPU (gpu/replay.cpp): a compiled step called again with the
// same signature re-executes its recorded commands; results equal eager steps, results of
// earlier steps are never overwritten, steps queue without host reads, replay is not used
// where it is not valid, and the dispatch counts of the seeds' linear-model step and of an
// MLP step are pinned so they cannot silently grow.
#include <gtest/gtest.h>
#include <kiln/compile/compile_info.h>
#include <kiln/gpu/stats.h>
#include <kiln/kiln.h>
#include <kiln/linalg/linalg.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optimizers.h>

#include <cmath>
#include <memory>

#include "gpu_test_util.h"  // REQUIRE_GPU

namespace kx = kiln;
namespace nn = kiln::nn;
namespace optim = kiln::optim;
using kx::array;

namespace {

struct OnGpu {
  OnGpu() { kx::set_default_device(kx::Device::gpu); }
  ~OnGpu() { kx::set_default_device(kx::Device::cpu); }
};

kx::gpu::detail::KernelStats stats() { return kx::gpu::detail::kernel_stats(); }

// The seeds' step: Linear(10, 1) on 4x10, binary cross-entropy, SGD(0.1, momentum 0.8).
struct LinearStep {
  nn::Linear model{10, 1};
  optim::SGD opt{0.1f, 0.8f};
  array x, y;
  std::function<array(const array&, const array&)> step;
  explicit LinearStep(bool compiled) {
    kx::random::seed(3);
    model = nn::Linear(10, 1);
    x = kx::random::uniform({4, 10});
    y = array({0.f, 1.f, 0.f, 1.f});
    auto fn = [this](const array& a, const array& b) {
      auto loss_fn = [](nn::Linear& m, const array& xx, const array& yy) {
        return nn::losses::binary_cross_entropy(kx::squeeze(m(xx)), yy);
      };
      auto [loss, grads] = nn::value_and_grad(model, loss_fn)(model, a, b);
      opt.update(model, grads);
      return loss;
    };
    step = fn;
    if (compiled) step = kx::compile(fn, {.inputs = {&model, &opt}, .outputs = {&model, &opt}});
  }
};

// MLP with dropout (RNG state captured) and AdamW.
struct MlpStep {
  std::unique_ptr<nn::Sequential> model;
  optim::AdamW opt{1e-2f};
  array x, y;
  kx::VectorFn step;
  MlpStep(bool compiled, int batch = 12) {
    kx::random::seed(5);
    model = std::make_unique<nn::Sequential>(nn::Linear(8, 16), nn::GELU(), nn::Dropout(0.25f),
                                             nn::Linear(16, 3));
    x = kx::random::normal({batch, 8}, kx::float32, 0.f, 1.f, kx::random::key(9));
    y = kx::random::randint(0, 3, {batch}, kx::int32, kx::random::key(10));
    kx::VectorFn fn = [this](const std::vector<array>& in) {
      auto loss_fn = [this](const array& a, const array& b) {
        return nn::losses::cross_entropy((*model)(a), b,
                                         {.reduction = nn::losses::Reduction::mean});
      };
      auto [loss, grads] = nn::value_and_grad(*model, loss_fn)(in[0], in[1]);
      opt.update(*model, grads);
      return std::vector<array>{loss};
    };
    auto& rs = kx::random::state();
    step = compiled ? kx::compile(fn, {.inputs = {model.get(), &opt, &rs},
                                       .outputs = {model.get(), &opt, &rs}})
                    : fn;
  }
};

void expect_near(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol * (1 + std::fabs(b[i]))) << i;
}

}  // namespace

TEST(GpuReplay, LinearStepEqualsEagerAndReplays) {
  REQUIRE_GPU();
  OnGpu gpu;
  LinearStep eager(false), comp(true);
  kx::gpu::detail::reset_kernel_stats();
  std::vector<float> le, lc;
  for (int i = 0; i < 8; ++i) {
    le.push_back(eager.step(eager.x, eager.y).item<float>());
    lc.push_back(comp.step(comp.x, comp.y).item<float>());
  }
  expect_near(lc, le, 1e-5f);
  expect_near(comp.model.weight().to_vector<float>(), eager.model.weight().to_vector<float>(),
              1e-5f);
  auto s = stats();
  EXPECT_EQ(s.recordings, 1u);  // recorded on the entry's second call
  EXPECT_GE(s.replays, 6u);     // calls 2..8 (the first traces, momentum buffers are new)
  EXPECT_EQ(s.replay_aborts, 0u);
}

TEST(GpuReplay, EarlierResultsAreNotOverwrittenAndStepsQueue) {
  REQUIRE_GPU();
  OnGpu gpu;
  // Each run seeds the global RNG (dropout) itself: eager and compiled runs are sequential.
  struct Run {
    std::vector<float> losses;
    std::vector<std::vector<float>> params;
    kx::gpu::detail::KernelStats queued;
  };
  auto run = [](bool compiled) {
    MlpStep m(compiled);
    std::vector<array> keep;
    for (int i = 0; i < 3; ++i) {  // trace (twice: the moments appear) and record
      keep.push_back(m.step({m.x, m.y})[0]);
      keep.back().eval();
    }
    kx::gpu::detail::reset_kernel_stats();
    for (int i = 0; i < 10; ++i) {  // queued: nothing read on the host
      keep.push_back(m.step({m.x, m.y})[0]);
      std::vector<array> all = m.model->state_arrays();
      all.push_back(keep.back());
      kx::async_eval(all);
    }
    Run r;
    r.queued = stats();
    for (auto& a : keep) r.losses.push_back(a.item<float>());
    for (auto& p : m.model->state_arrays()) r.params.push_back(p.to_vector<float>());
    return r;
  };
  Run e = run(false), c = run(true);
  EXPECT_EQ(c.queued.downloads, 0u);
  EXPECT_EQ(c.queued.replays, 10u);
  EXPECT_EQ(c.queued.recordings, 0u);
  expect_near(c.losses, e.losses, 1e-4f);
  ASSERT_EQ(c.params.size(), e.params.size());
  for (size_t i = 0; i < e.params.size(); ++i) expect_near(c.params[i], e.params[i], 1e-4f);
}

TEST(GpuReplay, NotUsedWhenNotValid) {
  REQUIRE_GPU();
  OnGpu gpu;
  auto f = [](const std::vector<array>& in) {
    array h = kx::tanh(kx::matmul(in[0], in[1]));
    return std::vector<array>{kx::sum(h * h, -1), h, in[0], array(2.5f)};
  };
  auto cf = kx::compile(f);
  auto check = [&](const array& a, const array& b) {
    auto got = cf({a, b});
    kx::set_default_device(kx::Device::cpu);
    auto want = f({kx::copy(a), kx::copy(b)});
    kx::set_default_device(kx::Device::gpu);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].shape(), want[i].shape()) << i;
      expect_near(got[i].to_vector<float>(), want[i].to_vector<float>(), 1e-5f);
    }
  };
  array a = kx::random::normal({5, 7}, kx::float32, 0.f, 1.f, kx::random::key(1));
  array b = kx::random::normal({7, 3}, kx::float32, 0.f, 1.f, kx::random::key(2));
  kx::gpu::detail::reset_kernel_stats();
  check(a, b);  // trace
  check(a, b);  // record + run
  check(a * 2.f, b);
  EXPECT_EQ(stats().recordings, 1u);
  EXPECT_EQ(stats().replays, 2u);
  // changed shapes: a new entry, traced and run normally first, then recorded on its own
  array a2 = kx::random::normal({9, 7}, kx::float32, 0.f, 1.f, kx::random::key(3));
  check(a2, b);
  EXPECT_EQ(stats().replays, 2u);
  check(a2, b);
  EXPECT_EQ(stats().recordings, 2u);
  EXPECT_EQ(stats().replays, 3u);
  check(a, b);  // the first entry's recording still serves its shapes
  EXPECT_EQ(stats().replays, 4u);
  // another device: the CPU entry never replays
  kx::set_default_device(kx::Device::cpu);
  auto c1 = cf({kx::copy(a), kx::copy(b)});
  auto c2 = cf({kx::copy(a), kx::copy(b)});
  expect_near(c2[1].to_vector<float>(), c1[1].to_vector<float>(), 0.f);
  EXPECT_EQ(kx::detail::compile_info(cf).replay, "off");  // the CPU entry
  kx::set_default_device(kx::Device::gpu);
  EXPECT_EQ(stats().replays, 4u);
}

TEST(GpuReplay, CapturedStateStructureChangeTracesAgain) {
  REQUIRE_GPU();
  OnGpu gpu;
  // The optimizer's moments appear after its first update: entry 1 (no moments) is called
  // once and never recorded; entry 2 is recorded on its second call.
  std::vector<float> le;
  {
    MlpStep eager(false);
    for (int i = 0; i < 4; ++i) le.push_back(eager.step({eager.x, eager.y})[0].item<float>());
  }
  MlpStep comp(true);
  kx::gpu::detail::reset_kernel_stats();
  std::vector<float> lc;
  for (int i = 0; i < 4; ++i) lc.push_back(comp.step({comp.x, comp.y})[0].item<float>());
  expect_near(lc, le, 1e-4f);
  EXPECT_EQ(kx::detail::compile_info(comp.step).traces, 2);
  EXPECT_EQ(stats().recordings, 1u);
  EXPECT_EQ(stats().replays, 2u);  // calls 3 and 4
  // a different batch size (new shapes): traced, and not replayed on its first call
  comp.x = kx::random::normal({20, 8}, kx::float32, 0.f, 1.f, kx::random::key(11));
  comp.y = kx::random::randint(0, 3, {20}, kx::int32, kx::random::key(12));
  auto before = stats().replays;
  float l = comp.step({comp.x, comp.y})[0].item<float>();
  EXPECT_TRUE(std::isfinite(l));
  EXPECT_EQ(stats().replays, before);
  EXPECT_EQ(kx::detail::compile_info(comp.step).traces, 3);
}

TEST(GpuReplay, HostWorkInsideTheStepFallsBackOnce) {
  REQUIRE_GPU();
  OnGpu gpu;
  // a small qr runs on the CPU (a counted fallback): the step cannot be recorded; it runs
  // node by node every time.
  auto f = [](const array& a) {
    auto [q, r] = kx::linalg::qr(kx::exp(a * 0.5f));
    return kx::sum(q * 2.0f) + kx::sum(r);
  };
  auto cf = kx::compile(
      kx::VectorFn([&](const std::vector<array>& in) { return std::vector<array>{f(in[0])}; }));
  array a = kx::random::normal({6, 4}, kx::float32, 0.f, 1.f, kx::random::key(4));
  kx::gpu::detail::reset_kernel_stats();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(cf({a})[0].item<float>(), f(a).item<float>(), 1e-4f);
  EXPECT_EQ(stats().replay_aborts, 1u);
  EXPECT_EQ(stats().replays, 0u);
  auto info = kx::detail::compile_info(cf);
  EXPECT_EQ(info.replay.rfind("not replayable: ", 0), 0u) << info.replay;
  EXPECT_NE(info.replay.find("QR runs on the CPU"), std::string::npos) << info.replay;
}

// The dispatch counts of the two reference steps (docs/gpu.md, "Replay"). A change in
// fusion or in a kernel that adds dispatches fails here and must update the docs.
TEST(GpuReplay, DispatchCountsOfReferenceSteps) {
  REQUIRE_GPU();
  OnGpu gpu;
  LinearStep lin(true);
  for (int i = 0; i < 3; ++i) lin.step(lin.x, lin.y).eval();
  // async_eval: a waiting eval would add the loss read-back dispatch on discrete GPUs
  kx::gpu::detail::reset_kernel_stats();
  kx::async_eval(lin.step(lin.x, lin.y));
  kx::gpu::synchronize();
  auto s = stats();
  EXPECT_EQ(s.replays, 1u);
  EXPECT_EQ(s.submits, 1u);
  // 8 recorded (the weight, bias, momentum, step and loss updates are one batched dispatch)
  // + 2 copy_many (inputs in, results out)
  EXPECT_EQ(s.dispatches, 10u) << "linear-model SGD step";

  MlpStep mlp(true);
  for (int i = 0; i < 3; ++i) mlp.step({mlp.x, mlp.y})[0].eval();
  kx::gpu::detail::reset_kernel_stats();
  kx::async_eval(mlp.step({mlp.x, mlp.y})[0]);
  kx::gpu::synchronize();
  s = stats();
  EXPECT_EQ(s.replays, 1u);
  EXPECT_EQ(s.submits, 1u);
  EXPECT_EQ(s.dispatches, 40u) << "MLP + dropout + AdamW step (38 recorded + 2 copy_many)";
  EXPECT_EQ(kx::detail::compile_info(mlp.step).replay, "recorded");
}

// Outputs that are inputs, duplicates, constants, empty arrays, bool and int64 results, and an
// input passed twice: replayed calls return what the function returns, call after call.
TEST(GpuReplay, OddOutputsAndInputs) {
  REQUIRE_GPU();
  OnGpu gpu;
  auto f = [](const std::vector<array>& in) {
    array s = kx::exp(in[0]) + in[1];
    array e = kx::sum(in[2], 0) * 2.0f;  // (0, 3) → (3,) of zeros
    array empty = in[2] + 1.0f;          // (0, 3)
    array b = s > 1.5f;
    array i = kx::astype(kx::floor(s * 10.0f), kx::int32) + kx::astype(in[1], kx::int32);
    return std::vector<array>{
        in[0], s, s, array(7.0f), e, empty, b, i, kx::matmul(s, kx::transpose(s))};
  };
  auto cf = kx::compile(f);
  kx::gpu::detail::reset_kernel_stats();
  for (int call = 0; call < 4; ++call) {
    array x = kx::random::normal({4, 3}, kx::float32, 0.f, 1.f, kx::random::key(call));
    array z = kx::zeros({0, 3});
    auto got = cf({x, x, z});  // the same array passed twice
    kx::set_default_device(kx::Device::cpu);
    auto want = f({kx::copy(x), kx::copy(x), kx::copy(z)});
    kx::set_default_device(kx::Device::gpu);
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size(); ++k) {
      ASSERT_EQ(got[k].shape(), want[k].shape()) << k;
      ASSERT_EQ(got[k].dtype(), want[k].dtype()) << k;
      expect_near(kx::astype(got[k], kx::float32).to_vector<float>(),
                  kx::astype(want[k], kx::float32).to_vector<float>(), 1e-5f);
    }
    EXPECT_TRUE(got[0].is_same(x)) << "an input returned as is stays the same array";
  }
  EXPECT_EQ(stats().recordings, 1u);
  EXPECT_EQ(stats().replays, 3u);
}

// A custom GLSL kernel (reading its shape) inside a compiled step: recorded and replayed like
// the built-in kernels (its shape table is uploaded once into the recording's memory).
TEST(GpuReplay, CustomKernelInsideReplayedStep) {
  REQUIRE_GPU();
  OnGpu gpu;
  auto scale_rows = kx::gpu::kernel("scale_rows", {"inp"}, {"out"}, R"(
    uint i = thread_position_in_grid.x;
    if (i < uint(inp_shape[0] * inp_shape[1])) out_st(i, inp_ld(i) * float(1 + int(i) / inp_shape[1]));
  )");
  auto f = [&](const std::vector<array>& in) {
    array a = kx::exp(in[0]) + 1.0f;
    array b = scale_rows({.inputs = {a},
                          .template_args = {},
                          .grid = {static_cast<int>(a.size()), 1, 1},
                          .threadgroup = {64, 1, 1},
                          .output_shapes = {a.shape()},
                          .output_dtypes = {a.dtype()}})[0];
    return std::vector<array>{kx::sum(b * 2.0f, 1)};
  };
  auto cf = kx::compile(f);
  kx::gpu::detail::reset_kernel_stats();
  for (int call = 0; call < 3; ++call) {
    array x = kx::random::normal({6, 5}, kx::float32, 0.f, 1.f, kx::random::key(call));
    auto got = cf({x})[0].to_vector<float>();
    auto ex = kx::exp(kx::copy(x, kx::Device::cpu), kx::Device::cpu).to_vector<float>();
    for (int r = 0; r < 6; ++r) {
      float want = 0;
      for (int c = 0; c < 5; ++c) want += (ex[r * 5 + c] + 1.0f) * float(r + 1) * 2.0f;
      EXPECT_NEAR(got[r], want, 1e-4f * want) << call << " row " << r;
    }
  }
  EXPECT_EQ(stats().replay_aborts, 0u);
  EXPECT_EQ(stats().recordings, 1u);
  EXPECT_EQ(stats().replays, 2u);
}
