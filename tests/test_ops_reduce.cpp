// Reductions and scans: sum mean var std prod max min all any argmax argmin logsumexp softmax
// log_softmax cumsum/cumprod/cummax/cummin sort argsort.
#include <algorithm>
#include <limits>

#include "ops_test_helpers.h"

using kt::all_close;
using kt::fv;
using kt::iv;

namespace {
kx::array iota(const kx::Shape& s, kx::Dtype d = kx::int32) {
  int n = 1;
  for (int x : s) n *= x;
  return kx::astype(kx::reshape(kx::arange(n), s), d);
}
}  // namespace

TEST(Sum, AxesKeepdims) {
  auto a = iota({2, 3});  // [[0,1,2],[3,4,5]]
  auto s = kx::sum(a);
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.dtype(), kx::int32);
  EXPECT_EQ(s.item<int>(), 15);
  EXPECT_EQ(iv(kx::sum(a, 0)), std::vector<int>({3, 5, 7}));
  EXPECT_EQ(iv(kx::sum(a, 1)), std::vector<int>({3, 12}));
  EXPECT_EQ(iv(kx::sum(a, -1)), std::vector<int>({3, 12}));
  EXPECT_EQ(kx::sum(a, 1, true).shape(), kx::Shape({2, 1}));
  EXPECT_EQ(kx::sum(a, true).shape(), kx::Shape({1, 1}));
  EXPECT_EQ(kx::sum(a, std::vector<int>{0, 1}).item<int>(), 15);
  EXPECT_EQ(iv(kx::sum(a, std::vector<int>{})), iv(a));
  auto b = iota({2, 3, 4});
  // non-adjacent axes (the kernel transposes first)
  auto s02 = kx::sum(b, {0, 2});
  EXPECT_EQ(s02.shape(), kx::Shape({3}));
  EXPECT_EQ(iv(s02), std::vector<int>({60, 92, 124}));
  EXPECT_EQ(kx::sum(b, {2, 0}, true).shape(), kx::Shape({1, 3, 1}));
  EXPECT_EQ(iv(kx::sum(b, {1})), std::vector<int>({12, 15, 18, 21, 48, 51, 54, 57}));
  // non-contiguous input
  EXPECT_EQ(iv(kx::sum(kx::transpose(a), 0)), std::vector<int>({3, 12}));
  EXPECT_EQ(iv(kx::sum(kx::broadcast_to(kx::array({1, 2}), {5, 2}), 0)), std::vector<int>({5, 10}));
  EXPECT_EQ(kx::sum(kx::slice(kx::arange(10), {9}, {-11}, {-3})).item<int>(), 9 + 6 + 3 + 0);
  // a device argument never turns into (axis, keepdims): Device::cpu is not an integer
  EXPECT_EQ(kx::sum(a, false, kx::Device::cpu).ndim(), 0);
  EXPECT_EQ(kx::sum(a, true, kx::Device::cpu).shape(), kx::Shape({1, 1}));
  EXPECT_EQ(kx::mean(a, false, kx::Device::cpu).ndim(), 0);
  static_assert(!std::is_convertible_v<decltype(kx::Device::gpu), int>);
}

TEST(Sum, DtypesEmptyLarge) {
  for (auto d : kt::kNumericDtypes) {
    auto x = kx::astype(kx::array({1.f, 2.f, 3.f, 4.f}, {2, 2}), d);
    auto s = kx::sum(x, 0);
    EXPECT_EQ(s.dtype(), d);
    EXPECT_EQ(fv(s), std::vector<float>({4, 6})) << d;
  }
  auto bs = kx::sum(kx::array({true, true, false}));
  EXPECT_EQ(bs.dtype(), kx::int32);
  EXPECT_EQ(bs.item<int>(), 2);
  // half sums accumulate in float32: 4096 ones are exact even though 2049 is not a float16
  EXPECT_EQ(kx::sum(kx::ones({4096}, kx::float16)).item<float>(), 4096.f);
  EXPECT_EQ(kx::sum(kx::ones({4096}, kx::bfloat16)).item<float>(), 4096.f);
  // empty
  EXPECT_EQ(kx::sum(kx::zeros({0})).item<float>(), 0.f);
  EXPECT_EQ(kx::sum(kx::zeros({0, 3}), 0).shape(), kx::Shape({3}));
  EXPECT_EQ(fv(kx::sum(kx::zeros({0, 3}), 0)), std::vector<float>({0, 0, 0}));
  EXPECT_EQ(kx::sum(kx::zeros({3, 0}), 0).shape(), kx::Shape({0}));
  EXPECT_EQ(kx::sum(kx::array(4.f)).item<float>(), 4.f);
  // large, threaded, accurate: 1e6 * 0.1 in float32
  auto big = kx::full({1000000}, kx::array(0.1f));
  EXPECT_NEAR(kx::sum(big).item<float>(), 100000.f, 1.f);
  auto rows = kx::sum(kx::ones({1000, 700}), 1);
  EXPECT_EQ(fv(rows), std::vector<float>(1000, 700.f));
  auto cols = kx::sum(kx::ones({700, 1000}), 0);
  EXPECT_EQ(fv(cols), std::vector<float>(1000, 700.f));
  EXPECT_EQ(kt::lv(kx::sum(kx::full({3}, kx::array(int64_t(1) << 40)))),
            std::vector<int64_t>({int64_t(3) << 40}));
}

TEST(Reduce, LargeThreadedPaths) {
  // long single rows (split into parts) and few wide blocks (rows split into parts)
  const int R = 1500, C = 700;
  auto v64 = kx::remainder(kx::multiply(kx::astype(kx::arange(R * C), kx::int64), 7919), R * C);
  auto v = kx::astype(v64, kx::int32);
  auto f = kx::astype(v, kx::float32);  // a permutation of 0 .. R*C-1 (7919 is prime)
  EXPECT_EQ(kx::max(f).item<float>(), float(R * C - 1));
  EXPECT_EQ(kx::min(f).item<float>(), 0.f);
  EXPECT_EQ(kx::argmax(f).item<uint32_t>(), kt::iv(kx::argmax(v)).at(0));
  EXPECT_EQ(kt::lv(kx::sum(kx::astype(v, kx::int64))).at(0), int64_t(R * C) * (R * C - 1) / 2);
  auto m = kx::reshape(f, {R, C});
  auto mv = fv(m);
  std::vector<float> cmax(C, -1.f), cmin(C, 1e30f), csum(C, 0.f);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float x = mv[r * C + c];
      cmax[c] = std::max(cmax[c], x);
      cmin[c] = std::min(cmin[c], x);
      csum[c] += x / 1024.f;
    }
  EXPECT_EQ(fv(kx::max(m, 0)), cmax);
  // arg reductions, scans and sorts over the same data, both axes
  std::vector<uint32_t> amax0(C, 0), amin1(R, 0);
  for (int c = 0; c < C; ++c)
    for (int r = 1; r < R; ++r)
      if (mv[r * C + c] > mv[amax0[c] * C + c]) amax0[c] = r;
  for (int r = 0; r < R; ++r)
    for (int c = 1; c < C; ++c)
      if (mv[r * C + c] < mv[r * C + amin1[r]]) amin1[r] = c;
  EXPECT_EQ(kt::uv(kx::argmax(m, 0)), amax0);
  EXPECT_EQ(kt::uv(kx::argmin(m, 1)), amin1);
  auto mi = kx::remainder(kx::astype(m, kx::int32), kx::array(5));
  auto miv = iv(mi);
  auto cs0 = iv(kx::cumsum(mi, 0)), cs1 = iv(kx::cumsum(mi, 1, true));
  bool scan_ok = true;
  std::vector<int> run(C, 0);
  for (int r = 0; r < R && scan_ok; ++r)
    for (int c = 0; c < C && scan_ok; ++c) scan_ok = cs0[r * C + c] == (run[c] += miv[r * C + c]);
  for (int r = 0; r < R && scan_ok; ++r) {
    int acc = 0;
    for (int c = C - 1; c >= 0 && scan_ok; --c) scan_ok = cs1[r * C + c] == (acc += miv[r * C + c]);
  }
  EXPECT_TRUE(scan_ok);
  auto srt = fv(kx::sort(m, 1));
  bool sort_ok = true;
  for (int r = 0; r < R && sort_ok; ++r) {
    std::vector<float> row(mv.begin() + r * C, mv.begin() + (r + 1) * C);
    std::sort(row.begin(), row.end());
    sort_ok = std::equal(row.begin(), row.end(), srt.begin() + r * C);
  }
  EXPECT_TRUE(sort_ok);
  EXPECT_EQ(fv(kx::min(m, 0)), cmin);
  EXPECT_TRUE(all_close(kx::sum(kx::divide(m, kx::array(1024.f)), 0), csum, 1e-5f));
  // a NaN deep inside a long row still propagates
  auto withnan = kx::slice_update(kx::zeros({400000}), kx::array({NAN}), {312345}, {312346});
  EXPECT_TRUE(std::isnan(kx::max(withnan).item<float>()));
  EXPECT_TRUE(std::isnan(kx::sum(withnan).item<float>()));
  auto wide = kx::reshape(withnan, {400, 1000});
  EXPECT_EQ(kx::argmax(withnan).item<uint32_t>(), 312345u);
  EXPECT_EQ(kt::uv(kx::argmin(wide, 0))[345], 312u);
  auto colmax = fv(kx::max(wide, 0));
  EXPECT_TRUE(std::isnan(colmax[345]));
  EXPECT_EQ(colmax[344], 0.f);
  // products of +-1 over a long row
  auto signs =
      kx::subtract(kx::multiply(kx::remainder(kx::arange(300001), kx::array(2)), kx::array(2)),
                   kx::array(1));              // -1, 1, -1, ...
  EXPECT_EQ(kx::prod(signs).item<int>(), -1);  // 150001 factors of -1
}

TEST(Reduce, ProdMaxMin) {
  auto a = kx::array({3.f, -1.f, 2.f, 5.f}, {2, 2});
  EXPECT_EQ(kx::prod(a).item<float>(), -30.f);
  EXPECT_EQ(fv(kx::prod(a, 1)), std::vector<float>({-3, 10}));
  EXPECT_EQ(kx::max(a).item<float>(), 5.f);
  EXPECT_EQ(kx::min(a).item<float>(), -1.f);
  EXPECT_EQ(fv(kx::max(a, 0)), std::vector<float>({3, 5}));
  EXPECT_EQ(fv(kx::min(a, 1, true)), std::vector<float>({-1, 2}));
  EXPECT_EQ(kx::min(a, 1, true).shape(), kx::Shape({2, 1}));
  EXPECT_EQ(kx::prod(kx::zeros({0})).item<float>(), 1.f);
  EXPECT_EQ(kx::prod(kx::array({true, true})).dtype(), kx::int32);
  for (auto d : kt::kNumericDtypes) {
    auto x = kx::astype(kx::array({4.f, 1.f, 3.f, 2.f}), d);
    EXPECT_EQ(kx::max(x).dtype(), d);
    EXPECT_EQ(kx::max(x).item<float>(), 4.f) << d;
    EXPECT_EQ(kx::min(x).item<float>(), 1.f) << d;
    EXPECT_EQ(kx::prod(x).item<float>(), 24.f) << d;
  }
  EXPECT_EQ(kx::max(kx::array({-5, -2, -9})).item<int>(), -2);
  EXPECT_EQ(kx::min(kx::array({4000000000u, 5u})).item<uint32_t>(), 5u);
  EXPECT_EQ(kx::max(kx::array({-INFINITY, -INFINITY})).item<float>(), -INFINITY);
  EXPECT_EQ(kt::bv(kx::max(kx::array({false, true}))), std::vector<bool>({true}));
  // NaN propagates like NumPy
  EXPECT_TRUE(std::isnan(kx::max(kx::array({1.f, NAN, 3.f})).item<float>()));
  EXPECT_TRUE(std::isnan(kx::min(kx::array({NAN, 1.f})).item<float>()));
  EXPECT_OP_THROWS(kx::max(kx::zeros({0})), "max");
  EXPECT_OP_THROWS(kx::min(kx::zeros({2, 0}), 1), "min");
  EXPECT_EQ(kx::max(kx::zeros({0, 2}), 1).shape(), kx::Shape({0}));
}

TEST(Reduce, AllAny) {
  auto a = kx::array({true, false, true, true}, {2, 2});
  EXPECT_FALSE(kx::all(a).item<bool>());
  EXPECT_TRUE(kx::any(a).item<bool>());
  EXPECT_EQ(kt::bv(kx::all(a, 1)), std::vector<bool>({false, true}));
  EXPECT_EQ(kt::bv(kx::any(a, 0)), std::vector<bool>({true, true}));
  EXPECT_EQ(kx::all(a).dtype(), kx::bool_);
  EXPECT_TRUE(kx::all(kx::array({1.f, -2.f})).item<bool>());
  EXPECT_FALSE(kx::all(kx::array({1, 0})).item<bool>());
  EXPECT_FALSE(kx::any(kx::array({0.f, -0.f})).item<bool>());
  EXPECT_TRUE(kx::any(kx::array({0.f, NAN})).item<bool>());
  EXPECT_TRUE(kx::all(kx::zeros({0})).item<bool>());
  EXPECT_FALSE(kx::any(kx::zeros({0})).item<bool>());
  EXPECT_EQ(kt::bv(kx::all(kx::zeros({2, 0}), 1)), std::vector<bool>({true, true}));
}

TEST(Reduce, MeanVarStd) {
  auto a = kx::array({1.f, 2.f, 3.f, 4.f}, {2, 2});
  EXPECT_EQ(kx::mean(a).item<float>(), 2.5f);
  EXPECT_EQ(fv(kx::mean(a, 0)), std::vector<float>({2, 3}));
  EXPECT_EQ(kx::mean(a, 1, true).shape(), kx::Shape({2, 1}));
  auto mi = kx::mean(kx::array({1, 2}));
  EXPECT_EQ(mi.dtype(), kx::float32);
  EXPECT_EQ(mi.item<float>(), 1.5f);
  EXPECT_EQ(kx::mean(kx::array({1.f, 2.f}, kx::float16)).dtype(), kx::float16);
  EXPECT_TRUE(std::isnan(kx::mean(kx::zeros({0})).item<float>()));
  EXPECT_EQ(kx::var(a).item<float>(), 1.25f);
  EXPECT_TRUE(all_close(kx::var(a, false, 1), {5.f / 3.f}));
  EXPECT_EQ(fv(kx::var(a, 0)), std::vector<float>({1, 1}));
  EXPECT_TRUE(all_close(kx::std(a), {std::sqrt(1.25f)}));
  EXPECT_TRUE(all_close(kx::std(a, 1, false, 1), {0.70710678f, 0.70710678f}));
  EXPECT_EQ(kx::std(a, {0, 1}, true).shape(), kx::Shape({1, 1}));
  EXPECT_EQ(kx::var(kx::array({1, 2, 3})).dtype(), kx::float32);
  // var is computed around the mean (no catastrophic cancellation)
  auto off = kx::add(kx::array({1.f, 2.f, 3.f, 4.f}), kx::array(10000.f));
  EXPECT_TRUE(all_close(kx::var(off), {1.25f}, 1e-4f));
  EXPECT_TRUE(std::isnan(kx::var(kx::array({2.f}), false, 1).item<float>()));  // 0/0
  for (auto d : kt::kFloatDtypes) {
    auto x = kx::astype(a, d);
    EXPECT_EQ(kx::var(x).dtype(), d);
    EXPECT_TRUE(all_close(kx::var(x), {1.25f}, kt::tol_for(d))) << d;
    EXPECT_TRUE(all_close(kx::mean(x, 0), {2.f, 3.f}, kt::tol_for(d))) << d;
  }
}

TEST(Reduce, ArgmaxArgmin) {
  auto a = kx::array({1.f, 5.f, 5.f, 0.f, -2.f, 0.f}, {2, 3});
  auto am = kx::argmax(a);
  EXPECT_EQ(am.dtype(), kx::uint32);
  EXPECT_EQ(am.ndim(), 0);
  EXPECT_EQ(am.item<uint32_t>(), 1u);  // first of the ties
  EXPECT_EQ(kx::argmin(a).item<uint32_t>(), 4u);
  EXPECT_EQ(kt::uv(kx::argmax(a, 1)), std::vector<uint32_t>({1, 0}));
  EXPECT_EQ(kt::uv(kx::argmin(a, 0)), std::vector<uint32_t>({1, 1, 1}));
  EXPECT_EQ(kx::argmax(a, 1, true).shape(), kx::Shape({2, 1}));
  EXPECT_EQ(kx::argmax(a, true).shape(), kx::Shape({1, 1}));
  EXPECT_EQ(kt::uv(kx::argmax(kx::transpose(a), 0)), std::vector<uint32_t>({1, 0}));
  EXPECT_EQ(kx::argmax(kx::array({1.f, NAN, 3.f, NAN})).item<uint32_t>(), 1u);
  EXPECT_EQ(kx::argmin(kx::array({1.f, NAN, 3.f})).item<uint32_t>(), 1u);
  for (auto d : kt::kAllDtypes) {
    auto x = kx::astype(kx::array({0.f, 2.f, 1.f}), d);
    EXPECT_EQ(kx::argmax(x).item<uint32_t>(), 1u) << d;
    EXPECT_EQ(kx::argmin(x).item<uint32_t>(), 0u) << d;
  }
  EXPECT_EQ(kx::argmax(kx::array(3.f)).item<uint32_t>(), 0u);
  EXPECT_EQ(kx::argmax(kx::zeros({0, 3}), 1).shape(), kx::Shape({0}));
  EXPECT_OP_THROWS(kx::argmax(kx::zeros({0})), "argmax");
  EXPECT_OP_THROWS(kx::argmin(kx::zeros({2, 0}), 1), "argmin");
  EXPECT_OP_THROWS(kx::argmax(a, 2), "argmax");
}

TEST(Reduce, LogSumExp) {
  auto a = kx::array({0.f, 0.f, 1.f, 2.f}, {2, 2});
  EXPECT_TRUE(all_close(kx::logsumexp(a, 1), {0.69314718f, 2.31326169f}));
  EXPECT_TRUE(all_close(kx::logsumexp(a), {2.49381171f}));
  EXPECT_EQ(kx::logsumexp(a, 1, true).shape(), kx::Shape({2, 1}));
  // stable for large values; -inf rows give -inf; +inf gives +inf
  EXPECT_TRUE(all_close(kx::logsumexp(kx::array({1000.f, 1000.f})), {1000.6931472f}));
  EXPECT_EQ(kx::logsumexp(kx::array({-INFINITY, -INFINITY})).item<float>(), -INFINITY);
  EXPECT_EQ(kx::logsumexp(kx::array({INFINITY, 1.f})).item<float>(), INFINITY);
  EXPECT_EQ(kx::logsumexp(kx::array({-INFINITY, 0.f})).item<float>(), 0.f);
  // empty: log(0) = -inf
  EXPECT_EQ(kx::logsumexp(kx::zeros({0})).item<float>(), -INFINITY);
  EXPECT_EQ(fv(kx::logsumexp(kx::zeros({2, 0}), 1)), std::vector<float>({-INFINITY, -INFINITY}));
  EXPECT_EQ(kx::logsumexp(kx::array({1, 2})).dtype(), kx::float32);
  auto h = kx::logsumexp(kx::astype(a, kx::float16), 1);
  EXPECT_EQ(h.dtype(), kx::float16);
  EXPECT_TRUE(all_close(h, {0.69314718f, 2.31326169f}, 2e-3f));
  EXPECT_OP_THROWS(kx::logsumexp(a, 2), "logsumexp");
}

TEST(Reduce, SoftmaxLogSoftmax) {
  auto a = kx::array({1.f, 2.f, 3.f, 1000.f, 1000.f, 1000.f}, {2, 3});
  auto s = kx::softmax(a, -1);
  EXPECT_TRUE(all_close(s, {0.09003057f, 0.24472847f, 0.66524096f, 1.f / 3, 1.f / 3, 1.f / 3}));
  EXPECT_TRUE(all_close(kx::sum(s, -1), {1.f, 1.f}));
  auto s0 = kx::softmax(kx::array({0.f, 0.f, 0.f, 0.f}, {2, 2}), 0);
  EXPECT_EQ(fv(s0), std::vector<float>(4, 0.5f));
  EXPECT_TRUE(all_close(kx::softmax(kx::array({1.f, 1.f})), {0.5f, 0.5f}));
  // over several axes
  auto sa = kx::softmax(kx::zeros({2, 2}), std::vector<int>{0, 1});
  EXPECT_EQ(fv(sa), std::vector<float>(4, 0.25f));
  // -inf entries get probability 0
  EXPECT_EQ(fv(kx::softmax(kx::array({-INFINITY, 0.f}))), std::vector<float>({0.f, 1.f}));
  for (auto d : kt::kFloatDtypes) {
    auto x = kx::astype(kx::array({1.f, 2.f, 3.f}), d);
    for (bool precise : {false, true}) {
      auto y = kx::softmax(x, -1, precise);
      EXPECT_EQ(y.dtype(), d);
      EXPECT_TRUE(all_close(y, {0.09003057f, 0.24472847f, 0.66524096f}, kt::tol_for(d))) << d;
    }
  }
  EXPECT_EQ(kx::softmax(kx::array({1, 2})).dtype(), kx::float32);
  auto ls = kx::log_softmax(a, 1);
  EXPECT_TRUE(all_close(
      ls, {-2.40760596f, -1.40760596f, -0.40760596f, -1.09861229f, -1.09861229f, -1.09861229f},
      1e-6f));
  EXPECT_TRUE(all_close(kx::log_softmax(kx::array({0.f, 0.f})), {-0.69314718f, -0.69314718f}));
  EXPECT_OP_THROWS(kx::softmax(a, 2), "softmax");
  EXPECT_OP_THROWS(kx::softmax(a, std::vector<int>{1, 1}), "softmax");
  EXPECT_OP_THROWS(kx::log_softmax(a, 2), "log_softmax");
}

TEST(Scan, CumulativeOps) {
  auto a = kx::array({1, 2, 3, 4});
  EXPECT_EQ(iv(kx::cumsum(a, 0)), std::vector<int>({1, 3, 6, 10}));
  EXPECT_EQ(iv(kx::cumsum(a, 0, true)), std::vector<int>({10, 9, 7, 4}));
  EXPECT_EQ(iv(kx::cumsum(a, 0, false, false)), std::vector<int>({0, 1, 3, 6}));
  EXPECT_EQ(iv(kx::cumsum(a, 0, true, false)), std::vector<int>({9, 7, 4, 0}));
  EXPECT_EQ(iv(kx::cumprod(a, 0)), std::vector<int>({1, 2, 6, 24}));
  EXPECT_EQ(iv(kx::cumprod(a, 0, false, false)), std::vector<int>({1, 1, 2, 6}));
  auto m = kx::array({3, 1, 4, 1, 5, 9}, {2, 3});
  EXPECT_EQ(iv(kx::cumsum(m, 1)), std::vector<int>({3, 4, 8, 1, 6, 15}));
  EXPECT_EQ(iv(kx::cumsum(m, 0)), std::vector<int>({3, 1, 4, 4, 6, 13}));
  EXPECT_EQ(iv(kx::cumsum(m)), std::vector<int>({3, 4, 8, 9, 14, 23}));  // flattened
  EXPECT_EQ(kx::cumsum(m).shape(), kx::Shape({6}));
  EXPECT_EQ(iv(kx::cummax(kx::array({1, 3, 2, 5, 4}), 0)), std::vector<int>({1, 3, 3, 5, 5}));
  EXPECT_EQ(iv(kx::cummin(kx::array({4, 5, 2, 3, 1}), 0)), std::vector<int>({4, 4, 2, 2, 1}));
  EXPECT_EQ(iv(kx::cummax(kx::array({1, 3, 2}), 0, true)), std::vector<int>({3, 3, 2}));
  EXPECT_EQ(iv(kx::cumsum(kx::transpose(m), 0)), std::vector<int>({3, 1, 4, 6, 8, 15}));
  auto bs = kx::cumsum(kx::array({true, true, false}), 0);
  EXPECT_EQ(bs.dtype(), kx::int32);
  EXPECT_EQ(iv(bs), std::vector<int>({1, 2, 2}));
  for (auto d : kt::kNumericDtypes) {
    auto x = kx::cumsum(kx::astype(kx::array({1.f, 2.f, 3.f}), d), 0);
    EXPECT_EQ(x.dtype(), d);
    EXPECT_EQ(fv(x), std::vector<float>({1, 3, 6})) << d;
  }
  EXPECT_TRUE(all_close(kx::cumsum(kx::array({0.5f, 0.25f}), 0), {0.5f, 0.75f}));
  EXPECT_EQ(kx::cumsum(kx::zeros({0}), 0).shape(), kx::Shape({0}));
  EXPECT_OP_THROWS(kx::cumsum(a, 1), "cumsum");
  EXPECT_OP_THROWS(kx::cumprod(kx::array(1), 0), "cumprod");
  EXPECT_OP_THROWS(kx::cummax(a, -2), "cummax");
  EXPECT_OP_THROWS(kx::cummin(a, 3), "cummin");
}

TEST(Sort, SortArgsort) {
  auto a = kx::array({3.f, 1.f, 2.f, 1.f});
  EXPECT_EQ(fv(kx::sort(a)), std::vector<float>({1, 1, 2, 3}));
  auto i = kx::argsort(a);
  EXPECT_EQ(i.dtype(), kx::uint32);
  EXPECT_EQ(kt::uv(i), std::vector<uint32_t>({1, 3, 2, 0}));  // stable on ties
  auto m = kx::array({3, 1, 2, 0, 5, 4}, {2, 3});
  EXPECT_EQ(iv(kx::sort(m, 1)), std::vector<int>({1, 2, 3, 0, 4, 5}));
  EXPECT_EQ(iv(kx::sort(m, 0)), std::vector<int>({0, 1, 2, 3, 5, 4}));
  EXPECT_EQ(kt::uv(kx::argsort(m, 0)), std::vector<uint32_t>({1, 0, 0, 0, 1, 1}));
  EXPECT_EQ(iv(kx::sort(kx::transpose(m), 1)), std::vector<int>({0, 3, 1, 5, 2, 4}));
  // NaNs sort last
  auto n = fv(kx::sort(kx::array({NAN, 1.f, -INFINITY, 0.f})));
  EXPECT_EQ(n[0], -INFINITY);
  EXPECT_EQ(n[1], 0.f);
  EXPECT_EQ(n[2], 1.f);
  EXPECT_TRUE(std::isnan(n[3]));
  for (auto d : kt::kAllDtypes) {
    auto x = kx::astype(kx::array({2.f, 0.f, 1.f}), d);
    EXPECT_EQ(kx::sort(x).dtype(), d);
    EXPECT_EQ(fv(kx::sort(x)),
              d == kx::bool_ ? std::vector<float>({0, 1, 1}) : std::vector<float>({0, 1, 2}))
        << d;
  }
  EXPECT_EQ(kt::uv(kx::argsort(kx::array({-1, -5, 3}))), std::vector<uint32_t>({1, 0, 2}));
  EXPECT_EQ(kx::sort(kx::zeros({0})).shape(), kx::Shape({0}));
  EXPECT_OP_THROWS(kx::sort(kx::array(1)), "sort");
  EXPECT_OP_THROWS(kx::argsort(m, 2), "argsort");
}

TEST(Reduce, AxisErrorsNameTheOp) {
  auto a = kx::zeros({2, 3});
  EXPECT_OP_THROWS(kx::sum(a, 2), "sum");
  EXPECT_OP_THROWS(kx::sum(a, {0, 0}), "sum");
  EXPECT_OP_THROWS(kx::sum(a, -3), "sum");
  EXPECT_OP_THROWS(kx::prod(a, 5), "prod");
  EXPECT_OP_THROWS(kx::max(a, {1, -1}), "max");
  EXPECT_OP_THROWS(kx::min(a, 2), "min");
  EXPECT_OP_THROWS(kx::all(a, 2), "all");
  EXPECT_OP_THROWS(kx::any(a, 2), "any");
  EXPECT_OP_THROWS(kx::mean(a, 2), "mean");
  EXPECT_OP_THROWS(kx::mean(a, {0, 0}), "mean");
  EXPECT_OP_THROWS(kx::var(a, 2), "var");
  EXPECT_OP_THROWS(kx::std(a, 2), "std");
  EXPECT_OP_THROWS(kx::std(a, {1, 1}), "std");
  EXPECT_OP_THROWS(kx::logsumexp(a, {0, 0}), "logsumexp");
  EXPECT_OP_THROWS(kx::sum(kx::array(1.f), 0), "sum");
}
