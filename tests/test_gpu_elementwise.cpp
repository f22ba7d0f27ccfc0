// Cross-backend harness, elementwise family: Unary, Binary, Select, AsType on every dtype,
// with broadcasting, scalars, 0-d, empty, transposed/sliced producers and a large 1-D case.
#include "gpu_test_util.h"

using gt::check;

namespace {

struct UnaryCase {
  const char* name;
  kx::array (*fn)(const kx::array&, kx::StreamOrDevice);
  float lo, hi;
};
const UnaryCase kUnary[] = {
    {"abs", kx::abs, -3, 3},         {"negative", kx::negative, -3, 3},
    {"sign", kx::sign, -3, 3},       {"square", kx::square, -3, 3},
    {"sqrt", kx::sqrt, 0, 9},        {"rsqrt", kx::rsqrt, 0.1f, 9},
    {"exp", kx::exp, -20, 20},       {"expm1", kx::expm1, -2, 2},
    {"log", kx::log, 0.01f, 100},    {"log1p", kx::log1p, -0.9f, 10},
    {"log2", kx::log2, 0.01f, 100},  {"sin", kx::sin, -10, 10},
    {"cos", kx::cos, -10, 10},       {"tan", kx::tan, -1.4f, 1.4f},
    {"tanh", kx::tanh, -6, 6},       {"sinh", kx::sinh, -5, 5},
    {"cosh", kx::cosh, -5, 5},       {"arcsin", kx::arcsin, -1, 1},
    {"arccos", kx::arccos, -1, 1},   {"arctan", kx::arctan, -5, 5},
    {"sigmoid", kx::sigmoid, -9, 9}, {"erf", kx::erf, -3, 3},
    {"erfinv", kx::erfinv, -0.99f, 0.99f}, {"floor", kx::floor, -5, 5},
    {"ceil", kx::ceil, -5, 5},       {"round", kx::round, -5, 5},
    {"logical_not", kx::logical_not, -1, 1}, {"isnan", kx::isnan, -1, 1},
    {"isinf", kx::isinf, -1, 1},
};

}  // namespace

TEST(GpuElementwise, UnaryFloat) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  for (auto& c : kUnary) {
    for (kx::Dtype d : gt::kFloats) {
      kx::array x = gt::rand({37, 5}, d, c.lo, c.hi, 7);
      auto fn = c.fn;
      EXPECT_TRUE(check([fn](auto& in, auto s) { return fn(in[0], s); }, {x}, -1, 1e-5f))
          << c.name << " " << d;
    }
  }
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuElementwise, UnarySpecialValues) {
  REQUIRE_GPU();
  float inf = INFINITY, nan = NAN;
  kx::array x({0.f, -0.f, inf, -inf, nan, 1e-30f, -1e-30f, 88.f, -100.f, 1.f, -1.f, 1e30f});
  // sin/cos/tan reduce by pi/2 in float32: accurate for |x| up to ~1e5 (docs/gpu.md)
  kx::array xt({0.f, -0.f, inf, -inf, nan, 1e-30f, -1e-30f, 88.f, -100.f, 1.f, -1.f, 1e4f});
  for (auto& c : kUnary) {
    auto fn = c.fn;
    std::string n = c.name;
    bool trig = n == "sin" || n == "cos" || n == "tan";
    EXPECT_TRUE(check([fn](auto& in, auto s) { return fn(in[0], s); }, {trig ? xt : x}, 1e-5f,
                      1e-6f))
        << c.name;
  }
}

TEST(GpuElementwise, UnaryIntegerAndBool) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  for (kx::Dtype d : {kx::int32, kx::int64, kx::uint32}) {
    kx::array x = gt::rand({50}, d, d == kx::uint32 ? 0.f : -50.f, 50.f, 3);
    for (auto fn : {kx::abs, kx::negative, kx::sign, kx::square, kx::floor, kx::logical_not,
                    kx::isnan})
      EXPECT_TRUE(check([fn](auto& in, auto s) { return fn(in[0], s); }, {x})) << d;
  }
  kx::array b = gt::rand({20}, kx::bool_);
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::logical_not(in[0], s); }, {b}));
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuElementwise, BinaryAllOpsAllDtypes) {
  REQUIRE_GPU();
  using BF = kx::array (*)(const kx::array&, const kx::array&, kx::StreamOrDevice);
  struct Case {
    const char* name;
    BF fn;
    bool floats_only;
  };
  const Case cases[] = {
      {"add", kx::add, false},           {"subtract", kx::subtract, false},
      {"multiply", kx::multiply, false}, {"divide", kx::divide, false},
      {"floor_divide", kx::floor_divide, false}, {"maximum", kx::maximum, false},
      {"minimum", kx::minimum, false},   {"power", kx::power, false},
      {"remainder", kx::remainder, false}, {"arctan2", kx::arctan2, true},
      {"logaddexp", kx::logaddexp, true}, {"equal", kx::equal, false},
      {"not_equal", kx::not_equal, false}, {"less", kx::less, false},
      {"less_equal", kx::less_equal, false}, {"greater", kx::greater, false},
      {"greater_equal", kx::greater_equal, false}, {"logical_and", kx::logical_and, false},
      {"logical_or", kx::logical_or, false},
  };
  kx::gpu::detail::reset_kernel_stats();
  for (auto& c : cases) {
    for (kx::Dtype d : gt::kAll) {
      if (c.floats_only && !kx::is_floating(d)) continue;
      bool pw = std::string(c.name) == "power";
      float lo = d == kx::uint32 ? 0.f : -6.f, hi = 6.f;
      kx::array a = gt::rand({4, 6}, d, pw ? 0.5f : lo, pw ? 3.f : hi, 11);
      kx::array b = gt::rand({4, 6}, d, pw ? -2.f : lo, pw ? 3.f : hi, 12);
      if (d == kx::bool_ && (std::string(c.name) == "remainder" ||
                             std::string(c.name) == "divide" || std::string(c.name) == "subtract"))
        continue;  // the ops layer rejects or promotes these
      auto fn = c.fn;
      kx::array ca, ga;
      try {
        ca = fn(a, b, kx::Device::cpu);
        ca.eval();
      } catch (const std::exception&) {
        continue;  // not defined for this dtype on the CPU either
      }
      EXPECT_TRUE(check([fn](auto& in, auto s) { return fn(in[0], in[1], s); }, {a, b}, -1, 1e-4f))
          << c.name << " " << d;
      // broadcasting: row vector, column vector, scalar on each side
      kx::array row = gt::rand({6}, d, pw ? 0.5f : lo, hi, 13);
      kx::array col = gt::rand({4, 1}, d, pw ? -1.f : lo, pw ? 2.f : hi, 14);
      kx::array sc = gt::rand({}, d, 1.f, 3.f, 15);
      EXPECT_TRUE(check([fn](auto& in, auto s) { return fn(in[0], in[1], s); }, {row, col}, -1, 1e-4f))
          << c.name << " " << d << " broadcast";
      EXPECT_TRUE(check([fn](auto& in, auto s) { return fn(in[0], in[1], s); }, {a, sc}, -1, 1e-4f))
          << c.name << " " << d << " scalar rhs";
      EXPECT_TRUE(check([fn](auto& in, auto s) { return fn(in[0], in[1], s); }, {sc, a}, -1, 1e-4f))
          << c.name << " " << d << " scalar lhs";
    }
  }
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuElementwise, BroadcastTransposedSlicedEmptyScalar) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  auto f = [](auto& in, auto s) {
    auto t = kx::transpose(in[0], {2, 0, 1}, s);                          // (5, 3, 4)
    auto sl = kx::slice(in[1], {0, 4, 0}, {5, 0, 3}, {1, -2, 1}, s);      // (5, 2, 3)... flipped
    auto a = kx::add(kx::slice(t, {0, 0, 1}, {5, 3, 4}, s), kx::expand_dims(kx::sum(sl, 1, false, s), 1, s), s);
    return kx::multiply(a, kx::reshape(kx::arange(3.0, s), {1, 1, 3}, s), s);
  };
  EXPECT_TRUE(check(f, {gt::rand({3, 4, 5}, kx::float32), gt::rand({5, 6, 3}, kx::float32)}));
  // 0-d and empty
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::exp(in[0], s) + kx::array(1.f); },
                    {gt::rand({}, kx::float32)}));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::add(in[0], in[0], s); },
                    {gt::rand({0, 3}, kx::float32)}));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::add(in[0], in[1], s); },
                    {gt::rand({0, 3}, kx::float32), gt::rand({3}, kx::float32)}));
  // seven dims of broadcasting (collapses to fewer)
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::add(in[0], in[1], s); },
                    {gt::rand({2, 1, 2, 1, 2, 1, 2}, kx::float32),
                     gt::rand({1, 2, 1, 2, 1, 2, 1}, kx::float32)}));
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuElementwise, SelectAndAsType) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  for (kx::Dtype d : gt::kAll) {
    kx::array c = gt::rand({3, 1, 5}, kx::bool_, -1, 1, 21);
    kx::array a = gt::rand({4, 5}, d, -5, 5, 22);
    kx::array b = gt::rand({3, 4, 1}, d, -5, 5, 23);
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::where(in[0], in[1], in[2], s); }, {c, a, b}))
        << d;
    kx::array c2 = gt::rand({4, 5}, kx::bool_, -1, 1, 24);
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::where(in[0], in[1], in[1], s); }, {c2, a}))
        << d;
  }
  for (kx::Dtype from : gt::kAll)
    for (kx::Dtype to : gt::kAll) {
      float lo = (to == kx::uint32 || from == kx::uint32) ? 0.f : -100.f;
      kx::array x = gt::rand({33}, from, lo, 100.f, 25);
      EXPECT_TRUE(check([to](auto& in, auto s) { return kx::astype(in[0], to, s); }, {x}, 0, 0))
          << from << " -> " << to;
    }
  // float16/bfloat16 rounding edge cases are bit-identical to the CPU conversion
  kx::array edge({65504.f, 65520.f, 1e-8f, 6e-8f, 3e-5f, -0.f, NAN, INFINITY, 1.00048828125f,
                  1.0009765625f, 3.3895314e38f, 1.0078125f, 1.00390625f});
  for (kx::Dtype to : {kx::float16, kx::bfloat16})
    EXPECT_TRUE(check([to](auto& in, auto s) { return kx::astype(in[0], to, s); }, {edge}, 0, 0));
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuElementwise, Large1D) {
  REQUIRE_GPU();
  // more than 65535 x 256 elements: a one-element-per-thread kernel (arange) spills its grid
  // into y; the elementwise kernels take four elements per thread
  int n = 65535 * 256 + 4099;
  kx::array x = kx::arange(0, n, 1, kx::Device::gpu);
  kx::array y = kx::multiply(kx::astype(x, kx::float32, kx::Device::gpu), kx::array(2.f),
                             kx::Device::gpu);
  auto v = y.to_vector<float>();
  ASSERT_EQ(v.size(), static_cast<size_t>(n));
  size_t bad = 0;
  for (int i = 0; i < n; ++i) bad += v[i] != 2.f * static_cast<float>(i);
  EXPECT_EQ(bad, 0u);
  const kx::Device gpu(kx::Device::gpu);
  EXPECT_EQ(kx::sum(kx::astype(x, kx::int64, gpu), false, gpu).item<int64_t>(),
            static_cast<int64_t>(n) * (n - 1) / 2);
}
