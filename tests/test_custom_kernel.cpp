// Custom GLSL kernels (kiln::gpu::kernel) and bucket_pad: the seeds' examples in C++
// (a kernel inside compile between fused regions, recompiling per shape, pad-to-bucket reusing
// compiled graphs), results against CPU references, template defines, init_value, atomics,
// shape accessors, errors (with the user's line numbers), the CPU fallback and a user vjp.
// GPU parts skip without a Vulkan device; the CPU-fallback parts run in every build.
#include <gtest/gtest.h>
#include <kiln/compile/bucket.h>
#include <kiln/compile/compile_info.h>
#include <kiln/gpu/custom_kernel.h>
#include <kiln/kiln.h>

#include <string>
#include <vector>

#include "gpu_test_util.h"

namespace kg = kiln::gpu;
using kx::array;
using Vec = std::vector<array>;

namespace {

// Restores the default device after a test that changes it.
class CustomKernel : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = kx::default_device(); }
  void TearDown() override { kx::set_default_device(saved_); }

 private:
  kx::Device saved_ = kx::Device::cpu;
};

// Skips the test without a Vulkan device; otherwise makes the GPU the default device.
#define USE_GPU()                                                               \
  do {                                                                          \
    if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device available"; \
    kx::set_default_device(kx::Device::gpu);                                    \
  } while (0)

::testing::AssertionResult close(array got, array want, float rtol = 1e-5f, float atol = 1e-5f) {
  return gt::same(kx::astype(want, got.dtype(), kx::Device::cpu), got, rtol, atol);
}

// MLX's metal_kernel example, in GLSL.
const char* kExpSource = R"(
  uint elem = thread_position_in_grid.x;
  T tmp = inp[elem];
  out[elem] = exp(tmp);
)";

// RMSNorm: one workgroup per row, a shared-memory tree reduction (no subgroup-size
// assumption: lavapipe's subgroups have 8 lanes).
const char* kRmsHeader = "shared float partial[TG];\n";
const char* kRmsSource = R"(
  uint row = threadgroup_position_in_grid.x;
  uint lid = thread_position_in_threadgroup.x;
  uint D = uint(x_shape[1]);
  float acc = 0.0;
  for (uint j = lid; j < D; j += TG) {
    float v = x_ld(row * D + j);
    acc += v * v;
  }
  partial[lid] = acc;
  barrier();
  for (uint s = TG / 2; s > 0; s >>= 1) {
    if (lid < s) partial[lid] += partial[lid + s];
    barrier();
  }
  float inv = inversesqrt(partial[0] / float(D) + eps);
  for (uint j = lid; j < D; j += TG)
    out_st(row * D + j, T(x_ld(row * D + j) * inv * w_ld(j)));
)";

array rms_reference(const array& x, const array& w, const array& eps) {
  return x * kx::rsqrt(kx::mean(kx::square(x), -1, true) + eps) * w;
}

kg::KernelFn rms_kernel(kg::KernelOptions opts = {}) {
  opts.header = kRmsHeader;
  return kg::kernel("rmsnorm", {"x", "w", "eps"}, {"out"}, kRmsSource, std::move(opts));
}

array rms_call(const kg::KernelFn& k, const array& x, const array& w, const array& eps,
               int tg = 32) {
  return k({.inputs = {x, w, eps},
            .template_args = {{"T", x.dtype()}, {"TG", tg}},
            .grid = {x.shape(0) * tg, 1, 1},
            .threadgroup = {tg, 1, 1},
            .output_shapes = {x.shape()},
            .output_dtypes = {x.dtype()}})[0];
}

}  // namespace

// ---------------------------------------------------------------- basics
TEST_F(CustomKernel, ElementwiseMatchesCpu) {
  USE_GPU();
  auto k = kg::kernel("myexp", {"inp"}, {"out"}, kExpSource);
  array a = gt::rand({4, 16}, kx::float32);
  array out = k({.inputs = {a},
                 .template_args = {{"T", kx::float32}},
                 .grid = {static_cast<int>(a.size()), 1, 1},
                 .threadgroup = {256, 1, 1},
                 .output_shapes = {a.shape()},
                 .output_dtypes = {a.dtype()}})[0];
  EXPECT_EQ(out.shape(), a.shape());
  EXPECT_TRUE(out.has_primitive());  // lazy until evaluated
  EXPECT_EQ(out.primitive().name(), "CustomKernel");
  EXPECT_TRUE(close(out, kx::exp(a, kx::Device::cpu), 1e-5f, 1e-6f));
}

TEST_F(CustomKernel, TemplateDefinesAndHalfTypes) {
  USE_GPU();
  // T is the compute type (float for float16), T_dtype the storage suffix, ints and bools
  // are plain defines.
  auto k = kg::kernel("scale", {"inp"}, {"out"}, R"(
    uint i = thread_position_in_grid.x;
    T v = CAT(ld_, T_dtype)(inp_buf, i);
    if (NEGATE) v = -v;
  #if SCALE != 3
    #error SCALE is an int define usable by the preprocessor
  #endif
    out_st(i, v * T(SCALE));
  )");
  for (bool negate : {false, true}) {
    for (kx::Dtype d : {kx::float32, kx::float16, kx::bfloat16, kx::int32}) {
      array a = gt::rand({37}, d, -8.f, 8.f);
      array out = k({.inputs = {a},
                     .template_args = {{"T", d}, {"SCALE", 3}, {"NEGATE", negate}},
                     .grid = {37},
                     .threadgroup = {16},
                     .output_shapes = {{37}},
                     .output_dtypes = {d}})[0];
      array want = a * kx::array(negate ? -3 : 3, d);
      EXPECT_TRUE(close(out, want)) << kx::to_string(d) << " negate " << negate;
    }
  }
}

TEST_F(CustomKernel, ShapeStridesAndScalarInputs) {
  USE_GPU();
  // A transpose through the shape/stride accessors plus a 0-d input read as a value.
  auto k = kg::kernel("transpose_add", {"a", "c"}, {"out"}, R"(
    uint i = thread_position_in_grid.x, j = thread_position_in_grid.y;
    out[j * uint(a_shape[0]) + i] = a[i * uint(a_strides[0]) + j * uint(a_strides[1])] + c;
  )");
  int64_t before = kg::detail::kernel_compiles();
  for (auto shape : {kx::Shape{3, 5}, kx::Shape{8, 2}, kx::Shape{1, 7}}) {
    array a = gt::rand(shape, kx::float32);
    array c(0.5f);
    array out = k({.inputs = {a, c},
                   .grid = {shape[0], shape[1], 1},
                   .threadgroup = {4, 4, 1},
                   .output_shapes = {{shape[1], shape[0]}},
                   .output_dtypes = {kx::float32}})[0];
    EXPECT_TRUE(close(out, kx::transpose(a, kx::Device::cpu) + 0.5f));
  }
  // shapes are passed at dispatch: one pipeline serves every shape of the same ndim
  EXPECT_EQ(kg::detail::kernel_compiles() - before, 1);
}

TEST_F(CustomKernel, InitValueAndMultipleOutputs) {
  USE_GPU();
  // Writes only even elements of `lo`; `hi` gets every element. Odd elements keep init_value.
  auto k = kg::kernel("two", {"x"}, {"lo", "hi"}, R"(
    uint i = thread_position_in_grid.x;
    if (i % 2u == 0u) lo[i] = x[i];
    hi[i] = x[i] * 2;
  )");
  array x({1, 2, 3, 4, 5}, kx::int32);
  auto outs = k({.inputs = {x},
                 .grid = {5},
                 .threadgroup = {8},
                 .output_shapes = {{5}, {5}},
                 .output_dtypes = {kx::int32, kx::int32},
                 .init_value = -7.f});
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].to_vector<int>(), (std::vector<int>{1, -7, 3, -7, 5}));
  EXPECT_EQ(outs[1].to_vector<int>(), (std::vector<int>{2, 4, 6, 8, 10}));
  // every dtype's fill pattern (1, 2, 4 and 8 bytes)
  auto none = kg::kernel("none", {}, {"o"}, "  // writes nothing\n");
  for (kx::Dtype d : gt::kAll) {
    array o =
        none({.grid = {1}, .output_shapes = {{3}}, .output_dtypes = {d}, .init_value = 2.5f})[0];
    EXPECT_TRUE(close(o, kx::full({3}, array(2.5f), d, kx::Device::cpu))) << kx::to_string(d);
  }
  array big = none(
      {.grid = {1}, .output_shapes = {{2}}, .output_dtypes = {kx::int64}, .init_value = -3.f})[0];
  EXPECT_EQ(big.to_vector<int64_t>(), (std::vector<int64_t>{-3, -3}));
}

TEST_F(CustomKernel, EmptyGridsAndHeaderExtensions) {
  USE_GPU();
  // A header may enable GLSL extensions; an empty grid dispatches nothing but still gives
  // (initialized) outputs; empty outputs are fine.
  auto k = kg::kernel("unrolled", {"a"}, {"o", "e"}, R"(
    uint i = thread_position_in_grid.x;
    float acc = 0.0;
    [[unroll]] for (int j = 0; j < 4; ++j) acc += a[4 * i + j];
    o[i] = acc;
  )",
                      {.header = "#extension GL_EXT_control_flow_attributes : enable\n"});
  array a = kx::reshape(kx::arange(0.0, 12.0, 1.0, kx::float32), {3, 4});
  auto outs = k({.inputs = {a},
                 .grid = {3},
                 .threadgroup = {4},
                 .output_shapes = {{3}, {0}},
                 .output_dtypes = {kx::float32, kx::int32}});
  EXPECT_EQ(outs[0].to_vector<float>(), (std::vector<float>{6, 22, 38}));
  EXPECT_EQ(outs[1].size(), 0u);
  outs[1].eval();
  array none = k({.inputs = {a},
                  .grid = {0},
                  .output_shapes = {{3}, {0}},
                  .output_dtypes = {kx::float32, kx::int32},
                  .init_value = 1.f})[0];
  EXPECT_EQ(none.to_vector<float>(), (std::vector<float>{1, 1, 1}));
}

TEST_F(CustomKernel, AtomicOutputsHistogram) {
  USE_GPU();
  auto k = kg::kernel("histogram", {"v"}, {"counts"}, R"(
    uint i = thread_position_in_grid.x;
    atomicAdd(counts[uint(v[i])], 1u);
  )",
                      {.atomic_outputs = true});
  std::vector<int> vals;
  std::vector<uint32_t> want(4, 0);
  for (int i = 0; i < 100; ++i) {
    vals.push_back((i * 7) % 4);
    want[(i * 7) % 4]++;
  }
  array v(vals, {100}, kx::int32);
  array counts = k({.inputs = {v},
                    .grid = {100},
                    .threadgroup = {32},
                    .output_shapes = {{4}},
                    .output_dtypes = {kx::uint32},
                    .init_value = 0.f})[0];
  EXPECT_EQ(counts.to_vector<uint32_t>(), want);
  // float atomics are not enabled: a clear error, not a bad shader
  EXPECT_THROW(k({.inputs = {v},
                  .grid = {100},
                  .output_shapes = {{4}},
                  .output_dtypes = {kx::float32},
                  .init_value = 0.f}),
               std::invalid_argument);
}

TEST_F(CustomKernel, VerbosePrintsTheGeneratedSource) {
  USE_GPU();
  auto k = kg::kernel("myexp", {"inp"}, {"out"}, kExpSource);
  kg::KernelCall call{.inputs = {array({1.f, 2.f})},
                      .template_args = {{"T", kx::float32}},
                      .grid = {2},
                      .output_shapes = {{2}},
                      .output_dtypes = {kx::float32},
                      .verbose = true};
  ::testing::internal::CaptureStdout();
  array out = k(call)[0];
  std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(printed.find("#version 460"), std::string::npos);
  EXPECT_NE(printed.find("#define T float"), std::string::npos);
  EXPECT_NE(printed.find("= exp(tmp);"), std::string::npos);
  EXPECT_NE(printed.find("// out: float32"), std::string::npos) << printed;
  EXPECT_NE(printed.find(k.source(call)), std::string::npos);
  EXPECT_TRUE(close(out, kx::exp(array({1.f, 2.f}), kx::Device::cpu)));
}

// ---------------------------------------------------------------- the seeds' examples
TEST_F(CustomKernel, SeedForwardInsideCompile) {
  USE_GPU();
  auto k = rms_kernel();
  // fused ops before, the opaque kernel, fused ops after
  kx::VectorFn forward = [&](const Vec& in) {
    array x = in[0] + 0.1f;
    x = kx::maximum(x, array(0.f));
    array out = rms_call(k, x, in[1], in[2]);
    return Vec{out * 2.0f - 0.5f};
  };
  auto compiled = kx::compile(forward);
  array x = gt::rand({4, 48}, kx::float32, -1.f, 1.f, 3);
  array w = gt::rand({48}, kx::float32, 0.5f, 1.5f, 4);
  array eps(1e-5f);
  array got = compiled({x, w, eps})[0];
  auto info = kx::detail::compile_info(compiled);
  // three segments: fused pre-ops, the kernel, fused post-ops
  ASSERT_EQ(info.tape.size(), 3u);
  EXPECT_EQ(info.tape[0].rfind("Compiled", 0), 0u) << info.tape[0];
  EXPECT_EQ(info.tape[1], "CustomKernel");
  EXPECT_EQ(info.tape[2].rfind("Compiled", 0), 0u) << info.tape[2];
  {
    auto cpu = kx::Device::cpu;
    array xr = kx::maximum(kx::add(x, array(0.1f), cpu), array(0.f), cpu);
    array want = rms_reference(xr, w, eps) * 2.0f - 0.5f;
    EXPECT_TRUE(close(got, want, 1e-5f, 1e-5f));
  }
  // replay: same graph, new values
  array x2 = gt::rand({4, 48}, kx::float32, -1.f, 1.f, 9);
  array got2 = compiled({x2, w, eps})[0];
  EXPECT_EQ(kx::detail::compile_info(compiled).traces, 1);
  array xr2 = kx::maximum(x2 + 0.1f, array(0.f));
  EXPECT_TRUE(close(got2, rms_reference(xr2, w, eps) * 2.0f - 0.5f, 1e-5f, 1e-5f));
}

TEST_F(CustomKernel, SeedForwardOnTheCpuThroughTheFallback) {
  // Every build: on the CPU device the same compiled function runs the kernel's cpu_fallback,
  // and the kernel is still one opaque node between the fused regions.
  kx::set_default_device(kx::Device::cpu);
  auto k = rms_kernel(
      {.cpu_fallback = [](const Vec& in) { return Vec{rms_reference(in[0], in[1], in[2])}; }});
  auto forward = kx::compile(kx::VectorFn([&](const Vec& in) {
    array x = kx::maximum(in[0] + 0.1f, array(0.f));
    return Vec{rms_call(k, x, in[1], in[2]) * 2.0f - 0.5f};
  }));
  array x = gt::rand({3, 20}, kx::float32, -1.f, 1.f, 7);
  array w = gt::rand({20}, kx::float32, 0.5f, 1.5f, 8);
  array eps(1e-5f);
  array got = forward({x, w, eps})[0];
  auto tape = kx::detail::compile_info(forward).tape;
  ASSERT_EQ(tape.size(), 3u);
  EXPECT_EQ(tape[1], "CustomKernel");
  array want = rms_reference(kx::maximum(x + 0.1f, array(0.f)), w, eps) * 2.0f - 0.5f;
  EXPECT_TRUE(close(got, want, 1e-6f, 1e-6f));
}

TEST_F(CustomKernel, ShapeSpecializationRecompilesPerN) {
  USE_GPU();
  auto k = rms_kernel();
  auto norm = kx::compile(
      kx::VectorFn([&](const Vec& in) { return Vec{rms_call(k, in[0], in[1], in[2])}; }));
  array w = gt::rand({64}, kx::float32, 0.5f, 1.5f, 2);
  array eps(1e-5f);
  int n_traces = 0;
  for (int n : {1, 8, 16, 8, 1}) {
    array x = gt::rand({n, 64}, kx::float32, -1.f, 1.f, n);
    array got = norm({x, w, eps})[0];
    EXPECT_TRUE(close(got, rms_reference(x, w, eps), 1e-5f, 1e-5f)) << "N=" << n;
    n_traces = static_cast<int>(kx::detail::compile_info(norm).traces);
  }
  EXPECT_EQ(n_traces, 3);  // one trace per distinct N, none for repeats
}

TEST_F(CustomKernel, BucketPaddingReusesCompiledGraphs) {
  USE_GPU();
  auto k = rms_kernel();
  auto norm_bucketed = kx::compile(
      kx::VectorFn([&](const Vec& in) { return Vec{rms_call(k, in[0], in[1], in[2])}; }));
  const std::vector<int> buckets = {4, 8, 16};
  array w = gt::rand({32}, kx::float32, 0.5f, 1.5f, 5);
  array eps(1e-5f);
  for (int n : {3, 5, 8, 2, 13, 7, 16, 1}) {
    array x = gt::rand({n, 32}, kx::float32, -1.f, 1.f, 100 + n);
    auto [padded, orig] = kx::bucket_pad(x, 0, buckets);
    EXPECT_EQ(orig, n);
    EXPECT_EQ(padded.shape(0), kx::bucket_size(n, buckets));
    array out = norm_bucketed({padded, w, eps})[0];
    out = kx::slice(out, {0, 0}, {orig, 32});
    EXPECT_TRUE(close(out, rms_reference(x, w, eps), 1e-5f, 1e-5f)) << "N=" << n;
  }
  // eight lengths, three buckets, three traces
  EXPECT_EQ(kx::detail::compile_info(norm_bucketed).traces, 3);
}

TEST_F(CustomKernel, EquivalentCallsMergeInCompile) {
  USE_GPU();
  auto k = kg::kernel("myexp", {"inp"}, {"out"}, kExpSource);
  auto call = [&](const array& a) {
    return k({.inputs = {a},
              .template_args = {{"T", kx::float32}},
              .grid = {static_cast<int>(a.size())},
              .threadgroup = {32},
              .output_shapes = {a.shape()},
              .output_dtypes = {kx::float32}})[0];
  };
  auto f = kx::compile(kx::VectorFn([&](const Vec& in) { return Vec{call(in[0]) + call(in[0])}; }));
  array a = gt::rand({10}, kx::float32);
  array got = f({a})[0];
  auto tape = kx::detail::compile_info(f).tape;
  EXPECT_EQ(std::count(tape.begin(), tape.end(), "CustomKernel"), 1);
  EXPECT_TRUE(close(got, kx::exp(a, kx::Device::cpu) * 2.f, 1e-5f, 1e-6f));
}

// ---------------------------------------------------------------- errors
TEST_F(CustomKernel, SyntaxErrorNamesTheUsersLine) {
  USE_GPU();
  auto k = kg::kernel("broken", {"inp"}, {"out"},
                      "  uint i = thread_position_in_grid.x;\n"
                      "  float v = inp[i];\n"
                      "  out[i] = v +* 2.0;\n");
  kg::KernelCall call{.inputs = {array({1.f})},
                      .grid = {1},
                      .output_shapes = {{1}},
                      .output_dtypes = {kx::float32}};
  try {
    k(call);
    FAIL() << "expected a compile error";
  } catch (const kg::KernelCompileError& e) {
    EXPECT_EQ(e.line(), 3) << e.what();
    std::string msg = e.what();
    EXPECT_NE(msg.find("broken"), std::string::npos) << msg;
    EXPECT_NE(msg.find("source line 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("v +* 2.0"), std::string::npos) << msg;  // the line is quoted
  }
  // undeclared identifier on line 2, and errors in the header are named as such
  auto k2 = kg::kernel("undeclared", {"inp"}, {"out"}, "  uint i = 0u;\n  out[i] = nope;\n");
  try {
    k2(call);
    FAIL() << "expected a compile error";
  } catch (const kg::KernelCompileError& e) {
    EXPECT_EQ(e.line(), 2) << e.what();
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
  auto k3 = kg::kernel("bad_header", {"inp"}, {"out"}, "  out[0] = f(inp[0]);\n",
                       {.header = "float f(float x) {\n  return x\n}\n"});
  try {
    k3(call);
    FAIL() << "expected a compile error";
  } catch (const kg::KernelCompileError& e) {
    EXPECT_EQ(e.line(), -1);
    EXPECT_EQ(e.header_line(), 3) << e.what();
    EXPECT_NE(std::string(e.what()).find("header line"), std::string::npos) << e.what();
  }
  // it is a kiln::GpuError (a kiln::Error)
  EXPECT_THROW(k(call), kx::GpuError);
}

TEST_F(CustomKernel, BadLaunchesAreClearErrors) {
  USE_GPU();
  auto k = kg::kernel("myexp", {"inp"}, {"out"}, kExpSource);
  array a({1.f, 2.f});
  auto call = [&](kg::Dim3 grid, kg::Dim3 tg) {
    return k({.inputs = {a},
              .template_args = {{"T", kx::float32}},
              .grid = grid,
              .threadgroup = tg,
              .output_shapes = {{2}},
              .output_dtypes = {kx::float32}});
  };
  auto expect_msg = [](auto&& fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "expected std::invalid_argument containing '" << needle << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_msg([&] { call({2}, {100000}); }, "maximum workgroup size");
  expect_msg([&] { call({2}, {64, 64, 1}); }, "threads exceeds");
  expect_msg([&] { call({2}, {0}); }, "at least 1");
  expect_msg([&] { call({-1}, {1}); }, "negative");
  expect_msg([&] { call({2, 2000000000, 1}, {1, 1, 1}); }, "workgroups");
  // arity and output descriptions
  expect_msg(
      [&] {
        k({.inputs = {a, a}, .output_shapes = {{2}}, .output_dtypes = {kx::float32}});
      },
      "expects 1 inputs, got 2");
  expect_msg(
      [&] {
        k({.inputs = {a}, .output_shapes = {{2}, {2}}, .output_dtypes = {kx::float32}});
      },
      "output_shapes has 2");
  expect_msg([&] { k({.inputs = {a}, .output_shapes = {{2}}, .output_dtypes = {}}); },
             "output_dtypes has 0");
  // names
  expect_msg([&] { kg::kernel("k", {"float"}, {"o"}, "o[0] = 1.0;"); }, "keyword");
  expect_msg([&] { kg::kernel("k", {"x"}, {"x"}, "x[0] = 1.0;"); }, "used twice");
  expect_msg([&] { kg::kernel("k", {"1x"}, {"o"}, "o[0] = 1.0;"); }, "identifier");
  expect_msg([&] { kg::kernel("k", {"x"}, {}, "x[0] = 1.0;"); }, "output");
  expect_msg([&] { kg::kernel("k", {"x"}, {"o"}, "  \n"); }, "empty");
  expect_msg([&] { kg::kernel("a\nb", {"x"}, {"o"}, "o[0] = 1.0;"); }, "control character");
  expect_msg(
      [&] {
        k({.inputs = {a},
           .template_args = {{"xy", 1}},
           .output_shapes = {{2}},
           .output_dtypes = {kx::float32}});
      },
      "swizzle");
  expect_msg(
      [&] {
        k({.inputs = {a},
           .template_args = {{"inp", 1}},
           .output_shapes = {{2}},
           .output_dtypes = {kx::float32}});
      },
      "used twice");
  // shared memory beyond the device's limit is refused before it reaches the driver
  auto greedy = kg::kernel("greedy", {}, {"o"}, "  big[0] = 1.0; o[0] = big[0];\n",
                           {.header = "shared float big[1 << 20];\n"});
  expect_msg([&] { greedy({.output_shapes = {{1}}, .output_dtypes = {kx::float32}}); },
             "shared memory");
  // the device still works afterwards
  EXPECT_TRUE(close(call({2}, {2})[0], kx::exp(a, kx::Device::cpu)));
}

TEST_F(CustomKernel, DtypeMismatches) {
  USE_GPU();
  // a body that stores a float into an int output is a GLSL type error, reported as such
  auto k = kg::kernel("typed", {"inp"}, {"out"}, "  out[0] = inp[0] * 0.5;\n");
  try {
    k({.inputs = {array({1.f})}, .output_shapes = {{1}}, .output_dtypes = {kx::int32}});
    FAIL() << "expected a compile error";
  } catch (const kg::KernelCompileError& e) {
    EXPECT_EQ(e.line(), 1) << e.what();
  }
  // a CPU fallback returning another dtype than declared
  auto f =
      kg::kernel("fb", {"x"}, {"y"}, "  y[0] = x[0];\n",
                 {.cpu_fallback = [](const Vec& in) { return Vec{kx::astype(in[0], kx::int32)}; }});
  array y = f({.inputs = {array({1.f})},
               .output_shapes = {{1}},
               .output_dtypes = {kx::float32},
               .stream = kx::Device::cpu})[0];
  try {
    y.eval();
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("declared float32"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- CPU fallback and vjp
namespace {
// x^3 with its derivative rule; the CPU fallback is the same computation in kiln ops.
kg::KernelFn cube_kernel(bool with_vjp) {
  kg::KernelOptions o;
  o.cpu_fallback = [](const Vec& in) { return Vec{in[0] * in[0] * in[0]}; };
  if (with_vjp) {
    o.vjp = [](const Vec& primals, const Vec& cts, const Vec&) {
      return Vec{cts[0] * 3.0f * kx::square(primals[0])};
    };
    o.jvp = [](const Vec& primals, const Vec& tangents) {
      return Vec{tangents[0] * 3.0f * kx::square(primals[0])};
    };
  }
  return kg::kernel("cube", {"x"}, {"y"}, R"(
    uint i = thread_position_in_grid.x;
    float v = x[i];
    y[i] = v * v * v;
  )",
                    o);
}
array cube(const kg::KernelFn& k, const array& x, kx::StreamOrDevice s = {}) {
  return k({.inputs = {x},
            .grid = {static_cast<int>(x.size())},
            .threadgroup = {64},
            .output_shapes = {x.shape()},
            .output_dtypes = {x.dtype()},
            .stream = s})[0];
}
}  // namespace

TEST_F(CustomKernel, CpuFallback) {
  auto k = cube_kernel(false);
  array x({-1.5f, 0.f, 2.f, 3.f});
  array y = cube(k, x, kx::Device::cpu);
  EXPECT_EQ(y.primitive().name(), "CustomKernel");
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-3.375f, 0.f, 8.f, 27.f}));
  // with a GPU default device the fallback's ops still run on the CPU
  if (kx::gpu::is_available()) {
    kx::set_default_device(kx::Device::gpu);
    array yc = cube(k, x, kx::Device::cpu);
    array yg = cube(k, x, kx::Device::gpu);
    EXPECT_TRUE(close(yg, yc));
    EXPECT_EQ(kx::default_device(), kx::Device::gpu);
  }
  // without a fallback the CPU is refused at the call
  auto gpu_only = kg::kernel("gpu_only", {"x"}, {"y"}, "  y[0] = x[0];\n");
  try {
    gpu_only({.inputs = {x},
              .output_shapes = {{1}},
              .output_dtypes = {kx::float32},
              .stream = kx::Device::cpu});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("gpu_only"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cpu_fallback"), std::string::npos);
  }
}

TEST_F(CustomKernel, UserVjpThroughGrad) {
  std::vector<kx::Device> devices = {kx::Device::cpu};
  if (kx::gpu::is_available()) devices.push_back(kx::Device::gpu);
  for (kx::Device d : devices) {
    kx::set_default_device(d);
    auto k = cube_kernel(true);
    array x({-1.f, 0.5f, 2.f});
    auto g = kx::grad([&](const array& a) { return kx::sum(cube(k, a) * 2.0f); });
    EXPECT_TRUE(close(g(x), array({6.f, 1.5f, 24.f}))) << d;
    // compiled grad: the kernel and its vjp inside one compiled function
    auto cg = kx::compile(kx::VectorFn([&](const Vec& in) {
      return kx::grad([&](const Vec& a) { return Vec{kx::sum(cube(k, a[0]))}; })(in);
    }));
    EXPECT_TRUE(close(cg({x})[0], array({3.f, 0.75f, 12.f}))) << d;
    // forward mode
    auto [outs, tans] =
        kx::jvp([&](const Vec& a) { return Vec{cube(k, a[0])}; }, {x}, {kx::ones({3})});
    EXPECT_TRUE(close(outs[0], array({-1.f, 0.125f, 8.f}))) << d;
    EXPECT_TRUE(close(tans[0], array({3.f, 0.75f, 12.f}))) << d;
    // no rule: a TransformError naming the kernel
    auto plain = cube_kernel(false);
    try {
      kx::grad([&](const array& a) { return kx::sum(cube(plain, a)); })(x);
      FAIL() << "expected a TransformError";
    } catch (const kx::TransformError& e) {
      EXPECT_NE(std::string(e.what()).find("cube"), std::string::npos) << e.what();
    }
  }
}

// ---------------------------------------------------------------- bucket_pad
TEST(BucketPad, PadsToTheNextBucket) {
  array x = kx::reshape(kx::arange(0.0, 6.0, 1.0, kx::float32), {3, 2});
  auto [p, n] = kx::bucket_pad(x, 0, {2, 4, 8});
  EXPECT_EQ(n, 3);
  EXPECT_EQ(p.shape(), (kx::Shape{4, 2}));
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5, 0, 0}));
  auto [q, m] = kx::bucket_pad(x, -1, {8, 2});  // already a bucket length: returned as is
  EXPECT_EQ(m, 2);
  EXPECT_TRUE(q.is_same(x));
  auto [r, k] = kx::bucket_pad(x, 1, {5, 3});  // unsorted sizes: the smallest that fits
  EXPECT_EQ(k, 2);
  EXPECT_EQ(r.shape(), (kx::Shape{3, 3}));
  EXPECT_EQ(kx::bucket_size(33, {32, 64, 128}), 64);
  try {
    kx::bucket_pad(x, 0, {1, 2});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("largest bucket 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kx::bucket_pad(x, 2, {4}), std::invalid_argument);
  EXPECT_THROW(kx::bucket_pad(x, 0, {}), std::invalid_argument);
  EXPECT_THROW(kx::bucket_pad(x, 0, {4, 0}), std::invalid_argument);
}
