// Autograd: the gradient checker over every differentiable op (with broadcasting and
// transposed/sliced inputs), composites, higher order, exact values, custom_vjp,
// checkpoint, composition with compile, and every error path.
#include <gtest/gtest.h>
#include <kiln/autograd/primitives.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>

#include "grad_check.h"

namespace kx = kiln;
using kx::array;
using kx::Shape;
using kx::testing::check_grads;
using kx::testing::GradCheckOptions;
using Vec = std::vector<array>;
using F1 = std::function<array(const array&)>;
using F2 = std::function<array(const array&, const array&)>;

namespace {

struct CpuDefault : ::testing::Environment {
  void SetUp() override {
    // (not in the child process of GpuRuntime.AvailableWithName, which checks the default
    // device a fresh process picks; in the combined kiln-suite this environment is global)
    if (std::getenv("KILN_RUNTIME_CHILD")) return;
    kx::set_default_device(kx::Device::cpu);
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new CpuDefault);

std::mt19937& rng() {
  static std::mt19937 r(7);
  return r;
}

array uniform(const Shape& shape, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(kx::detail::shape_size(shape));
  for (auto& x : v) x = u(rng());
  return array(v, shape);
}

// Distinct values on a grid (spacing 0.15, none near 0) in random order: no ties and no
// kinks within a finite-difference step for max/min/sort/maximum/where.
array spaced(const Shape& shape, float offset = 0.03f) {
  size_t n = kx::detail::shape_size(shape);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (static_cast<float>(i) - n / 2) * 0.15f + offset;
  std::shuffle(v.begin(), v.end(), rng());
  return array(v, shape);
}

std::vector<float> vals(array a) { return kx::astype(a, kx::float32).to_vector<float>(); }

void expect_near(const array& a, const std::vector<float>& expected, float tol = 1e-5f) {
  auto v = vals(a);
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], expected[i], tol) << "at " << i;
}

kx::VectorFn vec1(F1 f) {
  return [f](const Vec& x) { return Vec{f(x[0])}; };
}
kx::VectorFn vec2(F2 f) {
  return [f](const Vec& x) { return Vec{f(x[0], x[1])}; };
}

// x -> grad(sum(f))(x): checking it checks the second-order rules.
F1 second_order(F1 f) {
  return [f](const array& x) { return kx::grad([f](const array& y) { return kx::sum(f(y)); })(x); };
}

// ------------------------------------------------------------------ unary ops
struct UnaryCase {
  const char* name;
  F1 f;
  float lo, hi;  // input domain (away from kinks and singularities)
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"abs", [](const array& x) { return kx::abs(x); }, 0.2f, 1.5f},
      {"abs_neg", [](const array& x) { return kx::abs(x); }, -1.5f, -0.2f},
      {"negative", [](const array& x) { return kx::negative(x); }, -2, 2},
      {"sign", [](const array& x) { return kx::sign(x); }, 0.2f, 1.5f},
      {"square", [](const array& x) { return kx::square(x); }, -2, 2},
      {"sqrt", [](const array& x) { return kx::sqrt(x); }, 0.3f, 3},
      {"rsqrt", [](const array& x) { return kx::rsqrt(x); }, 0.3f, 3},
      {"reciprocal", [](const array& x) { return kx::reciprocal(x); }, 0.3f, 3},
      {"exp", [](const array& x) { return kx::exp(x); }, -2, 2},
      {"expm1", [](const array& x) { return kx::expm1(x); }, -2, 2},
      {"log", [](const array& x) { return kx::log(x); }, 0.3f, 3},
      {"log1p", [](const array& x) { return kx::log1p(x); }, -0.5f, 3},
      {"log2", [](const array& x) { return kx::log2(x); }, 0.3f, 3},
      {"log10", [](const array& x) { return kx::log10(x); }, 0.3f, 3},
      {"sin", [](const array& x) { return kx::sin(x); }, -3, 3},
      {"cos", [](const array& x) { return kx::cos(x); }, -3, 3},
      {"tan", [](const array& x) { return kx::tan(x); }, -1.2f, 1.2f},
      {"tanh", [](const array& x) { return kx::tanh(x); }, -2, 2},
      {"sinh", [](const array& x) { return kx::sinh(x); }, -2, 2},
      {"cosh", [](const array& x) { return kx::cosh(x); }, -2, 2},
      {"arcsin", [](const array& x) { return kx::arcsin(x); }, -0.8f, 0.8f},
      {"arccos", [](const array& x) { return kx::arccos(x); }, -0.8f, 0.8f},
      {"arctan", [](const array& x) { return kx::arctan(x); }, -3, 3},
      {"sigmoid", [](const array& x) { return kx::sigmoid(x); }, -4, 4},
      {"erf", [](const array& x) { return kx::erf(x); }, -2, 2},
      {"erfinv", [](const array& x) { return kx::erfinv(x); }, -0.8f, 0.8f},
      {"floor", [](const array& x) { return kx::floor(x); }, 0.1f, 0.9f},
      {"ceil", [](const array& x) { return kx::ceil(x); }, 1.1f, 1.9f},
      {"round", [](const array& x) { return kx::round(x); }, 1.1f, 1.4f},
      {"copy", [](const array& x) { return kx::copy(x); }, -2, 2},
      {"astype_f16_roundtrip",
       [](const array& x) { return kx::astype(kx::astype(x, kx::float16), kx::float32) * 1.0f; },
       -2, 2},
  };
}

TEST(GradCheck, UnaryOps) {
  GradCheckOptions fp16;
  fp16.finite_differences = false;  // a float16 round trip is a staircase at eps = 1e-2
  fp16.ip_rtol = 3e-3;              // and rounds the cotangents to float16
  for (auto& c : unary_cases()) {
    SCOPED_TRACE(c.name);
    GradCheckOptions o = std::string(c.name).find("astype") == 0 ? fp16 : GradCheckOptions{};
    EXPECT_TRUE(check_grads(c.f, uniform({3, 4}, c.lo, c.hi), o));
    // transposed and strided inputs
    F1 f = c.f;
    EXPECT_TRUE(check_grads([f](const array& x) { return f(kx::transpose(x)); },
                            uniform({4, 3}, c.lo, c.hi), o));
    EXPECT_TRUE(check_grads(
        [f](const array& x) {
          return f(kx::slice(x, {5, 0}, {-100, 4}, {-2, 1}));
        },
        uniform({6, 4}, c.lo, c.hi), o));
  }
}

TEST(GradCheck, UnaryOpsSecondOrder) {
  for (auto& c : unary_cases()) {
    SCOPED_TRACE(c.name);
    GradCheckOptions o;
    if (std::string(c.name).find("astype") == 0) {
      o.finite_differences = false;
      o.ip_rtol = 3e-3;
    }
    EXPECT_TRUE(check_grads(second_order(c.f), uniform({5}, c.lo, c.hi), o));
  }
}

// ------------------------------------------------------------------ binary ops
struct BinaryCase {
  const char* name;
  F2 f;
  float alo, ahi, blo, bhi;
  bool spaced = false;  // inputs on offset grids: no ties, no kinks within a step
};

std::pair<array, array> binary_inputs(const BinaryCase& c, const Shape& sa, const Shape& sb) {
  if (c.spaced) return {spaced(sa, 0.03f), spaced(sb, 0.09f)};
  return {uniform(sa, c.alo, c.ahi), uniform(sb, c.blo, c.bhi)};
}

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const array& a, const array& b) { return a + b; }, -2, 2, -2, 2},
      {"subtract", [](const array& a, const array& b) { return a - b; }, -2, 2, -2, 2},
      {"multiply", [](const array& a, const array& b) { return a * b; }, -2, 2, -2, 2},
      {"divide", [](const array& a, const array& b) { return a / b; }, -2, 2, 0.5f, 2},
      {"floor_divide", [](const array& a, const array& b) { return kx::floor_divide(a, b); }, 2.3f,
       2.7f, 1.0f, 1.1f},
      {"maximum", [](const array& a, const array& b) { return kx::maximum(a, b); }, 0, 0, 0, 0,
       true},
      {"minimum", [](const array& a, const array& b) { return kx::minimum(a, b); }, 0, 0, 0, 0,
       true},
      {"power", [](const array& a, const array& b) { return kx::power(a, b); }, 0.5f, 2, -1.5f,
       1.5f},
      {"remainder", [](const array& a, const array& b) { return kx::remainder(a, b); }, 2.3f, 2.7f,
       1.0f, 1.1f},
      {"remainder_neg", [](const array& a, const array& b) { return kx::remainder(a, b); }, -2.7f,
       -2.3f, 1.0f, 1.1f},
      {"arctan2", [](const array& a, const array& b) { return kx::arctan2(a, b); }, 0.5f, 2, -2,
       -0.5f},
      {"logaddexp", [](const array& a, const array& b) { return kx::logaddexp(a, b); }, -3, 3, -3,
       3},
      {"where", [](const array& a, const array& b) { return kx::where(a > 0.0f, a, b); }, 0, 0, 0,
       0, true},
      {"clip_arrays", [](const array& a, const array& b) { return kx::clip(b, a, std::nullopt); },
       0, 0, 0, 0, true},
  };
}

TEST(GradCheck, BinaryOpsWithBroadcasting) {
  std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{}, {2, 3}}, {{2, 1, 3}, {4, 1}}};
  for (auto& c : binary_cases()) {
    for (auto& [sa, sb] : shapes) {
      SCOPED_TRACE(std::string(c.name) + " " + kx::detail::shape_str(sa) + " " +
                   kx::detail::shape_str(sb));
      auto [a, b] = binary_inputs(c, sa, sb);
      EXPECT_TRUE(check_grads(vec2(c.f), {a, b}));
    }
    // a transposed and a strided operand
    SCOPED_TRACE(std::string(c.name) + " non-contiguous");
    F2 f = c.f;
    EXPECT_TRUE(check_grads(
        vec2([f](const array& a, const array& b) {
          return f(kx::transpose(a), kx::slice(b, {0, 0}, {6, 3}, {2, 1}));
        }),
        {binary_inputs(c, {3, 3}, {6, 3}).first, binary_inputs(c, {3, 3}, {6, 3}).second}));
  }
}

TEST(GradCheck, BinaryOpsSecondOrder) {
  for (auto& c : binary_cases()) {
    SCOPED_TRACE(c.name);
    F2 f = c.f;
    // d/da and d/db of sum(f(a, b)), each checked again
    auto g = [f](const Vec& x) {
      return kx::grad([f](const Vec& y) { return Vec{kx::sum(f(y[0], y[1]))}; }, {0, 1})(x);
    };
    auto [a, b] = binary_inputs(c, {2, 3}, {3});
    EXPECT_TRUE(check_grads(g, {a, b}));
  }
}

TEST(GradCheck, ClipWithScalarBounds) {
  // values kept away from the bounds
  array x({-0.9f, -0.7f, -0.3f, -0.1f, 0.2f, 0.45f, 0.6f, 0.8f}, {2, 4});
  EXPECT_TRUE(
      check_grads([](const array& a) { return kx::clip(a, array(-0.5f), array(0.5f)); }, x));
  EXPECT_TRUE(
      check_grads([](const array& a) { return kx::clip(a, std::nullopt, array(0.0f)); }, x));
}

// ------------------------------------------------------------------ shape ops
TEST(GradCheck, ShapeOps) {
  std::vector<std::pair<const char*, F1>> cases = {
      {"reshape",
       [](const array& x) {
         return kx::reshape(x, {4, 6});
       }},
      {"reshape_infer",
       [](const array& x) {
         return kx::reshape(x, {-1, 2});
       }},
      {"flatten", [](const array& x) { return kx::flatten(x); }},
      {"flatten_partial", [](const array& x) { return kx::flatten(x, 1, 2); }},
      {"transpose", [](const array& x) { return kx::transpose(x); }},
      {"transpose_axes",
       [](const array& x) {
         return kx::transpose(x, {1, 2, 0});
       }},
      {"swapaxes", [](const array& x) { return kx::swapaxes(x, 0, 2); }},
      {"moveaxis", [](const array& x) { return kx::moveaxis(x, 0, -1); }},
      {"expand_dims",
       [](const array& x) {
         return kx::expand_dims(x, {0, 3});
       }},
      {"squeeze", [](const array& x) { return kx::squeeze(kx::expand_dims(x, 1)); }},
      {"broadcast_to",
       [](const array& x) {
         return kx::broadcast_to(x, {2, 2, 3, 4});
       }},
      {"broadcast_size1",
       [](const array& x) {
         return kx::broadcast_to(kx::slice(x, {0, 0, 0}, {2, 1, 4}), {2, 5, 4});
       }},
      {"slice",
       [](const array& x) {
         return kx::slice(x, {0, 1, 1}, {2, 3, 4});
       }},
      {"slice_strided",
       [](const array& x) {
         return kx::slice(x, {1, 0, 3}, {2, 3, -5}, {1, 2, -2});
       }},
      {"slice_negative",
       [](const array& x) {
         return kx::slice(x, {-1, -2, 0}, {-3, 0, 4}, {-1, -1, 3});
       }},
      {"flip", [](const array& x) { return kx::flip(x, 1); }},
      {"flip_all", [](const array& x) { return kx::flip(x); }},
      {"pad",
       [](const array& x) {
         return kx::pad(x, {{1, 0}, {0, 2}, {1, 1}}, array(0.5f));
       }},
      {"tile",
       [](const array& x) {
         return kx::tile(x, {2, 1, 2});
       }},
      {"repeat", [](const array& x) { return kx::repeat(x, 2, 1); }},
      {"repeat_flat", [](const array& x) { return kx::repeat(x, 3); }},
      {"split", [](const array& x) { return kx::split(x, 3, 1)[1]; }},
      {"split_uneven",
       [](const array& x) {
         return kx::split(x, {1, 3}, 2)[2];
       }},
      {"concatenate",
       [](const array& x) {
         return kx::concatenate({x, kx::square(x), x}, 1);
       }},
      {"stack",
       [](const array& x) {
         return kx::stack({x, kx::exp(x)}, 3);
       }},
      {"full",
       [](const array& x) {
         return kx::full({2, 3}, kx::sum(x));
       }},
      {"tril", [](const array& x) { return kx::tril(x, 1); }},
      {"triu", [](const array& x) { return kx::triu(x); }},
      {"zeros_like", [](const array& x) { return x + kx::zeros_like(x); }},
      {"full_like", [](const array& x) { return kx::full_like(x, kx::sum(x)) * x; }},
  };
  for (auto& [name, f] : cases) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(check_grads(f, uniform({2, 3, 4})));
    EXPECT_TRUE(check_grads(second_order([f = f](const array& x) { return kx::square(f(x)); }),
                            uniform({2, 3, 4})));
  }
}

TEST(GradCheck, SliceUpdateAndBroadcastArrays) {
  auto su = [](const Vec& x) { return Vec{kx::slice_update(x[0], x[1], {0, 1}, {3, 4}, {2, 2})}; };
  EXPECT_TRUE(check_grads(su, {uniform({3, 5}), uniform({2, 2})}));
  // broadcast update
  auto sub = [](const Vec& x) { return Vec{kx::slice_update(x[0], x[1], {1, 0}, {2, 5})}; };
  EXPECT_TRUE(check_grads(sub, {uniform({3, 5}), uniform({5})}));
  auto ba = [](const Vec& x) {
    auto b = kx::broadcast_arrays({x[0], x[1]});
    return Vec{b[0] * 2.0f, b[1] - b[0]};
  };
  EXPECT_TRUE(check_grads(ba, {uniform({3, 1}), uniform({4})}));
}

// ------------------------------------------------------------------ indexing
TEST(GradCheck, IndexingOps) {
  array idx({2, 0, 2, -1, 1}, kx::int32);  // repeated and negative indices
  auto take_ax = [idx](const array& x) { return kx::take(x, idx, 1); };
  EXPECT_TRUE(check_grads(take_ax, uniform({3, 4})));
  EXPECT_TRUE(check_grads(
      second_order([take_ax](const array& x) { return kx::square(take_ax(x)); }), uniform({3, 4})));
  array idx2({3, 3, 0, 5}, {2, 2}, kx::int32);
  EXPECT_TRUE(check_grads([idx2](const array& x) { return kx::take(x, idx2); }, uniform({2, 3})));
  EXPECT_TRUE(check_grads([](const array& x) { return kx::take(x, 1, 0); }, uniform({3, 4})));

  array tai({0, 2, 2, 1, 0, 0}, {3, 2}, kx::uint32);
  EXPECT_TRUE(check_grads([tai](const array& x) { return kx::take_along_axis(x, tai, 1); },
                          uniform({3, 4})));
  array tai_b({1, 0, 3}, {1, 3}, kx::int32);  // broadcast along axis 0
  EXPECT_TRUE(check_grads([tai_b](const array& x) { return kx::take_along_axis(x, tai_b, 0); },
                          uniform({4, 3})));

  // scatter_add: repeated indices accumulate; differentiate a and updates
  array sidx({1, 3, 1}, kx::int32);
  auto sa = [sidx](const Vec& x) { return Vec{kx::scatter_add(x[0], sidx, x[1], 0)}; };
  EXPECT_TRUE(check_grads(sa, {uniform({4, 2}), uniform({3, 2})}));
  auto sab = [sidx](const Vec& x) { return Vec{kx::scatter_add(x[0], sidx, x[1], 1)}; };
  EXPECT_TRUE(check_grads(sab, {uniform({2, 4}), uniform({3})}));  // broadcast updates

  array pidx({2, 0, 1, 3}, {2, 2}, kx::int32);  // distinct per row
  auto put = [pidx](const Vec& x) { return Vec{kx::put_along_axis(x[0], pidx, x[1], 1)}; };
  EXPECT_TRUE(check_grads(put, {uniform({2, 4}), uniform({2, 2})}));
  array didx({1, 1, 0, 1}, {2, 2}, kx::int32);  // repeated: accumulates
  auto sadd = [didx](const Vec& x) { return Vec{kx::scatter_add_along_axis(x[0], didx, x[1], 1)}; };
  EXPECT_TRUE(check_grads(sadd, {uniform({2, 3}), uniform({2, 2})}));
}

// ------------------------------------------------------------------ reductions
TEST(GradCheck, Reductions) {
  struct Case {
    const char* name;
    F1 f;
  };
  // exclusive cummax/cummin start from -inf/+inf: compare only the finite part
  auto finite = [](F1 g) {
    return F1([g](const array& y) {
      array r = g(y);
      return kx::where(kx::isinf(r), kx::zeros_like(r), r);
    });
  };
  std::vector<Case> cases = {
      {"sum", [](const array& x) { return kx::sum(x); }},
      {"sum_axes",
       [](const array& x) {
         return kx::sum(x, {0, 2});
       }},
      {"sum_keepdims", [](const array& x) { return kx::sum(x, 1, true); }},
      {"mean",
       [](const array& x) {
         return kx::mean(x, {1, 2});
       }},
      {"var", [](const array& x) { return kx::var(x, 2); }},
      {"var_ddof",
       [](const array& x) {
         return kx::var(x, {0, 1}, false, 1);
       }},
      {"std", [](const array& x) { return kx::std(x, 1, true); }},
      {"prod", [](const array& x) { return kx::prod(x, 2); }},
      {"prod_axes",
       [](const array& x) {
         return kx::prod(x, {0, 2});
       }},
      {"prod_all", [](const array& x) { return kx::prod(x); }},
      {"max", [](const array& x) { return kx::max(x, 1); }},
      {"max_axes",
       [](const array& x) {
         return kx::max(x, {0, 2}, true);
       }},
      {"min", [](const array& x) { return kx::min(x); }},
      {"logsumexp", [](const array& x) { return kx::logsumexp(x, 2); }},
      {"logsumexp_all", [](const array& x) { return kx::logsumexp(x); }},
      {"softmax", [](const array& x) { return kx::softmax(x, -1); }},
      {"softmax_axes",
       [](const array& x) {
         return kx::softmax(x, {0, 1});
       }},
      {"log_softmax", [](const array& x) { return kx::log_softmax(x, 1); }},
      {"cumsum", [](const array& x) { return kx::cumsum(x, 1); }},
      {"cumsum_flat", [](const array& x) { return kx::cumsum(x); }},
      {"cumsum_rev_excl", [](const array& x) { return kx::cumsum(x, 2, true, false); }},
      {"cumprod", [](const array& x) { return kx::cumprod(x, 2); }},
      {"cumprod_rev", [](const array& x) { return kx::cumprod(x, 1, true); }},
      {"cumprod_excl", [](const array& x) { return kx::cumprod(x, 2, false, false); }},
      {"cumprod_rev_excl", [](const array& x) { return kx::cumprod(x, 0, true, false); }},
      {"cummax", [](const array& x) { return kx::cummax(x, 2); }},
      {"cummax_rev", [](const array& x) { return kx::cummax(x, 1, true); }},
      {"cummax_rev_excl", finite([](const array& x) { return kx::cummax(x, 2, true, false); })},
      {"cummin", [](const array& x) { return kx::cummin(x, 1); }},
      {"cummin_excl", finite([](const array& x) { return kx::cummin(x, 1, false, false); })},
      {"sort", [](const array& x) { return kx::sort(x, 2); }},
      {"sort_axis0", [](const array& x) { return kx::sort(x, 0); }},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    array x = spaced({2, 3, 4});
    EXPECT_TRUE(check_grads(c.f, x));
    // the same values reached through a transpose (a non-contiguous view in NumPy terms)
    F1 f = c.f;
    EXPECT_TRUE(check_grads([f](const array& y) { return f(kx::transpose(y)); }, kx::transpose(x)));
    EXPECT_TRUE(check_grads(second_order(c.f), x));
  }
}

TEST(GradCheck, ProdAndCumprodWithZeros) {
  // one zero, two zeros, a zero at the ends: products are polynomials, so finite
  // differences are exact enough right at the zeros.
  array x({2.f, 0.f, 3.f, 1.5f, 0.f, 0.f, 2.f, -1.f, 0.f, 1.2f, 0.7f, 1.1f}, {3, 4});
  std::vector<std::pair<const char*, F1>> cases = {
      {"prod", [](const array& a) { return kx::prod(a, 1); }},
      {"prod0", [](const array& a) { return kx::prod(a, 0); }},
      {"prod_all", [](const array& a) { return kx::prod(a); }},
      {"cumprod", [](const array& a) { return kx::cumprod(a, 1); }},
      {"cumprod_rev", [](const array& a) { return kx::cumprod(a, 1, true); }},
      {"cumprod_excl", [](const array& a) { return kx::cumprod(a, 1, false, false); }},
      {"cumprod_rev_excl", [](const array& a) { return kx::cumprod(a, 1, true, false); }},
  };
  for (auto& [name, f] : cases) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(check_grads(f, x));
    EXPECT_TRUE(check_grads(second_order(f), x));
  }
}

// ------------------------------------------------------------------ linear algebra
TEST(GradCheck, LinearAlgebra) {
  auto mm = [](const Vec& x) { return Vec{kx::matmul(x[0], x[1])}; };
  EXPECT_TRUE(check_grads(mm, {uniform({3, 4}), uniform({4, 2})}));
  EXPECT_TRUE(check_grads(mm, {uniform({2, 3, 4}), uniform({2, 4, 5})}));     // batched
  EXPECT_TRUE(check_grads(mm, {uniform({2, 1, 3, 4}), uniform({3, 4, 2})}));  // broadcast batch
  EXPECT_TRUE(check_grads(mm, {uniform({4}), uniform({4, 3})}));              // vector @ matrix
  EXPECT_TRUE(check_grads(mm, {uniform({2, 3, 4}), uniform({4})}));           // matrix @ vector
  auto mmt = [](const Vec& x) { return Vec{kx::matmul(kx::transpose(x[0]), x[1])}; };
  EXPECT_TRUE(check_grads(mmt, {uniform({4, 3}), uniform({4, 2})}));
  auto addmm = [](const Vec& x) { return Vec{kx::addmm(x[0], x[1], x[2], 0.5f, 2.0f)}; };
  EXPECT_TRUE(check_grads(addmm, {uniform({2}), uniform({3, 4}), uniform({4, 2})}));
  auto outer = [](const Vec& x) { return Vec{kx::outer(x[0], x[1])}; };
  EXPECT_TRUE(check_grads(outer, {uniform({3}), uniform({4})}));
  auto inner = [](const Vec& x) { return Vec{kx::inner(x[0], x[1])}; };
  EXPECT_TRUE(check_grads(inner, {uniform({2, 4}), uniform({3, 4})}));
  auto td = [](const Vec& x) { return Vec{kx::tensordot(x[0], x[1], {0, 2}, {1, 0})}; };
  EXPECT_TRUE(check_grads(td, {uniform({2, 3, 4}), uniform({4, 2, 5})}));
  auto td2 = [](const Vec& x) { return Vec{kx::tensordot(x[0], x[1], 1)}; };
  EXPECT_TRUE(check_grads(td2, {uniform({2, 3}), uniform({3, 2})}));
  // second order: Hessian-vector products of a quadratic form
  auto g = [](const Vec& x) {
    return kx::grad([](const Vec& y) { return Vec{kx::sum(kx::square(kx::matmul(y[0], y[1])))}; },
                    {0, 1})(x);
  };
  EXPECT_TRUE(check_grads(g, {uniform({2, 3}), uniform({3, 2})}));
}

// ------------------------------------------------------------------ composites
array layer_norm(const array& x, const array& w, const array& b) {
  array mu = kx::mean(x, -1, true);
  array var = kx::var(x, -1, true);
  return (x - mu) * kx::rsqrt(var + 1e-5f) * w + b;
}

array softmax_cross_entropy(const array& logits, const array& labels) {
  array lp = kx::log_softmax(logits, -1);
  return -kx::mean(kx::take_along_axis(lp, kx::expand_dims(labels, -1), -1));
}

array mlp_loss(const Vec& p, const array& x, const array& labels, bool relu) {
  array pre = kx::addmm(p[1], x, p[0]);
  array h = relu ? kx::maximum(pre, array(0.0f)) : kx::tanh(pre);
  array logits = kx::matmul(h, p[2]) + p[3];
  return softmax_cross_entropy(logits, labels);
}

TEST(GradCheck, Composites) {
  array labels({0, 2, 1, 2}, kx::int32);
  auto ce = [labels](const Vec& x) { return Vec{softmax_cross_entropy(x[0], labels)}; };
  EXPECT_TRUE(check_grads(ce, {uniform({4, 3}, -2, 2)}));
  auto ln = [](const Vec& x) { return Vec{layer_norm(x[0], x[1], x[2])}; };
  EXPECT_TRUE(check_grads(ln, {uniform({3, 5}), uniform({5}), uniform({5})}));
  EXPECT_TRUE(
      check_grads([](const Vec& x) { return Vec{layer_norm(kx::transpose(x[0]), x[1], x[2])}; },
                  {uniform({5, 3}), uniform({5}), uniform({5})}));
  array xin = uniform({4, 3});
  auto mlp = [xin, labels](const Vec& p) { return Vec{mlp_loss(p, xin, labels, false)}; };
  Vec params = {uniform({3, 6}), uniform({6}, 0.1f, 0.5f), uniform({6, 3}), uniform({3})};
  EXPECT_TRUE(check_grads(mlp, params));
  // with relu, finite differences may step across a kink: the inner-product identity only
  auto relu_mlp = [xin, labels](const Vec& p) { return Vec{mlp_loss(p, xin, labels, true)}; };
  GradCheckOptions ip_only;
  ip_only.finite_differences = false;
  EXPECT_TRUE(check_grads(relu_mlp, params, ip_only));
  // its gradient against a second-order check of the loss (Hessian-vector consistency)
  GradCheckOptions o;
  o.rtol = 5e-3;
  EXPECT_TRUE(check_grads(kx::grad(mlp, {0, 1, 2, 3}), params, o));
  // multiple outputs, one of them integer
  auto multi = [](const Vec& x) {
    return Vec{kx::sum(x[0] * x[1]), kx::argmax(x[0], 1), kx::softmax(x[1], 0)};
  };
  EXPECT_TRUE(check_grads(multi, {uniform({2, 3}), uniform({2, 3})}));
}

// ------------------------------------------------------------------ exact values
TEST(Autograd, GradOfProductIsTheOtherFactor) {
  auto g = kx::grad([](const Vec& x) { return Vec{x[0] * x[1]}; }, {0, 1});
  auto r = g({array(2.0f), array(3.0f)});
  EXPECT_FLOAT_EQ(r[0].item<float>(), 3.0f);
  EXPECT_FLOAT_EQ(r[1].item<float>(), 2.0f);
}

TEST(Autograd, ThirdDerivativeOfExp) {
  F1 f = [](const array& x) { return kx::exp(x); };
  auto d3 = kx::grad(kx::grad(kx::grad(f)));
  EXPECT_NEAR(d3(array(1.0f)).item<float>(), std::exp(1.0f), 1e-5);
  auto d2sin = kx::grad(kx::grad([](const array& x) { return kx::sin(x); }));
  EXPECT_NEAR(d2sin(array(0.5f)).item<float>(), -std::sin(0.5f), 1e-6);
}

TEST(Autograd, MatmulVjps) {
  array a({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  array b({1.f, 0.f, -1.f, 2.f, 0.5f, 1.f}, {3, 2});
  array g({1.f, 2.f, 3.f, 4.f}, {2, 2});
  auto [outs, cots] =
      kx::vjp([](const Vec& x) { return Vec{kx::matmul(x[0], x[1])}; }, {a, b}, {g});
  expect_near(outs[0], {0.5f, 7.f, 2.f, 16.f});
  expect_near(cots[0], kx::matmul(g, kx::transpose(b)).to_vector<float>());
  expect_near(cots[0], {1.f, 3.f, 2.5f, 3.f, 5.f, 5.5f});
  expect_near(cots[1], {13.f, 18.f, 17.f, 24.f, 21.f, 30.f});
  // vector @ matrix
  auto r = kx::vjp(
      [](const array& v) {
        return kx::matmul(v, array({1.f, 2.f, 3.f, 4.f}, {2, 2}));
      },
      array({1.f, 1.f}), array({1.f, 0.f}));
  expect_near(r.second, {1.f, 3.f});
}

TEST(Autograd, ProdGradientWithZeros) {
  F1 p = [](const array& x) { return kx::prod(x); };
  expect_near(kx::grad(p)(array({2.f, 0.f, 3.f})), {0.f, 6.f, 0.f});
  expect_near(kx::grad(p)(array({0.f, 0.f, 3.f})), {0.f, 0.f, 0.f});
  expect_near(kx::grad(p)(array({2.f, 4.f, 3.f})), {12.f, 6.f, 8.f});
  auto gp = kx::grad([](const array& x) { return kx::sum(kx::prod(x, 1)); });
  expect_near(gp(array({1.f, 0.f, 2.f, 3.f, 4.f, 5.f}, {2, 3})), {0.f, 2.f, 0.f, 20.f, 15.f, 12.f});
  // cumprod [2, 0, 3]: outputs 2, 0, 0 -> d/dx = (1, 2 + 6, 0)
  auto gc = kx::grad([](const array& x) { return kx::sum(kx::cumprod(x, 0)); });
  expect_near(gc(array({2.f, 0.f, 3.f})), {1.f, 8.f, 0.f});
  // second derivative of prod at a zero: d2/dx0 dx1 of x0*x1*x2 = x2
  auto h = kx::grad([](const array& x) {
    return kx::sum(kx::grad(F1([](const array& y) { return kx::prod(y); }))(x) *
                   array({0.f, 1.f, 0.f}));
  });
  expect_near(h(array({0.f, 0.f, 3.f})), {3.f, 0.f, 0.f});
}

TEST(Autograd, TakeAccumulatesRepeatedIndices) {
  auto g = kx::grad([](const array& x) {
    return kx::sum(kx::take(x, array({0, 0, 2, 0}, kx::int32)));
  });
  expect_near(g(array({1.f, 2.f, 3.f})), {3.f, 0.f, 1.f});
  auto g2 = kx::grad([](const array& x) {
    return kx::sum(kx::take_along_axis(x, array({1, 1, 1}, {1, 3}, kx::int32), 1) * 2.0f);
  });
  expect_near(g2(array({1.f, 2.f, 3.f, 4.f}, {1, 4})), {0.f, 6.f, 0.f, 0.f});
}

TEST(Autograd, TieConventions) {
  // max/min reductions split the gradient evenly among ties
  expect_near(kx::grad(F1([](const array& x) { return kx::max(x); }))(array({1.f, 3.f, 3.f, 2.f})),
              {0.f, 0.5f, 0.5f, 0.f});
  expect_near(kx::grad(F1([](const array& x) { return kx::min(x); }))(array({1.f, 3.f, 1.f, 1.f})),
              {1.f / 3, 0.f, 1.f / 3, 1.f / 3});
  // maximum/minimum: ties go to the second operand (as MLX)
  auto gm = kx::grad([](const Vec& x) { return Vec{kx::sum(kx::maximum(x[0], x[1]))}; }, {0, 1});
  auto r = gm({array({1.f, 2.f, 3.f}), array({1.f, 1.f, 4.f})});
  expect_near(r[0], {0.f, 1.f, 0.f});
  expect_near(r[1], {1.f, 0.f, 1.f});
  auto gn = kx::grad([](const Vec& x) { return Vec{kx::sum(kx::minimum(x[0], x[1]))}; }, {0, 1});
  r = gn({array({1.f, 2.f, 3.f}), array({1.f, 1.f, 4.f})});
  expect_near(r[0], {0.f, 0.f, 1.f});
  expect_near(r[1], {1.f, 1.f, 0.f});
  // cummax: each output's gradient goes to the first element attaining the running max
  auto gc = kx::grad([](const array& x) {
    return kx::sum(kx::cummax(x, 0) * array({1.f, 2.f, 4.f, 8.f, 16.f}));
  });
  expect_near(gc(array({1.f, 3.f, 2.f, 3.f, 5.f})), {1.f, 14.f, 0.f, 0.f, 16.f});
  // abs at 0 has gradient 0 (sign)
  expect_near(kx::grad(F1([](const array& x) { return kx::sum(kx::abs(x)); }))(array({0.f, -2.f})),
              {0.f, -1.f});
}

TEST(Autograd, SortFollowsThePermutation) {
  auto g = kx::grad([](const array& x) {
    return kx::sum(kx::sort(x) * array({1.f, 2.f, 3.f, 4.f}));
  });
  expect_near(g(array({3.f, 1.f, 4.f, 2.f})), {3.f, 1.f, 4.f, 2.f});
  auto [o, t] = kx::jvp([](const array& x) { return kx::sort(x); }, array({3.f, 1.f, 4.f, 2.f}),
                        array({10.f, 20.f, 30.f, 40.f}));
  expect_near(t, {20.f, 40.f, 10.f, 30.f});
}

TEST(Autograd, NonDifferentiableOpsGiveZero) {
  array x({0.5f, -1.5f, 2.5f});
  auto g = kx::grad([](const array& v) {
    array idx = kx::astype(kx::argmax(v), kx::float32);
    array cmp = kx::astype(v > 0.0f, kx::float32);
    array srt = kx::astype(kx::argsort(v), kx::float32);
    array fl = kx::floor(v) + kx::sign(v) + kx::round(v) + kx::ceil(v);
    return kx::sum(idx + cmp * 2.0f + srt + fl + kx::stop_gradient(v * v) +
                   kx::astype(kx::all(v > 0.0f), kx::float32) + kx::floor_divide(v, array(0.7f)));
  });
  expect_near(g(x), {0.f, 0.f, 0.f});
  // random: a function of an integer key
  auto gr = kx::grad([](const array& v) {
    return kx::sum(v * kx::random::uniform(0.f, 1.f, {3}, kx::float32, kx::random::key(1)));
  });
  auto u = kx::random::uniform(0.f, 1.f, {3}, kx::float32, kx::random::key(1));
  expect_near(gr(x), u.to_vector<float>());
  // integer primals get zero gradients
  auto gi = kx::grad(
      [](const Vec& v) { return Vec{kx::sum(v[0] * kx::astype(v[1], kx::float32))}; }, {0, 1});
  auto ri = gi({array({1.f, 2.f}), array({3, 4}, kx::int32)});
  expect_near(ri[0], {3.f, 4.f});
  EXPECT_EQ(ri[1].dtype(), kx::int32);
  expect_near(ri[1], {0.f, 0.f});
  // arange and linspace are constants
  auto ga =
      kx::grad([](const array& v) { return kx::sum(v * kx::arange(3.0) + kx::linspace(0, 1, 3)); });
  expect_near(ga(x), {0.f, 1.f, 2.f});
}

// ------------------------------------------------------------------ transforms
TEST(Autograd, ValueAndGradArgnumsAndAux) {
  auto f = [](const Vec& x) {
    return Vec{kx::sum(x[0] * x[1] * x[2]), x[0] + 1.0f, kx::argmax(x[1])};
  };
  Vec args = {array({1.f, 2.f}), array({3.f, 4.f}), array({5.f, 6.f})};
  auto [vals_, grads] = kx::value_and_grad(f, {2, -3})(args);
  ASSERT_EQ(vals_.size(), 3u);
  EXPECT_FLOAT_EQ(vals_[0].item<float>(), 1 * 3 * 5 + 2 * 4 * 6);
  expect_near(vals_[1], {2.f, 3.f});
  EXPECT_EQ(vals_[2].item<int>(), 1);
  ASSERT_EQ(grads.size(), 2u);
  expect_near(grads[0], {3.f, 8.f});    // d/dx2 = x0 * x1
  expect_near(grads[1], {15.f, 24.f});  // d/dx0 = x1 * x2
  auto g = kx::grad(f, {-1});
  expect_near(g(args)[0], {3.f, 8.f});
  // single-array forms
  auto [v, gr] = kx::value_and_grad(F1([](const array& x) { return kx::sum(kx::square(x)); }))(
      array({1.f, -2.f}));
  EXPECT_FLOAT_EQ(v.item<float>(), 5.f);
  expect_near(gr, {2.f, -4.f});
  // a (1,)-shaped loss counts as a scalar
  expect_near(kx::grad(F1([](const array& x) { return kx::sum(x, 0, true); }))(array({1.f, 2.f})),
              {1.f, 1.f});
}

TEST(Autograd, VjpJvpMultipleOutputs) {
  auto f = [](const Vec& x) { return Vec{x[0] * x[1], kx::sin(x[0])}; };
  Vec p = {array({1.f, 2.f}), array({3.f, 4.f})};
  auto [o, c] = kx::vjp(f, p, {array({1.f, 1.f}), array({2.f, 0.f})});
  expect_near(c[0], {3.f + 2 * std::cos(1.f), 4.f});
  expect_near(c[1], {1.f, 2.f});
  auto [o2, t] = kx::jvp(f, p, {array({1.f, 0.f}), array({0.f, 1.f})});
  expect_near(t[0], {3.f, 2.f});
  expect_near(t[1], {std::cos(1.f), 0.f});
  // an output that does not depend on the primals, and one that is a primal
  auto g = [](const Vec& x) { return Vec{array({7.f}), x[0]}; };
  auto [o3, c3] = kx::vjp(g, {array({1.f})}, {array({1.f}), array({5.f})});
  expect_near(c3[0], {5.f});
  auto [o4, t4] = kx::jvp(g, {array({1.f})}, {array({2.f})});
  expect_near(t4[0], {0.f});
  expect_near(t4[1], {2.f});
}

TEST(Autograd, ForwardOverReverse) {
  // Hessian-vector product of sum(x^3): H = diag(6x)
  F1 gf = kx::grad(F1([](const array& x) { return kx::sum(x * x * x); }));
  auto [g, hv] = kx::jvp(gf, array({1.f, 2.f}), array({1.f, 1.f}));
  expect_near(g, {3.f, 12.f});
  expect_near(hv, {6.f, 12.f});
  // reverse over forward
  auto jf = [](const array& x) {
    return kx::jvp([](const array& y) { return kx::sum(kx::exp(y)); }, x, kx::ones_like(x)).second;
  };
  expect_near(kx::grad(F1(jf))(array({0.f, 1.f})), {1.f, std::exp(1.f)});
}

TEST(Autograd, EvalAndItemInsideGrad) {
  auto f = [](const array& x) {
    array y = kx::sin(x) * x;
    float s = kx::sum(y).item<float>();  // reading a value inside grad
    y.eval();
    array z = kx::exp(y);
    z.eval();
    return kx::sum(z * (s > 0 ? 1.0f : 2.0f));
  };
  array x({0.3f, 0.7f});
  array g = kx::grad(F1(f))(x);
  auto xv = x.to_vector<float>();
  std::vector<float> expected;
  for (float a : xv)
    expected.push_back(std::exp(std::sin(a) * a) * (std::cos(a) * a + std::sin(a)));
  expect_near(g, expected, 1e-5f);
}

TEST(Autograd, ResultsAreNotTracers) {
  array x({1.f, 2.f});
  auto [v, g] = kx::value_and_grad(F1([](const array& a) { return kx::sum(kx::exp(a) * a); }))(x);
  EXPECT_FALSE(v.is_tracer());
  EXPECT_FALSE(g.is_tracer());
  g.eval();
  EXPECT_FALSE(g.has_primitive());  // evaluated and detached like any array
  auto [o, t] = kx::jvp(F1([](const array& a) { return kx::sin(a); }), x, x);
  EXPECT_FALSE(o.is_tracer());
  EXPECT_FALSE(t.is_tracer());
}

TEST(Autograd, TrainingLoopKeepsNoGraph) {
  // parameters updated from gradients are ordinary arrays: evaluating them detaches them,
  // so no step's graph (nor the previous parameters) stays alive
  array w({1.f, -2.f, 0.5f});
  auto loss = kx::grad(F1([](const array& p) { return kx::sum(kx::square(p - 1.0f)); }));
  for (int step = 0; step < 5; ++step) {
    w = w - loss(w) * 0.25f;
    w.eval();
    EXPECT_FALSE(w.is_tracer());
    EXPECT_FALSE(w.has_primitive());
  }
  // each step halves the distance to 1
  expect_near(w, {1.f, 1.f - 3.f / 32, 1.f - 0.5f / 32});
}

TEST(Autograd, NestedGradOfClosureOverOuterTracer) {
  // f(x) = d/dy sin(x * y) at y = 1 = x cos(x); f'(x) = cos(x) - x sin(x)
  F1 f = [](const array& x) {
    F1 inner = [x](const array& y) { return kx::sin(x * y); };
    return kx::grad(inner)(array(1.0f));
  };
  float x0 = 0.8f;
  EXPECT_NEAR(f(array(x0)).item<float>(), x0 * std::cos(x0), 1e-6);
  EXPECT_NEAR(kx::grad(f)(array(x0)).item<float>(), std::cos(x0) - x0 * std::sin(x0), 1e-5);
}

TEST(Autograd, CustomVjp) {
  // forward sin, backward replaced by 2 * cotangent
  auto f = kx::custom_vjp(
      [](const Vec& x) {
        return Vec{kx::sin(x[0]), x[0] * x[1]};
      },
      [](const Vec& primals, const Vec& cots, const Vec& outs) {
        EXPECT_EQ(outs.size(), 2u);
        return Vec{cots[0] * 2.0f + cots[1] * primals[1], array()};  // no gradient for arg 1
      });
  Vec args = {array({0.5f, 1.0f}), array({3.f, 4.f})};
  auto outs = f(args);
  expect_near(outs[0], {std::sin(0.5f), std::sin(1.0f)});
  expect_near(outs[1], {1.5f, 4.f});
  auto g = kx::grad([f](const Vec& x) { return Vec{kx::sum(f(x)[0] + f(x)[1])}; }, {0, 1})(args);
  expect_near(g[0], {5.f, 6.f});
  expect_near(g[1], {0.f, 0.f});
  // forward mode differentiates the function itself
  auto [o, t] = kx::jvp([f](const Vec& x) { return Vec{f(x)[0]}; }, args,
                        {array({1.f, 1.f}), array({0.f, 0.f})});
  expect_near(t[0], {std::cos(0.5f), std::cos(1.0f)});
  // a differentiable custom rule composes to second order: vjp = cot * 3 x^2 for x^3
  auto cube = kx::custom_vjp(
      [](const Vec& x) { return Vec{x[0] * x[0] * x[0]}; },
      [](const Vec& p, const Vec& c, const Vec&) { return Vec{c[0] * 3.0f * p[0] * p[0]}; });
  F1 d1 = kx::grad(F1([cube](const array& x) { return kx::sum(cube({x})[0]); }));
  EXPECT_NEAR(
      kx::grad(F1([d1](const array& x) { return kx::sum(d1(x)); }))(array(2.0f)).item<float>(),
      12.f, 1e-5);
  // the primitive is a graph node like any other
  EXPECT_EQ(f(args)[0].primitive().name(), "CustomVJP");
}

TEST(Autograd, CustomVjpErrors) {
  auto bad = kx::custom_vjp([](const Vec& x) { return Vec{x[0] * 2.0f}; },
                            [](const Vec&, const Vec& c, const Vec&) {
                              return Vec{c[0], c[0]};
                            });
  EXPECT_THROW(kx::grad([bad](const Vec& x) { return Vec{kx::sum(bad(x)[0])}; })({array({1.f})}),
               std::invalid_argument);
  auto bad_shape = kx::custom_vjp([](const Vec& x) { return Vec{x[0] * 2.0f}; },
                                  [](const Vec&, const Vec&, const Vec&) {
                                    return Vec{array({1.f, 2.f})};
                                  });
  EXPECT_THROW(kx::grad([bad_shape](const Vec& x) { return Vec{kx::sum(bad_shape(x)[0])}; })(
                   {array({1.f, 2.f, 3.f})}),
               std::invalid_argument);
  EXPECT_THROW(kx::custom_vjp(nullptr, nullptr), std::invalid_argument);
  EXPECT_THROW(kx::checkpoint(nullptr), std::invalid_argument);
}

TEST(Autograd, Checkpoint) {
  int calls = 0;
  kx::VectorFn block = [&calls](const Vec& x) {
    ++calls;
    array h = kx::tanh(kx::matmul(x[0], x[1]));
    return Vec{kx::sum(h * h), h};
  };
  auto ck = kx::checkpoint(block);
  array a = uniform({2, 3}), b = uniform({3, 2});
  auto loss = [](const kx::VectorFn& f) {
    return [f](const Vec& x) {
      auto o = f(x);
      return Vec{o[0] + kx::sum(o[1])};
    };
  };
  auto plain = kx::value_and_grad(loss(block), {0, 1})({a, b});
  calls = 0;
  auto [v, g] = kx::value_and_grad(loss(ck), {0, 1})({a, b});
  EXPECT_EQ(calls, 2);  // forward, then recomputed in the backward pass
  EXPECT_NEAR(v[0].item<float>(), plain.first[0].item<float>(), 1e-6);
  expect_near(g[0], vals(plain.second[0]));
  expect_near(g[1], vals(plain.second[1]));
  EXPECT_TRUE(check_grads(ck, {a, b}));
  EXPECT_EQ(ck({a, b})[0].primitive().name(), "Checkpoint");
  // nested: checkpoint of a checkpoint, second order
  auto ck2 = kx::checkpoint(kx::checkpoint([](const Vec& x) { return Vec{kx::sin(x[0]) * x[0]}; }));
  EXPECT_TRUE(
      check_grads(second_order([ck2](const array& x) { return ck2({x})[0]; }), uniform({4})));
}

TEST(Autograd, ComposesWithCompile) {
  auto loss = [](const Vec& x) { return Vec{kx::sum(kx::exp(x[0]) * x[1] + kx::square(x[1]))}; };
  Vec args = {uniform({3}), uniform({3})};
  auto eager = kx::grad(loss, {0, 1})(args);
  auto compiled_grad = kx::compile(kx::grad(loss, {0, 1}));
  for (int rep = 0; rep < 2; ++rep) {
    auto r = compiled_grad(args);
    expect_near(r[0], vals(eager[0]));
    expect_near(r[1], vals(eager[1]));
  }
  auto grad_of_compiled = kx::grad(kx::compile(loss), {0, 1})(args);
  expect_near(grad_of_compiled[0], vals(eager[0]));
  expect_near(grad_of_compiled[1], vals(eager[1]));
  // jvp, custom_vjp and checkpoint inside a trace
  auto cj = kx::compile([](const Vec& x) {
    return kx::jvp([](const Vec& y) { return Vec{kx::sin(y[0])}; }, x, {kx::ones_like(x[0])})
        .second;
  });
  expect_near(cj({array({0.f, 1.f})})[0], {1.f, std::cos(1.f)});
  auto ck = kx::compile(kx::grad(
      [](const Vec& x) {
        return Vec{
            kx::sum(kx::checkpoint([](const Vec& y) { return Vec{kx::sin(y[0]) * 2.0f}; })(x)[0])};
      },
      {0}));
  expect_near(ck({array({0.f, 1.f})})[0], {2.f, 2 * std::cos(1.f)});
}

TEST(Autograd, StopGradientInsideFunction) {
  auto g = kx::grad([](const array& x) { return kx::sum(x * kx::stop_gradient(x)); });
  expect_near(g(array({2.f, 3.f})), {2.f, 3.f});
}

TEST(Autograd, LowPrecisionAndEdgeShapes) {
  // gradients keep the primal's dtype
  for (auto dt : {kx::float16, kx::bfloat16}) {
    array x = kx::astype(array({1.f, -2.f, 0.5f}), dt);
    array g = kx::grad(F1([](const array& v) { return kx::sum(v * v * 3.0f); }))(x);
    EXPECT_EQ(g.dtype(), dt);
    expect_near(g, {6.f, -12.f, 3.f}, 2e-2f);
  }
  // empty arrays and scalars
  array e = kx::zeros({0, 3});
  array ge = kx::grad(F1([](const array& v) { return kx::sum(kx::exp(v) * 2.0f); }))(e);
  EXPECT_EQ(ge.shape(), Shape({0, 3}));
  EXPECT_EQ(ge.size(), 0u);
  auto gs = kx::grad(F1([](const array& v) { return kx::cumprod(kx::reshape(v, {1}), 0) * v; }));
  EXPECT_FLOAT_EQ(gs(array(3.f)).item<float>(), 6.f);
  EXPECT_TRUE(
      check_grads([](const array& v) { return kx::sort(kx::cumprod(v, 0)); }, array({0.7f})));
}

TEST(Autograd, JvpIgnoresIntegerPrimals) {
  // integer primals are constants in forward mode (their tangents are ignored)
  auto f = [](const Vec& x) { return Vec{kx::take(x[0], x[1], 0) * 2.0f}; };
  auto [o, t] = kx::jvp(f, {array({1.f, 2.f, 3.f}), array({2, 0}, kx::int32)},
                        {array({10.f, 20.f, 30.f}), array({1, 1}, kx::int32)});
  expect_near(o[0], {6.f, 2.f});
  expect_near(t[0], {60.f, 20.f});
}

// ------------------------------------------------------------------ errors
template <typename Fn>
void expect_invalid(Fn&& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected std::invalid_argument mentioning '" << fragment << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(AutogradErrors, NonScalarLoss) {
  expect_invalid(
      [] {
        kx::grad(F1([](const array& x) { return x * 2.0f; }))(array({1.f, 2.f}));
      },
      "scalar");
  expect_invalid(
      [] {
        kx::value_and_grad([](const Vec& x) { return Vec{x[0]}; })({array({1.f, 2.f})});
      },
      "(2,)");
  expect_invalid([] { kx::grad([](const Vec&) { return Vec{}; })({array(1.f)}); }, "no outputs");
}

TEST(AutogradErrors, Argnums) {
  kx::VectorFn f = [](const Vec& x) { return Vec{kx::sum(x[0] * x[1])}; };
  Vec args = {array(1.f), array(2.f)};
  expect_invalid([&] { kx::grad(f, {}); }, "empty");
  expect_invalid([&] { kx::value_and_grad(f, {}); }, "empty");
  expect_invalid([&] { kx::grad(f, {0, 0}); }, "twice");
  expect_invalid([&] { kx::grad(f, {1, -1})(args); }, "twice");
  expect_invalid([&] { kx::grad(f, {2})(args); }, "out of range");
  expect_invalid([&] { kx::grad(f, {-3})(args); }, "out of range");
  expect_invalid([&] { kx::value_and_grad(f, {5})(args); }, "2 arguments");
}

TEST(AutogradErrors, CotangentsAndTangents) {
  kx::VectorFn f = [](const Vec& x) { return Vec{x[0] * 2.0f, x[0] + 1.0f}; };
  array x({1.f, 2.f});
  expect_invalid([&] { kx::vjp(f, {x}, {x}); }, "1 cotangents for a function with 2 outputs");
  expect_invalid([&] { kx::vjp(f, {x}, {x, array({1.f, 2.f, 3.f})}); }, "(3,)");
  expect_invalid([&] { kx::jvp(f, {x}, {}); }, "0 tangents for 1 primals");
  expect_invalid([&] { kx::jvp(f, {x}, {array(1.f)}); }, "shape ()");
  expect_invalid([&] { kx::vjp(f, {array()}, {x, x}); }, "empty array handle");
}

TEST(AutogradErrors, GradientWithRespectToIndices) {
  auto f = [](const Vec& x) { return Vec{kx::sum(kx::take(x[0], x[1], 0))}; };
  Vec args = {array({1.f, 2.f, 3.f}), array({0, 2}, kx::int32)};
  try {
    kx::grad(f, {0, 1})(args);
    ADD_FAILURE() << "expected a TransformError";
  } catch (const kx::TransformError& e) {
    EXPECT_NE(std::string(e.what()).find("stop_gradient"), std::string::npos) << e.what();
  }
  // indices computed from the differentiated input
  auto h = [](const array& x) { return kx::sum(kx::take(x, kx::argmax(x, 0, true), 0)); };
  EXPECT_THROW(kx::grad(F1(h))(array({1.f, 5.f, 3.f})), kx::TransformError);
  auto h2 = [](const array& x) {
    return kx::sum(kx::take_along_axis(x, kx::argsort(x, 0), 0) * array({1.f, 2.f, 3.f}));
  };
  EXPECT_THROW(kx::grad(F1(h2))(array({1.f, 5.f, 3.f})), kx::TransformError);
  // ... and stop_gradient is the fix
  auto ok = [](const array& x) {
    return kx::sum(kx::take(x, kx::stop_gradient(kx::argmax(x, 0, true)), 0));
  };
  expect_near(kx::grad(F1(ok))(array({1.f, 5.f, 3.f})), {0.f, 1.f, 0.f});
  // differentiating only the data argument is fine
  expect_near(kx::grad(f, {0})(args)[0], {1.f, 0.f, 1.f});
  // scatter indices as well
  auto s = [](const Vec& x) {
    return Vec{kx::sum(kx::scatter_add(kx::zeros({3}), x[1], x[0], 0))};
  };
  EXPECT_THROW(kx::grad(s, {1})({array({1.f, 2.f}), array({0, 2}, kx::int32)}), kx::TransformError);
}

}  // namespace
