// Elementwise ops: unary math, binary arithmetic, comparisons, logical ops, where, clip,
// isclose/allclose/array_equal — values, dtypes, broadcasting, non-contiguous, empty, 0-d.
#include <functional>

#include "ops_test_helpers.h"

using kt::all_close;
using kt::bv;
using kt::fv;
using kt::iv;

namespace {

const float kPi = 3.14159265358979f;

// Checks a float unary op against a double reference over `xs`, in every float dtype (the
// input is first rounded to that dtype, as the op sees it).
void check_unary(const char* name, const std::function<kx::array(const kx::array&)>& op,
                 const std::function<double(double)>& ref, const std::vector<float>& xs,
                 float rtol32 = 2e-6f, float atol = 1e-6f) {
  for (auto d : kt::kFloatDtypes) {
    auto x = kx::astype(kx::array(xs.data(), {static_cast<int>(xs.size())}), d);
    auto xr = fv(x);
    std::vector<float> expect;
    for (float v : xr) expect.push_back(static_cast<float>(ref(v)));
    // the result is rounded to d as well
    expect = fv(kx::astype(kx::array(expect.data(), {static_cast<int>(expect.size())}), d));
    auto y = op(x);
    EXPECT_EQ(y.dtype(), d) << name;
    float rtol = d == kx::float32 ? rtol32 : kt::tol_for(d);
    EXPECT_TRUE(all_close(y, expect, rtol, atol)) << name << " " << d;
  }
}

std::vector<float> sweep(float lo, float hi, int n) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * i / (n - 1));
  return v;
}

}  // namespace

// ------------------------------------------------------------------ unary
TEST(Unary, AbsNegativeSignSquare) {
  auto f = kx::array({-1.5f, 0.f, 2.f});
  EXPECT_EQ(fv(kx::abs(f)), std::vector<float>({1.5f, 0.f, 2.f}));
  EXPECT_EQ(fv(kx::negative(f)), std::vector<float>({1.5f, -0.f, -2.f}));
  EXPECT_EQ(fv(kx::sign(f)), std::vector<float>({-1.f, 0.f, 1.f}));
  EXPECT_EQ(fv(kx::square(f)), std::vector<float>({2.25f, 0.f, 4.f}));
  EXPECT_TRUE(std::isnan(kx::sign(kx::array(NAN)).item<float>()));
  for (auto d : kt::kNumericDtypes) {
    bool uns = d == kx::uint32;
    auto x = kx::astype(uns ? kx::array({3.f, 0.f, 2.f}) : kx::array({-3.f, 0.f, 2.f}), d);
    EXPECT_EQ(kx::abs(x).dtype(), d);
    EXPECT_EQ(fv(kx::abs(x)), std::vector<float>({3.f, 0.f, 2.f})) << d;
    EXPECT_EQ(fv(kx::square(x)), std::vector<float>({9.f, 0.f, 4.f})) << d;
    EXPECT_EQ(fv(kx::sign(x)),
              uns ? std::vector<float>({1.f, 0.f, 1.f}) : std::vector<float>({-1.f, 0.f, 1.f}))
        << d;
    EXPECT_EQ(kx::negative(x).dtype(), d);
    if (!uns) EXPECT_EQ(fv(kx::negative(x)), std::vector<float>({3.f, -0.f, -2.f})) << d;
  }
  // unsigned negation wraps
  EXPECT_EQ(kt::uv(kx::negative(kx::array({1u}))), std::vector<uint32_t>({4294967295u}));
  EXPECT_OP_THROWS(kx::negative(kx::array({true})), "negative");
  EXPECT_OP_THROWS(-kx::array(true), "negative");
}

TEST(Unary, SqrtRsqrtReciprocal) {
  EXPECT_TRUE(all_close(kx::sqrt(kx::array({4.f, 9.f, 2.f, 0.f})), {2.f, 3.f, 1.41421356f, 0.f}));
  EXPECT_TRUE(std::isnan(kx::sqrt(kx::array(-1.f)).item<float>()));
  EXPECT_TRUE(all_close(kx::rsqrt(kx::array({4.f, 0.25f})), {0.5f, 2.f}));
  EXPECT_EQ(kx::rsqrt(kx::array(0.f)).item<float>(), INFINITY);
  EXPECT_TRUE(all_close(kx::reciprocal(kx::array({2.f, -4.f})), {0.5f, -0.25f}));
  // integer inputs become float32
  auto r = kx::sqrt(kx::array({4, 16}));
  EXPECT_EQ(r.dtype(), kx::float32);
  EXPECT_EQ(fv(r), std::vector<float>({2.f, 4.f}));
  EXPECT_EQ(kx::reciprocal(kx::array({2})).dtype(), kx::float32);
  EXPECT_EQ(kx::sqrt(kx::array({true})).dtype(), kx::float32);
  check_unary(
      "sqrt", [](auto& x) { return kx::sqrt(x); }, [](double v) { return std::sqrt(v); },
      sweep(0.f, 100.f, 41));
  check_unary(
      "rsqrt", [](auto& x) { return kx::rsqrt(x); }, [](double v) { return 1.0 / std::sqrt(v); },
      sweep(0.01f, 100.f, 41));
  check_unary(
      "reciprocal", [](auto& x) { return kx::reciprocal(x); }, [](double v) { return 1.0 / v; },
      sweep(0.5f, 50.f, 21));
}

TEST(Unary, ExpLogFamily) {
  EXPECT_TRUE(all_close(kx::exp(kx::array({0.f, 1.f, -1.f})), {1.f, 2.718281828f, 0.36787944f}));
  auto special = fv(kx::exp(kx::array({-INFINITY, INFINITY, 100.f, -200.f, NAN})));
  EXPECT_EQ(special[0], 0.f);
  EXPECT_EQ(special[1], INFINITY);
  EXPECT_EQ(special[2], INFINITY);
  EXPECT_EQ(special[3], 0.f);
  EXPECT_TRUE(std::isnan(special[4]));
  // the fast exp is accurate over the whole float range, subnormal results included
  check_unary(
      "exp", [](auto& x) { return kx::exp(x); }, [](double v) { return std::exp(v); },
      sweep(-87.f, 88.f, 701), 4e-6f, 0.f);
  check_unary(
      "exp_small", [](auto& x) { return kx::exp(x); }, [](double v) { return std::exp(v); },
      sweep(-1e-3f, 1e-3f, 41), 2e-7f, 0.f);
  EXPECT_NEAR(kx::exp(kx::array(-100.f)).item<float>(), 3.720076e-44f, 2e-45f);

  EXPECT_TRUE(all_close(kx::log(kx::array({1.f, 2.718281828f, 0.5f})), {0.f, 1.f, -0.69314718f}));
  auto ls = fv(kx::log(kx::array({0.f, -1.f, INFINITY, NAN, 1e-40f})));
  EXPECT_EQ(ls[0], -INFINITY);
  EXPECT_TRUE(std::isnan(ls[1]));
  EXPECT_EQ(ls[2], INFINITY);
  EXPECT_TRUE(std::isnan(ls[3]));
  EXPECT_NEAR(ls[4], -92.1034f, 1e-3f);  // subnormal input
  std::vector<float> pos;
  for (int e = -120; e <= 120; e += 3)
    for (float m : {1.f, 1.3f, 1.41f, 1.42f, 1.9f}) pos.push_back(std::ldexp(m, e));
  check_unary(
      "log", [](auto& x) { return kx::log(x); }, [](double v) { return std::log(v); }, pos, 2e-6f,
      1e-6f);
  check_unary(
      "log_near1", [](auto& x) { return kx::log(x); }, [](double v) { return std::log(v); },
      sweep(0.9f, 1.1f, 41), 2e-6f, 1e-7f);
  EXPECT_TRUE(all_close(kx::log2(kx::array({8.f, 0.5f, 1024.f})), {3.f, -1.f, 10.f}));
  EXPECT_TRUE(all_close(kx::log10(kx::array({1000.f, 0.01f})), {3.f, -2.f}, 1e-6f));
  EXPECT_EQ(kx::log10(kx::array({1.f}, kx::float16)).dtype(), kx::float16);
  EXPECT_TRUE(all_close(kx::log1p(kx::array({1e-10f, 1.f, -1.f})), {1e-10f, 0.69314718f, -INFINITY},
                        1e-6f, 0.f));
  EXPECT_TRUE(all_close(kx::expm1(kx::array({1e-10f, 1.f})), {1e-10f, 1.718281828f}, 1e-6f, 0.f));
  check_unary(
      "expm1", [](auto& x) { return kx::expm1(x); }, [](double v) { return std::expm1(v); },
      sweep(-5.f, 5.f, 41));
  check_unary(
      "log1p", [](auto& x) { return kx::log1p(x); }, [](double v) { return std::log1p(v); },
      sweep(-0.9f, 5.f, 41));
  // integer inputs promote to float32
  EXPECT_EQ(kx::exp(kx::array({0})).dtype(), kx::float32);
  EXPECT_EQ(kx::log(kx::array({1u})).dtype(), kx::float32);
}

TEST(Unary, Trigonometric) {
  EXPECT_TRUE(all_close(kx::sin(kx::array({0.f, kPi / 2, kPi / 6})), {0.f, 1.f, 0.5f}, 1e-6f));
  EXPECT_TRUE(all_close(kx::cos(kx::array({0.f, kPi, kPi / 3})), {1.f, -1.f, 0.5f}, 1e-6f));
  EXPECT_TRUE(all_close(kx::tan(kx::array({0.f, kPi / 4})), {0.f, 1.f}, 1e-6f));
  EXPECT_TRUE(all_close(kx::arcsin(kx::array({0.f, 1.f, 0.5f})), {0.f, kPi / 2, kPi / 6}, 1e-6f));
  EXPECT_TRUE(all_close(kx::arccos(kx::array({1.f, -1.f, 0.f})), {0.f, kPi, kPi / 2}, 1e-6f));
  EXPECT_TRUE(all_close(kx::arctan(kx::array({0.f, 1.f, INFINITY})), {0.f, kPi / 4, kPi / 2}));
  EXPECT_TRUE(std::isnan(kx::arcsin(kx::array(2.f)).item<float>()));
  auto xs = sweep(-3.f, 3.f, 61);
  check_unary(
      "sin", [](auto& x) { return kx::sin(x); }, [](double v) { return std::sin(v); }, xs);
  check_unary(
      "cos", [](auto& x) { return kx::cos(x); }, [](double v) { return std::cos(v); }, xs);
  check_unary(
      "sinh", [](auto& x) { return kx::sinh(x); }, [](double v) { return std::sinh(v); }, xs);
  check_unary(
      "cosh", [](auto& x) { return kx::cosh(x); }, [](double v) { return std::cosh(v); }, xs);
  // wider ranges: the reduction by pi/2 stays accurate (absolute error, as sin has zeros)
  auto wide = sweep(-8000.f, 8000.f, 4001);
  check_unary(
      "sin_wide", [](auto& x) { return kx::sin(x); }, [](double v) { return std::sin(v); }, wide,
      0.f, 1e-6f);
  check_unary(
      "cos_wide", [](auto& x) { return kx::cos(x); }, [](double v) { return std::cos(v); }, wide,
      0.f, 1e-6f);
  std::vector<float> near_zeros;
  for (int k = -50; k <= 50; ++k)
    for (float d : {-1e-3f, 0.f, 1e-3f}) near_zeros.push_back(k * kPi / 2 + d);
  check_unary(
      "sin_near_zeros", [](auto& x) { return kx::sin(x); }, [](double v) { return std::sin(v); },
      near_zeros, 0.f, 2e-7f);
  check_unary(
      "cos_near_zeros", [](auto& x) { return kx::cos(x); }, [](double v) { return std::cos(v); },
      near_zeros, 0.f, 2e-7f);
  // huge and non-finite arguments (the CPU backend's contract: <cmath> beyond the fast
  // reduction's range)
  auto huge = fv(kx::sin(kx::array({1e6f, -3e9f, 1e30f, INFINITY, NAN, 0.5f}), kx::Device::cpu));
  EXPECT_NEAR(huge[0], std::sin(1e6f), 1e-6f);
  EXPECT_NEAR(huge[1], std::sin(-3e9f), 1e-6f);
  EXPECT_NEAR(huge[2], std::sin(1e30f), 1e-6f);
  EXPECT_TRUE(std::isnan(huge[3]) && std::isnan(huge[4]));
  EXPECT_NEAR(huge[5], std::sin(0.5f), 1e-7f);
  EXPECT_TRUE(std::isnan(kx::cos(kx::array(-INFINITY), kx::Device::cpu).item<float>()));
  check_unary(
      "arctan", [](auto& x) { return kx::arctan(x); }, [](double v) { return std::atan(v); }, xs);
  auto unit = sweep(-0.99f, 0.99f, 41);
  check_unary(
      "arcsin", [](auto& x) { return kx::arcsin(x); }, [](double v) { return std::asin(v); }, unit);
  check_unary(
      "arccos", [](auto& x) { return kx::arccos(x); }, [](double v) { return std::acos(v); }, unit);
}

TEST(Unary, TanhSigmoid) {
  auto t = fv(kx::tanh(kx::array({0.f, 20.f, -20.f, 1e-6f, INFINITY, -INFINITY})));
  EXPECT_EQ(t[0], 0.f);
  EXPECT_EQ(t[1], 1.f);
  EXPECT_EQ(t[2], -1.f);
  EXPECT_NEAR(t[3], 1e-6f, 1e-12f);
  EXPECT_EQ(t[4], 1.f);
  EXPECT_EQ(t[5], -1.f);
  EXPECT_TRUE(std::isnan(kx::tanh(kx::array(NAN)).item<float>()));
  check_unary(
      "tanh", [](auto& x) { return kx::tanh(x); }, [](double v) { return std::tanh(v); },
      sweep(-10.f, 10.f, 401), 3e-6f, 1e-7f);
  check_unary(
      "tanh_small", [](auto& x) { return kx::tanh(x); }, [](double v) { return std::tanh(v); },
      sweep(-0.6f, 0.6f, 121), 3e-6f, 0.f);
  auto s = fv(kx::sigmoid(kx::array({0.f, 100.f, -100.f, INFINITY, -INFINITY})));
  EXPECT_EQ(s[0], 0.5f);
  EXPECT_EQ(s[1], 1.f);
  EXPECT_NEAR(s[2], 3.72e-44f, 1e-45f);  // no 0/0
  EXPECT_EQ(s[3], 1.f);
  EXPECT_EQ(s[4], 0.f);
  check_unary(
      "sigmoid", [](auto& x) { return kx::sigmoid(x); },
      [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, sweep(-30.f, 30.f, 241), 4e-6f, 0.f);
  EXPECT_EQ(kx::sigmoid(kx::array({1})).dtype(), kx::float32);
}

TEST(Unary, ErfErfinv) {
  EXPECT_TRUE(all_close(kx::erf(kx::array({0.f, 0.5f, -1.f, 5.f})),
                        {0.f, 0.5204998778f, -0.8427007929f, 1.f}, 1e-6f));
  check_unary(
      "erf", [](auto& x) { return kx::erf(x); }, [](double v) { return std::erf(v); },
      sweep(-5.f, 5.f, 201), 1e-6f, 3e-7f);
  EXPECT_TRUE(all_close(kx::erfinv(kx::array({0.f, 0.5f, -0.9f})),
                        {0.f, 0.4769362762f, -1.1630871537f}, 2e-6f));
  auto e = fv(kx::erfinv(kx::array({1.f, -1.f, 1.5f})));
  EXPECT_EQ(e[0], INFINITY);
  EXPECT_EQ(e[1], -INFINITY);
  EXPECT_TRUE(std::isnan(e[2]));
  // erf(erfinv(x)) == x, including the tails used by random::normal
  auto xs = sweep(-0.999999f, 0.999999f, 201);
  auto xa = kx::array(xs.data(), {201});
  EXPECT_TRUE(all_close(kx::erf(kx::erfinv(xa)), xs, 1e-5f, 1e-6f));
}

TEST(Unary, RoundingOps) {
  auto x = kx::array({-1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 2.4f, -2.6f});
  EXPECT_EQ(fv(kx::floor(x)), std::vector<float>({-2, -1, 0, 1, 2, 2, -3}));
  EXPECT_EQ(fv(kx::ceil(x)), std::vector<float>({-1, -0., 1, 2, 3, 3, -2}));
  // half to even, like NumPy/MLX
  EXPECT_EQ(fv(kx::round(x)), std::vector<float>({-2, -0., 0, 2, 2, 2, -3}));
  for (auto d : kt::kFloatDtypes) {
    EXPECT_EQ(kx::floor(kx::astype(x, d)).dtype(), d);
    EXPECT_EQ(fv(kx::round(kx::astype(x, d))), std::vector<float>({-2, -0., 0, 2, 2, 2, -3}));
  }
  // integers pass through unchanged (and keep their dtype)
  for (auto d : {kx::int32, kx::uint32, kx::int64}) {
    auto i = kx::astype(kx::array({1, 7}), d);
    EXPECT_EQ(kx::floor(i).dtype(), d);
    EXPECT_EQ(fv(kx::round(i)), std::vector<float>({1, 7}));
    EXPECT_EQ(fv(kx::ceil(i)), std::vector<float>({1, 7}));
  }
}

TEST(Unary, LogicalNotIsNanIsInf) {
  EXPECT_EQ(bv(kx::logical_not(kx::array({true, false}))), std::vector<bool>({false, true}));
  EXPECT_EQ(bv(kx::logical_not(kx::array({0.f, 2.f, -0.f}))),
            std::vector<bool>({true, false, true}));
  EXPECT_EQ(bv(kx::logical_not(kx::array({0, 3}))), std::vector<bool>({true, false}));
  auto f = kx::array({1.f, NAN, INFINITY, -INFINITY});
  for (auto d : kt::kFloatDtypes) {
    auto x = kx::astype(f, d);
    EXPECT_EQ(kx::isnan(x).dtype(), kx::bool_);
    EXPECT_EQ(bv(kx::isnan(x)), std::vector<bool>({false, true, false, false})) << d;
    EXPECT_EQ(bv(kx::isinf(x)), std::vector<bool>({false, false, true, true})) << d;
    EXPECT_EQ(bv(kx::isfinite(x)), std::vector<bool>({true, false, false, false})) << d;
  }
  for (auto d : {kx::bool_, kx::int32, kx::uint32, kx::int64}) {
    auto x = kx::astype(kx::array({1, 0}), d);
    EXPECT_EQ(bv(kx::isnan(x)), std::vector<bool>({false, false}));
    EXPECT_EQ(bv(kx::isinf(x)), std::vector<bool>({false, false}));
    EXPECT_EQ(bv(kx::isfinite(x)), std::vector<bool>({true, true}));
  }
}

TEST(Unary, EmptyZeroDimNonContiguous) {
  auto e = kx::exp(kx::zeros({0, 3}));
  EXPECT_EQ(e.shape(), kx::Shape({0, 3}));
  EXPECT_TRUE(fv(e).empty());
  auto s = kx::sqrt(kx::array(16.f));
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.item<float>(), 4.f);
  auto m = kx::reshape(kx::arange(0.0, 6.0, 1.0), {2, 3});
  auto t = kx::square(kx::transpose(m));  // (3, 2)
  EXPECT_EQ(fv(t), std::vector<float>({0, 9, 1, 16, 4, 25}));
  auto r = kx::negative(kx::slice(m, {1, 2}, {-3, -4}, {-1, -2}));  // rows 1,0; cols 2,0
  EXPECT_EQ(r.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(fv(r), std::vector<float>({-5, -3, -2, -0.}));
  auto b = kx::abs(kx::broadcast_to(kx::array({-1.f, 2.f}), {3, 2}));
  EXPECT_EQ(fv(b), std::vector<float>({1, 2, 1, 2, 1, 2}));
  // large enough to be split over threads
  auto big = kx::exp(kx::zeros({200001}));
  auto bvals = fv(big);
  EXPECT_EQ(bvals.front(), 1.f);
  EXPECT_EQ(bvals.back(), 1.f);
  EXPECT_EQ(kx::sum(big).item<float>(), 200001.f);
}

// ------------------------------------------------------------------ binary arithmetic
TEST(Binary, ArithmeticEveryDtype) {
  for (auto d : kt::kNumericDtypes) {
    auto a = kx::astype(kx::array({6.f, 8.f, 3.f, 10.f}), d);
    auto b = kx::astype(kx::array({2.f, 4.f, 1.f, 5.f}), d);
    EXPECT_EQ(kx::add(a, b).dtype(), d);
    EXPECT_EQ(fv(kx::add(a, b)), std::vector<float>({8, 12, 4, 15})) << d;
    EXPECT_EQ(fv(kx::subtract(a, b)), std::vector<float>({4, 4, 2, 5})) << d;
    EXPECT_EQ(fv(kx::multiply(a, b)), std::vector<float>({12, 32, 3, 50})) << d;
    EXPECT_EQ(fv(kx::divide(a, b)), std::vector<float>({3, 2, 3, 2})) << d;
    EXPECT_EQ(kx::divide(a, b).dtype(), kx::is_floating(d) ? d : kx::float32) << d;
    EXPECT_EQ(fv(kx::maximum(a, b)), std::vector<float>({6, 8, 3, 10})) << d;
    EXPECT_EQ(fv(kx::minimum(a, b)), std::vector<float>({2, 4, 1, 5})) << d;
    EXPECT_EQ(fv(kx::floor_divide(a, b)), std::vector<float>({3, 2, 3, 2})) << d;
    EXPECT_EQ(fv(kx::remainder(a, b)), std::vector<float>({0, 0, 0, 0})) << d;
    EXPECT_EQ(fv(kx::power(b, kx::astype(kx::array({3.f, 2.f, 5.f, 1.f}), d))),
              std::vector<float>({8, 16, 1, 5}))
        << d;
  }
  // bool: add is or, multiply is and
  auto t = kx::array({true, true, false, false}), u = kx::array({true, false, true, false});
  EXPECT_EQ(kx::add(t, u).dtype(), kx::bool_);
  EXPECT_EQ(bv(kx::add(t, u)), std::vector<bool>({true, true, true, false}));
  EXPECT_EQ(bv(kx::multiply(t, u)), std::vector<bool>({true, false, false, false}));
  EXPECT_EQ(bv(kx::maximum(t, u)), std::vector<bool>({true, true, true, false}));
  EXPECT_EQ(kx::divide(t, u).dtype(), kx::float32);
  EXPECT_OP_THROWS(kx::subtract(t, u), "subtract");
  EXPECT_OP_THROWS(t - true, "subtract");
}

TEST(Binary, DivisionSemantics) {
  auto f = fv(kx::divide(kx::array({1.f, -1.f, 0.f}), kx::array({0.f, 0.f, 0.f})));
  EXPECT_EQ(f[0], INFINITY);
  EXPECT_EQ(f[1], -INFINITY);
  EXPECT_TRUE(std::isnan(f[2]));
  EXPECT_EQ(fv(kx::divide(kx::array({7}), kx::array({2}))), std::vector<float>({3.5f}));
  // Python floor division and remainder (sign of the divisor)
  auto a = kx::array({7, -7, 7, -7}), b = kx::array({2, 2, -2, -2});
  EXPECT_EQ(iv(kx::floor_divide(a, b)), std::vector<int>({3, -4, -4, 3}));
  EXPECT_EQ(iv(kx::remainder(a, b)), std::vector<int>({1, 1, -1, -1}));
  auto a64 = kx::astype(a, kx::int64), b64 = kx::astype(b, kx::int64);
  EXPECT_EQ(kt::lv(kx::floor_divide(a64, b64)), std::vector<int64_t>({3, -4, -4, 3}));
  EXPECT_EQ(kt::lv(kx::remainder(a64, b64)), std::vector<int64_t>({1, 1, -1, -1}));
  EXPECT_EQ(iv(kx::remainder(kx::array({-7, 7}), kx::array({3, -3}))), std::vector<int>({2, -2}));
  EXPECT_EQ(kt::uv(kx::floor_divide(kx::array({7u}), kx::array({2u}))),
            std::vector<uint32_t>({3u}));
  EXPECT_EQ(kt::uv(kx::remainder(kx::array({7u}), kx::array({4u}))), std::vector<uint32_t>({3u}));
  auto fa = kx::array({7.5f, -7.5f, 5.5f, -5.5f}), fb = kx::array({2.f, 2.f, -2.f, 2.f});
  EXPECT_EQ(fv(kx::floor_divide(fa, fb)), std::vector<float>({3, -4, -3, -3}));
  EXPECT_EQ(fv(kx::remainder(fa, fb)), std::vector<float>({1.5f, 0.5f, -0.5f, 0.5f}));
  for (auto d : {kx::float16, kx::bfloat16}) {
    EXPECT_EQ(fv(kx::remainder(kx::astype(fa, d), kx::astype(fb, d))),
              std::vector<float>({1.5f, 0.5f, -0.5f, 0.5f}));
    EXPECT_EQ(fv(kx::floor_divide(kx::astype(fa, d), kx::astype(fb, d))),
              std::vector<float>({3, -4, -3, -3}));
  }
  // integer division by zero is defined as 0 (no trap)
  EXPECT_EQ(iv(kx::floor_divide(kx::array({5}), kx::array({0}))), std::vector<int>({0}));
  EXPECT_EQ(iv(kx::remainder(kx::array({5}), kx::array({0}))), std::vector<int>({0}));
  // INT_MIN // -1 does not trap
  EXPECT_NO_THROW(kx::floor_divide(kx::array({INT32_MIN}), kx::array({-1})).eval());
  EXPECT_EQ(iv(kx::remainder(kx::array({INT32_MIN}), kx::array({-1}))), std::vector<int>({0}));
}

TEST(Binary, MaximumMinimumNaN) {
  auto a = kx::array({NAN, 1.f, 2.f}), b = kx::array({1.f, NAN, 1.f});
  auto mx = fv(kx::maximum(a, b)), mn = fv(kx::minimum(a, b));
  EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1]));
  EXPECT_TRUE(std::isnan(mn[0]) && std::isnan(mn[1]));
  EXPECT_EQ(mx[2], 2.f);
  EXPECT_EQ(mn[2], 1.f);
  EXPECT_EQ(iv(kx::maximum(kx::array({-5, 3}), kx::array(0))), std::vector<int>({0, 3}));
  EXPECT_EQ(kt::lv(kx::minimum(kx::array({int64_t(-5)}), kx::array({int64_t(1) << 40}))),
            std::vector<int64_t>({-5}));
}

TEST(Binary, Power) {
  EXPECT_TRUE(all_close(kx::power(kx::array({2.f, 4.f, 2.f}), kx::array({3.f, 0.5f, -1.f})),
                        {8.f, 2.f, 0.5f}));
  EXPECT_EQ(iv(kx::power(kx::array({2, 3, -2}), kx::array({10, 0, 3}))),
            std::vector<int>({1024, 1, -8}));
  EXPECT_EQ(kt::lv(kx::power(kx::array({int64_t(3)}), kx::array({int64_t(30)}))),
            std::vector<int64_t>({205891132094649ll}));
  // negative integer exponents: 1 and -1 are exact, others go to 0
  EXPECT_EQ(iv(kx::power(kx::array({2, 1, -1, -1}), kx::array({-1, -3, -3, -2}))),
            std::vector<int>({0, 1, -1, 1}));
  EXPECT_TRUE(std::isnan(kx::power(kx::array(-8.f), kx::array(1.f / 3)).item<float>()));
  EXPECT_EQ(kx::power(kx::array({2}), 3).dtype(), kx::int32);
  // a scalar exponent of 2 (fast path) agrees with pow, including special values
  auto sq = fv(kx::power(kx::array({-3.f, 0.5f, -0.f, INFINITY, -INFINITY, NAN, 1e20f}), 2.f));
  EXPECT_EQ(sq[0], 9.f);
  EXPECT_EQ(sq[1], 0.25f);
  EXPECT_EQ(sq[2], 0.f);
  EXPECT_EQ(sq[3], INFINITY);
  EXPECT_EQ(sq[4], INFINITY);
  EXPECT_TRUE(std::isnan(sq[5]));
  EXPECT_EQ(sq[6], INFINITY);
  EXPECT_EQ(fv(kx::power(kx::array({3.f}, kx::bfloat16), 2.f)), std::vector<float>({9.f}));
  EXPECT_EQ(kx::power(kx::array({2.f}, kx::float16), kx::array(2.f, kx::float16)).dtype(),
            kx::float16);
}

TEST(Binary, ArcTan2LogAddExp) {
  EXPECT_TRUE(
      all_close(kx::arctan2(kx::array({1.f, 1.f, -1.f, 0.f}), kx::array({1.f, -1.f, 0.f, 1.f})),
                {kPi / 4, 3 * kPi / 4, -kPi / 2, 0.f}, 1e-6f));
  EXPECT_EQ(kx::arctan2(kx::array({1}), kx::array({1})).dtype(), kx::float32);
  auto l = fv(kx::logaddexp(kx::array({0.f, -INFINITY, INFINITY, 1000.f, 1.f}),
                            kx::array({0.f, -INFINITY, 1.f, 1000.f, -INFINITY})));
  EXPECT_NEAR(l[0], 0.69314718f, 1e-6f);
  EXPECT_EQ(l[1], -INFINITY);
  EXPECT_EQ(l[2], INFINITY);
  EXPECT_NEAR(l[3], 1000.6931f, 1e-3f);
  EXPECT_EQ(l[4], 1.f);
  EXPECT_TRUE(std::isnan(kx::logaddexp(kx::array(NAN), kx::array(1.f)).item<float>()));
  EXPECT_EQ(kx::logaddexp(kx::array({1}), kx::array({1})).dtype(), kx::float32);
  EXPECT_EQ(kx::logaddexp(kx::array({1.f}, kx::bfloat16), kx::array({1.f}, kx::bfloat16)).dtype(),
            kx::bfloat16);
}

TEST(Binary, Broadcasting) {
  auto m = kx::reshape(kx::arange(6), {2, 3});
  EXPECT_EQ(iv(kx::add(m, kx::array({10, 20, 30}))), std::vector<int>({10, 21, 32, 13, 24, 35}));
  EXPECT_EQ(iv(kx::add(m, kx::array({100, 200}, {2, 1}))),
            std::vector<int>({100, 101, 102, 203, 204, 205}));
  auto o = kx::multiply(kx::array({1, 2}, {2, 1}), kx::array({1, 10, 100}, {1, 3}));
  EXPECT_EQ(o.shape(), kx::Shape({2, 3}));
  EXPECT_EQ(iv(o), std::vector<int>({1, 10, 100, 2, 20, 200}));
  // 0-d with n-d, and rank extension
  EXPECT_EQ(iv(kx::subtract(kx::array(10), m)), std::vector<int>({10, 9, 8, 7, 6, 5}));
  auto r3 = kx::add(kx::zeros({4, 1, 3}, kx::int32), kx::ones({2, 1}, kx::int32));
  EXPECT_EQ(r3.shape(), kx::Shape({4, 2, 3}));
  EXPECT_EQ(kx::sum(r3).item<int>(), 24);
  // empty dimensions broadcast to empty
  auto e = kx::add(kx::zeros({0, 3}), kx::ones({3}));
  EXPECT_EQ(e.shape(), kx::Shape({0, 3}));
  EXPECT_EQ(kx::add(kx::zeros({1, 3}), kx::zeros({0, 1})).shape(), kx::Shape({0, 3}));
  // 0-d with 0-d
  auto z = kx::multiply(kx::array(3.f), kx::array(4.f));
  EXPECT_EQ(z.ndim(), 0);
  EXPECT_EQ(z.item<float>(), 12.f);
  EXPECT_OP_THROWS(kx::add(kx::zeros({2, 3}), kx::zeros({2})), "add");
  EXPECT_OP_THROWS(kx::multiply(kx::zeros({3}), kx::zeros({4})), "multiply");
  EXPECT_OP_THROWS(kx::divide(kx::zeros({2, 2}), kx::zeros({3, 1})), "divide");
  EXPECT_OP_THROWS(kx::power(kx::zeros({2}), kx::zeros({3})), "power");
  EXPECT_OP_THROWS(kx::less(kx::zeros({2}), kx::zeros({3})), "less");
  EXPECT_OP_THROWS(kx::logical_and(kx::zeros({2}), kx::zeros({3})), "logical_and");
  EXPECT_OP_THROWS(kx::zeros({2}) + kx::zeros({3}), "add");
  EXPECT_OP_THROWS(kx::add(kx::zeros({0}), kx::zeros({2})), "add");
}

TEST(Binary, NonContiguousAndLarge) {
  // transposed, reversed and broadcast operands, large enough for the threaded strided path
  const int R = 300, C = 257;
  auto base = kx::reshape(kx::arange(R * C), {R, C});
  auto t = kx::transpose(base);  // (C, R): t[i][j] = i + j*C
  auto col = kx::reshape(kx::arange(C), {C, 1});
  auto rev = kx::slice(kx::arange(R), {R - 1}, {-R - 1}, {-1});  // R-1 .. 0
  auto out = kx::add(kx::subtract(t, col), kx::broadcast_to(rev, {C, R}));
  auto v = iv(out);
  ASSERT_EQ(v.size(), size_t(R * C));
  bool ok = true;
  for (int i = 0; i < C && ok; ++i)
    for (int j = 0; j < R && ok; ++j) ok = v[i * R + j] == j * C + (R - 1 - j);
  EXPECT_TRUE(ok);
  // float16 strided broadcast
  auto h = kx::astype(kx::reshape(kx::arange(12), {3, 4}), kx::float16);
  auto hs = kx::multiply(kx::transpose(h), kx::array({1.f, -1.f, 0.5f}, kx::float16));
  EXPECT_EQ(hs.dtype(), kx::float16);
  EXPECT_EQ(fv(hs), std::vector<float>({0, -4, 4, 1, -5, 4.5f, 2, -6, 5, 3, -7, 5.5f}));
  // a stepped slice as the left operand, scalar on the right
  auto st = kx::slice(kx::arange(10), {1}, {10}, {3});  // 1 4 7
  EXPECT_EQ(iv(st * 2), std::vector<int>({2, 8, 14}));
  EXPECT_EQ(iv(kt::via_transpose(base) - base), std::vector<int>(R * C, 0));
  EXPECT_EQ(iv(kt::via_reversed_slice(base) - base), std::vector<int>(R * C, 0));
}

// ------------------------------------------------------------------ comparisons and logic
TEST(Compare, ValuesAndNaN) {
  auto a = kx::array({1.f, 2.f, NAN, 3.f}), b = kx::array({1.f, 3.f, NAN, 2.f});
  EXPECT_EQ(bv(kx::equal(a, b)), std::vector<bool>({true, false, false, false}));
  EXPECT_EQ(bv(kx::not_equal(a, b)), std::vector<bool>({false, true, true, true}));
  EXPECT_EQ(bv(kx::less(a, b)), std::vector<bool>({false, true, false, false}));
  EXPECT_EQ(bv(kx::less_equal(a, b)), std::vector<bool>({true, true, false, false}));
  EXPECT_EQ(bv(kx::greater(a, b)), std::vector<bool>({false, false, false, true}));
  EXPECT_EQ(bv(kx::greater_equal(a, b)), std::vector<bool>({true, false, false, true}));
  for (auto d : kt::kAllDtypes) {
    auto x = kx::astype(kx::array({0.f, 1.f, 1.f}), d),
         y = kx::astype(kx::array({1.f, 1.f, 0.f}), d);
    auto r = kx::less(x, y);
    EXPECT_EQ(r.dtype(), kx::bool_);
    EXPECT_EQ(bv(r), std::vector<bool>({true, false, false})) << d;
    EXPECT_EQ(bv(kx::equal(x, y)), std::vector<bool>({false, true, false})) << d;
  }
  // mixed dtypes compare after promotion: uint32 max vs int32 -1
  EXPECT_EQ(bv(kx::greater(kx::array({4294967295u}), kx::array({-1}))), std::vector<bool>({true}));
  EXPECT_EQ(bv(kx::equal(kx::array({2}), kx::array({2.f}))), std::vector<bool>({true}));
  // broadcasting
  auto g = kx::greater(kx::reshape(kx::arange(4), {2, 2}), kx::array({0, 2}));
  EXPECT_EQ(bv(g), std::vector<bool>({false, false, true, true}));
}

TEST(Compare, Logical) {
  auto a = kx::array({true, true, false, false}), b = kx::array({true, false, true, false});
  EXPECT_EQ(bv(kx::logical_and(a, b)), std::vector<bool>({true, false, false, false}));
  EXPECT_EQ(bv(kx::logical_or(a, b)), std::vector<bool>({true, true, true, false}));
  // non-bool inputs are truthy
  auto r = kx::logical_and(kx::array({0.f, 2.f, -1.f}), kx::array({5, 0, 3}));
  EXPECT_EQ(r.dtype(), kx::bool_);
  EXPECT_EQ(bv(r), std::vector<bool>({false, false, true}));
  EXPECT_EQ(bv(kx::logical_or(kx::array({0}), kx::array(0.5f))), std::vector<bool>({true}));
}

TEST(Compare, IsCloseAllCloseArrayEqual) {
  auto a = kx::array({1.f, 1.f + 1e-6f, 100.f, NAN, INFINITY});
  auto b = kx::array({1.f, 1.f, 100.001f, NAN, INFINITY});
  EXPECT_EQ(bv(kx::isclose(a, b)), std::vector<bool>({true, true, true, false, true}));
  EXPECT_EQ(bv(kx::isclose(a, b, 1e-5, 1e-8, true)),
            std::vector<bool>({true, true, true, true, true}));
  EXPECT_EQ(bv(kx::isclose(kx::array({1.f}), kx::array({1.1f}), 0.0, 0.2)),
            std::vector<bool>({true}));
  EXPECT_EQ(bv(kx::isclose(kx::array({1.f}), kx::array({1.1f}), 0.0, 0.05)),
            std::vector<bool>({false}));
  EXPECT_EQ(bv(kx::isclose(kx::array({INFINITY}), kx::array({-INFINITY}))),
            std::vector<bool>({false}));
  auto ac = kx::allclose(kx::array({1.f, 2.f}), kx::array({1.f, 2.00001f}));
  EXPECT_EQ(ac.ndim(), 0);
  EXPECT_EQ(ac.dtype(), kx::bool_);
  EXPECT_TRUE(ac.item<bool>());
  EXPECT_FALSE(kx::allclose(kx::array({1.f, 2.f}), kx::array({1.f, 2.1f})).item<bool>());
  EXPECT_TRUE(kx::allclose(kx::zeros({2, 3}), kx::zeros({3})).item<bool>());  // broadcasts
  EXPECT_TRUE(kx::allclose(kx::array({1, 2}), kx::array({1.f, 2.f})).item<bool>());
  EXPECT_OP_THROWS(kx::allclose(kx::zeros({2}), kx::zeros({3})), "allclose");
  EXPECT_OP_THROWS(kx::isclose(kx::zeros({2}), kx::zeros({3})), "isclose");
  EXPECT_TRUE(kx::array_equal(kx::array({1, 2}), kx::array({1.f, 2.f})).item<bool>());
  EXPECT_FALSE(kx::array_equal(kx::array({1, 2}), kx::array({1, 3})).item<bool>());
  EXPECT_FALSE(kx::array_equal(kx::zeros({2}), kx::zeros({1, 2})).item<bool>());
  EXPECT_FALSE(kx::array_equal(kx::zeros({2}), kx::zeros({3})).item<bool>());
  EXPECT_FALSE(kx::array_equal(kx::array({NAN}), kx::array({NAN})).item<bool>());
  EXPECT_TRUE(kx::array_equal(kx::array({NAN}), kx::array({NAN}), true).item<bool>());
  EXPECT_TRUE(kx::array_equal(kx::zeros({0}), kx::zeros({0})).item<bool>());
}

// ------------------------------------------------------------------ where / clip
TEST(Where, SelectBroadcastPromote) {
  auto c = kx::array({true, false, true});
  auto a = kx::reshape(kx::arange(6), {2, 3});
  auto r = kx::where(c, a, kx::array(-1));
  EXPECT_EQ(r.shape(), kx::Shape({2, 3}));
  EXPECT_EQ(iv(r), std::vector<int>({0, -1, 2, 3, -1, 5}));
  auto p = kx::where(c, kx::array({1, 2, 3}), kx::array({0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(p.dtype(), kx::float32);
  EXPECT_EQ(fv(p), std::vector<float>({1, 0.5f, 3}));
  // a non-bool condition is truthy
  EXPECT_EQ(iv(kx::where(kx::array({0.f, 2.f}), kx::array(1), kx::array(0))),
            std::vector<int>({0, 1}));
  // column condition against a transposed operand
  auto col = kx::array({true, false, true}, {3, 1});
  auto w = kx::where(col, kx::transpose(a), kx::zeros({3, 2}, kx::int32));
  EXPECT_EQ(iv(w), std::vector<int>({0, 3, 0, 0, 2, 5}));
  for (auto d : kt::kAllDtypes) {
    auto x = kx::where(kx::array({true, false}), kx::ones({2}, d), kx::zeros({2}, d));
    EXPECT_EQ(x.dtype(), d);
    EXPECT_EQ(fv(x), std::vector<float>({1, 0})) << d;
  }
  EXPECT_EQ(kx::where(kx::array(true), kx::array(1.f), kx::array(2.f)).ndim(), 0);
  EXPECT_EQ(kx::where(kx::zeros({0}, kx::bool_), kx::array(1), kx::array(2)).shape(),
            kx::Shape({0}));
  // large same-shape select (split over threads)
  auto big_i = kx::arange(200003);
  auto big = iv(kx::where(kx::equal(kx::remainder(big_i, kx::array(3)), kx::array(0)), big_i,
                          kx::negative(big_i)));
  bool ok = true;
  for (int k = 0; k < 200003 && ok; ++k) ok = big[k] == (k % 3 == 0 ? k : -k);
  EXPECT_TRUE(ok);
  EXPECT_OP_THROWS(kx::where(kx::zeros({2}, kx::bool_), kx::zeros({3}), kx::zeros({3})), "where");
}

TEST(Clip, Bounds) {
  auto x = kx::array({-2.f, 0.5f, 3.f});
  EXPECT_EQ(fv(kx::clip(x, kx::array(0.f), kx::array(1.f))), std::vector<float>({0, 0.5f, 1}));
  EXPECT_EQ(fv(kx::clip(x, kx::array(0.f), std::nullopt)), std::vector<float>({0, 0.5f, 3}));
  EXPECT_EQ(fv(kx::clip(x, std::nullopt, kx::array(1.f))), std::vector<float>({-2, 0.5f, 1}));
  EXPECT_EQ(fv(kx::clip(x, kx::array({-1.f, 1.f, 0.f}), kx::array({0.f, 2.f, 2.f}))),
            std::vector<float>({-1, 1, 2}));
  auto i = kx::clip(kx::array({-5, 5, 50}), kx::array(0), kx::array(10));
  EXPECT_EQ(i.dtype(), kx::int32);
  EXPECT_EQ(iv(i), std::vector<int>({0, 5, 10}));
  auto h = kx::clip(kx::array({-2.f, 2.f}, kx::float16), kx::array(-1.f), kx::array(1.f));
  EXPECT_EQ(h.dtype(), kx::float16);  // bounds do not upcast
  EXPECT_EQ(fv(h), std::vector<float>({-1, 1}));
  EXPECT_OP_THROWS(kx::clip(x, std::nullopt, std::nullopt), "clip");
}

TEST(StopGradient, Values) {
  auto x = kx::array({1.f, 2.f});
  auto s = kx::stop_gradient(x * 2.f);
  EXPECT_EQ(fv(s), std::vector<float>({2, 4}));
  EXPECT_EQ(s.dtype(), kx::float32);
}

// ------------------------------------------------------------------ layout sweep
// Every elementwise op commutes with movement: f(transpose(x)) == transpose(f(x)), likewise
// for negative-step slices and broadcasts, in every dtype the op takes.
TEST(Layout, ElementwiseCommutesWithMovement) {
  using U = std::function<kx::array(const kx::array&)>;
  using B = std::function<kx::array(const kx::array&, const kx::array&)>;
  std::vector<std::pair<const char*, U>> unary = {
      {"abs", [](auto& x) { return kx::abs(x); }},
      {"negative", [](auto& x) { return -x; }},
      {"square", [](auto& x) { return kx::square(x); }},
      {"sqrt", [](auto& x) { return kx::sqrt(x); }},
      {"exp", [](auto& x) { return kx::exp(x); }},
      {"log1p", [](auto& x) { return kx::log1p(x); }},
      {"sin", [](auto& x) { return kx::sin(x); }},
      {"tanh", [](auto& x) { return kx::tanh(x); }},
      {"sigmoid", [](auto& x) { return kx::sigmoid(x); }},
      {"erf", [](auto& x) { return kx::erf(x); }},
      {"floor", [](auto& x) { return kx::floor(x); }},
      {"isnan", [](auto& x) { return kx::isnan(x); }},
      {"astype_i32", [](auto& x) { return kx::astype(x, kx::int32); }},
      {"astype_f16", [](auto& x) { return kx::astype(x, kx::float16); }}};
  std::vector<std::pair<const char*, B>> binary = {
      {"add", [](auto& a, auto& b) { return a + b; }},
      {"subtract", [](auto& a, auto& b) { return a - b; }},
      {"multiply", [](auto& a, auto& b) { return a * b; }},
      {"divide", [](auto& a, auto& b) { return a / b; }},
      {"maximum", [](auto& a, auto& b) { return kx::maximum(a, b); }},
      {"power", [](auto& a, auto& b) { return kx::power(kx::abs(a), b); }},
      {"less", [](auto& a, auto& b) { return a < b; }},
      {"where", [](auto& a, auto& b) { return kx::where(a > b, a, b); }},
      {"logaddexp", [](auto& a, auto& b) { return kx::logaddexp(a, b); }}};
  auto base = kx::reshape(
      kx::subtract(kx::divide(kx::arange(0.0, 35.0, 1.0), kx::array(7.f)), kx::array(2.f)), {5, 7});
  auto other =
      kx::add(kx::transpose(kx::reshape(kx::arange(0.0, 35.0, 1.0), {7, 5})), kx::array(0.5f));
  for (auto d : {kx::float32, kx::float16, kx::bfloat16}) {
    auto x = kx::astype(base, d), y = kx::astype(other, d);
    for (auto& [name, f] : unary) {
      auto ref = f(x);
      EXPECT_TRUE(kt::same_values(f(kx::transpose(x)), kx::transpose(ref))) << name << " " << d;
      EXPECT_TRUE(kt::same_values(f(kx::slice(x, {4, 6}, {-6, -8}, {-1, -2})),
                                  kx::slice(ref, {4, 6}, {-6, -8}, {-1, -2})))
          << name << " " << d;
      EXPECT_TRUE(kt::same_values(f(kx::broadcast_to(kx::slice(x, {2, 0}, {3, 7}), {3, 7})),
                                  kx::broadcast_to(kx::slice(ref, {2, 0}, {3, 7}), {3, 7})))
          << name << " " << d;
    }
    for (auto& [name, f] : binary) {
      auto ref = f(x, y);
      EXPECT_TRUE(kt::same_values(f(kx::transpose(x), kx::transpose(y)), kx::transpose(ref)))
          << name << " " << d;
      EXPECT_TRUE(kt::same_values(
          f(kx::slice(x, {4, 6}, {-6, -8}, {-1, -2}), kx::slice(y, {4, 6}, {-6, -8}, {-1, -2})),
          kx::slice(ref, {4, 6}, {-6, -8}, {-1, -2})))
          << name << " " << d;
      // a row of x against all of y equals the matching rows of the full result
      auto row = kx::slice(x, {1, 0}, {2, 7});
      auto rb = f(row, y);
      EXPECT_TRUE(kt::same_values(kx::slice(rb, {1, 0}, {2, 7}), kx::slice(ref, {1, 0}, {2, 7})))
          << name << " " << d;
      EXPECT_TRUE(kt::same_values(f(kx::broadcast_to(row, {5, 7}), y), rb)) << name << " " << d;
    }
  }
}
