// kiln::random: the Threefry-2x32 generator against its published known-answer vectors, the
// documented bit layout, pinned stream values (so streams never change silently),
// determinism and splitting, the global state, statistical sanity and argument errors.
#include <kiln/core/random_impl.h>

#include <algorithm>
#include <numeric>

#include "ops_test_helpers.h"

namespace kr = kiln::random;
using kt::fv;

namespace {
double mean_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / v.size();
}
double var_of(const std::vector<float>& v) {
  double m = mean_of(v), s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return s / v.size();
}
}  // namespace

// ------------------------------------------------------------------ generator
TEST(Threefry, KnownAnswerVectors) {
  // Random123's kat_vectors for threefry2x32_20 (counter, key) -> output
  using kr::detail::threefry2x32;
  auto r = threefry2x32(0x13198a2eu, 0x03707344u, 0x243f6a88u, 0x85a308d3u);
  EXPECT_EQ(r.first, 0xc4923a9cu);
  EXPECT_EQ(r.second, 0x483df7a0u);
  r = threefry2x32(0u, 0u, 0u, 0u);
  EXPECT_EQ(r.first, 0x6b200159u);
  EXPECT_EQ(r.second, 0x99ba4efeu);
  r = threefry2x32(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(r.first, 0x1cb996fcu);
  EXPECT_EQ(r.second, 0xbb002be7u);
}

TEST(Random, KeyLayout) {
  auto k = kr::key(0);
  EXPECT_EQ(k.dtype(), kx::uint32);
  EXPECT_EQ(k.shape(), kx::Shape({2}));
  EXPECT_EQ(kt::uv(k), std::vector<uint32_t>({0, 0}));
  EXPECT_EQ(kt::uv(kr::key(0x0000000100000002ull)), std::vector<uint32_t>({1, 2}));
  EXPECT_EQ(kt::uv(kr::key(42)), std::vector<uint32_t>({0, 42}));
}

TEST(Random, BitsFollowTheDocumentedLayout) {
  // element i < h = ceil(n/2) is word 0 of threefry(key, (i, i+h)); element i+h is word 1
  for (int n : {1, 2, 7, 10, 33}) {
    auto k = kr::key(12345);
    auto b = kt::uv(kr::bits({n}, 4, k));
    ASSERT_EQ(b.size(), size_t(n));
    uint32_t h = (n + 1) / 2;
    for (uint32_t i = 0; i < h; ++i) {
      auto r = kr::detail::threefry2x32(0, 12345, i, i + h);
      EXPECT_EQ(b[i], r.first) << "n=" << n << " i=" << i;
      if (i + h < uint32_t(n)) EXPECT_EQ(b[i + h], r.second) << "n=" << n << " i=" << i;
    }
  }
  // the shape does not change the stream
  EXPECT_EQ(kt::uv(kr::bits({2, 3}, 4, kr::key(7))), kt::uv(kr::bits({6}, 4, kr::key(7))));
  auto big = kr::bits({100001}, 4, kr::key(3));  // threaded path
  auto bv = kt::uv(big);
  auto last = kr::detail::threefry2x32(0, 3, 50000, 100001);
  EXPECT_EQ(bv[50000], last.first);
  EXPECT_EQ(bv[49999 + 50001], kr::detail::threefry2x32(0, 3, 49999, 100000).second);
  EXPECT_EQ(kr::bits({0}, 4, kr::key(1)).size(), 0u);
  EXPECT_EQ(kr::bits({}, 4, kr::key(1)).ndim(), 0);
}

TEST(Random, SplitMatchesJaxThreefryLayout) {
  // jax.random.split(PRNGKey(0)) with the original (non-partitionable) threefry layout
  auto ks = kr::split(kr::key(0), 2);
  EXPECT_EQ(ks.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(kt::uv(ks), std::vector<uint32_t>({4146024105u, 967050713u, 2718843009u, 1272950319u}));
  auto [a, b] = kr::split(kr::key(0));
  EXPECT_EQ(kt::uv(a), std::vector<uint32_t>({4146024105u, 967050713u}));
  EXPECT_EQ(kt::uv(b), std::vector<uint32_t>({2718843009u, 1272950319u}));
  EXPECT_EQ(a.shape(), kx::Shape({2}));
}

// ------------------------------------------------------------------ pinned streams
// kiln's own stream values for fixed keys. If one of these changes, every seeded experiment
// changes: do it only on purpose, with a note in the changelog.
TEST(Random, PinnedStreams) {
  auto k = kr::key(0);
  EXPECT_EQ(kt::uv(kr::bits({4}, 4, k)),
            std::vector<uint32_t>({4146024105u, 967050713u, 2718843009u, 1272950319u}));
  EXPECT_EQ(fv(kr::uniform({4}, kx::float32, k)),
            std::vector<float>({0.965321422f, 0.225158989f, 0.633029938f, 0.296381831f}));
  EXPECT_EQ(fv(kr::normal({4}, kx::float32, 0.f, 1.f, k)),
            std::vector<float>({1.81608665f, -0.754884958f, 0.33988905f, -0.534835339f}));
  EXPECT_EQ(kt::iv(kr::randint(0, 100, {6}, kx::int32, kr::key(1))),
            std::vector<int>({59, 91, 55, 82, 29, 13}));
  EXPECT_EQ(kt::bv(kr::bernoulli(0.5f, {6}, kr::key(2))),
            std::vector<bool>({true, false, false, false, true, false}));
  EXPECT_EQ(kt::iv(kr::permutation(8, kr::key(3))), std::vector<int>({5, 4, 0, 7, 3, 2, 1, 6}));
  EXPECT_EQ(kt::uv(kr::categorical(kx::zeros({4, 5}), -1, kr::key(4))),
            std::vector<uint32_t>({4u, 0u, 0u, 1u}));
  EXPECT_EQ(fv(kr::truncated_normal(-1.f, 1.f, {3}, kx::float32, kr::key(5))),
            std::vector<float>({0.612793922f, -0.694553792f, -0.145043746f}));
}

// ------------------------------------------------------------------ determinism
TEST(Random, DeterministicAndIndependent) {
  auto k = kr::key(99);
  EXPECT_EQ(fv(kr::uniform({5}, kx::float32, k)), fv(kr::uniform({5}, kx::float32, k)));
  EXPECT_EQ(fv(kr::normal({5}, kx::float32, 0.f, 1.f, k)),
            fv(kr::normal({5}, kx::float32, 0.f, 1.f, k)));
  EXPECT_NE(fv(kr::uniform({5}, kx::float32, kr::key(1))),
            fv(kr::uniform({5}, kx::float32, kr::key(2))));
  auto ks = kr::split(k, 3);
  EXPECT_EQ(kt::uv(ks), kt::uv(kr::split(k, 3)));
  auto rows = kx::split(ks, 3, 0);
  std::vector<std::vector<float>> draws;
  for (auto& r : rows) draws.push_back(fv(kr::uniform({4}, kx::float32, kx::reshape(r, {2}))));
  EXPECT_NE(draws[0], draws[1]);
  EXPECT_NE(draws[1], draws[2]);
  // split(k) pair equals the rows of split(k, 2)
  auto two = kt::uv(kr::split(k, 2));
  auto [a, b] = kr::split(k);
  EXPECT_EQ(kt::uv(a), std::vector<uint32_t>(two.begin(), two.begin() + 2));
  EXPECT_EQ(kt::uv(b), std::vector<uint32_t>(two.begin() + 2, two.end()));
  // a key computed lazily gives the same numbers as an evaluated one
  auto lazy_key = kx::reshape(kx::slice(kr::split(k, 2), {1, 0}, {2, 2}), {2});
  EXPECT_EQ(fv(kr::uniform({3}, kx::float32, lazy_key)), fv(kr::uniform({3}, kx::float32, b)));
}

TEST(Random, GlobalState) {
  kr::seed(5);
  auto a = fv(kr::uniform({4}));
  auto b = fv(kr::uniform({4}));
  EXPECT_NE(a, b);  // the state advances
  kr::seed(5);
  EXPECT_EQ(fv(kr::uniform({4})), a);
  EXPECT_EQ(fv(kr::uniform({4})), b);
  // the state is a Stateful holding one key
  auto st = kr::state().state_arrays();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].shape(), kx::Shape({2}));
  EXPECT_EQ(st[0].dtype(), kx::uint32);
  kr::state().set_state_arrays({kr::key(5)});
  EXPECT_EQ(fv(kr::uniform({4})), a);
  EXPECT_OP_THROWS((kr::state().set_state_arrays({}), 0), "random::state");
}

// ------------------------------------------------------------------ distributions
TEST(Random, UniformRangeAndDtypes) {
  auto u = fv(kr::uniform(-2.f, 3.f, {100000}, kx::float32, kr::key(10)));
  EXPECT_GE(*std::min_element(u.begin(), u.end()), -2.f);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 3.f);
  EXPECT_NEAR(mean_of(u), 0.5, 0.03);
  EXPECT_NEAR(var_of(u), 25.0 / 12.0, 0.03);
  // array bounds broadcast against the shape
  auto ub =
      kr::uniform(kx::array({0.f, 10.f}), kx::array({1.f, 11.f}), {3, 2}, kx::float32, kr::key(11));
  auto v = fv(ub);
  for (int i = 0; i < 6; ++i) {
    float lo = i % 2 ? 10.f : 0.f;
    EXPECT_GE(v[i], lo);
    EXPECT_LT(v[i], lo + 1.f);
  }
  for (auto d : {kx::float16, kx::bfloat16}) {
    auto h = kr::uniform({1000}, d, kr::key(12));
    EXPECT_EQ(h.dtype(), d);
    auto hv = fv(h);
    EXPECT_GE(*std::min_element(hv.begin(), hv.end()), 0.f);
    EXPECT_LE(*std::max_element(hv.begin(), hv.end()), 1.f);
    EXPECT_NEAR(mean_of(hv), 0.5, 0.05);
  }
  EXPECT_EQ(kr::uniform({0}, kx::float32, kr::key(1)).size(), 0u);
  EXPECT_EQ(kr::uniform({}, kx::float32, kr::key(1)).ndim(), 0);
}

TEST(Random, NormalMoments) {
  auto n = fv(kr::normal({100000}, kx::float32, 0.f, 1.f, kr::key(20)));
  EXPECT_NEAR(mean_of(n), 0.0, 0.02);
  EXPECT_NEAR(var_of(n), 1.0, 0.03);
  int tails = 0, finite = 0;
  for (float x : n) {
    tails += std::fabs(x) > 1.959964f;
    finite += std::isfinite(x);
  }
  EXPECT_EQ(finite, 100000);
  EXPECT_NEAR(tails / 1e5, 0.05, 0.005);  // two-sided 5% tail
  auto s = fv(kr::normal({100000}, kx::float32, 3.f, 2.f, kr::key(21)));
  EXPECT_NEAR(mean_of(s), 3.0, 0.04);
  EXPECT_NEAR(var_of(s), 4.0, 0.12);
  // per-element loc and scale broadcast against the shape
  auto pe = fv(kr::normal({20000, 2}, kx::float32, kx::array({-5.f, 5.f}), kx::array({1.f, 0.1f}),
                          kr::key(24)));
  std::vector<float> c0, c1;
  for (size_t i = 0; i < pe.size(); i += 2) {
    c0.push_back(pe[i]);
    c1.push_back(pe[i + 1]);
  }
  EXPECT_NEAR(mean_of(c0), -5.0, 0.05);
  EXPECT_NEAR(mean_of(c1), 5.0, 0.005);
  EXPECT_NEAR(var_of(c1), 0.01, 0.001);
  auto bf = kr::normal({1000}, kx::bfloat16, 0.f, 1.f, kr::key(22));
  EXPECT_EQ(bf.dtype(), kx::bfloat16);
  EXPECT_NEAR(mean_of(fv(bf)), 0.0, 0.15);
  auto tn = fv(kr::truncated_normal(-1.f, 2.f, {50000}, kx::float32, kr::key(23)));
  EXPECT_GE(*std::min_element(tn.begin(), tn.end()), -1.f);
  EXPECT_LE(*std::max_element(tn.begin(), tn.end()), 2.f);
  // mean of N(0,1) truncated to [-1, 2]: (phi(-1) - phi(2)) / (Phi(2) - Phi(-1)) = 0.2290
  EXPECT_NEAR(mean_of(tn), 0.2290, 0.02);
}

TEST(Random, BernoulliRandint) {
  auto b = kt::bv(kr::bernoulli(0.3f, {100000}, kr::key(30)));
  double rate = std::count(b.begin(), b.end(), true) / 1e5;
  EXPECT_NEAR(rate, 0.3, 0.01);
  EXPECT_EQ(kr::bernoulli(0.3f, {3}, kr::key(30)).dtype(), kx::bool_);
  // per-element probabilities
  auto pb = kt::bv(kr::bernoulli(kx::array({0.f, 1.f}), {2}, kr::key(31)));
  EXPECT_EQ(pb, std::vector<bool>({false, true}));
  EXPECT_EQ(kr::bernoulli(kr::key(1)).ndim(), 0);
  auto r = kt::iv(kr::randint(-3, 4, {70000}, kx::int32, kr::key(32)));
  std::vector<int> counts(7, 0);
  for (int x : r) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 4);
    counts[x + 3]++;
  }
  for (int c : counts) EXPECT_NEAR(c / 70000.0, 1.0 / 7, 0.01);
  for (auto d : {kx::uint32, kx::int64}) {
    auto x = kr::randint(5, 9, {100}, d, kr::key(33));
    EXPECT_EQ(x.dtype(), d);
    auto xv = kt::lv(x);
    EXPECT_GE(*std::min_element(xv.begin(), xv.end()), 5);
    EXPECT_LE(*std::max_element(xv.begin(), xv.end()), 8);
  }
  // a full-width int32 range does not overflow
  auto wide = kt::lv(kr::randint(INT32_MIN, INT32_MAX, {1000}, kx::int32, kr::key(34)));
  EXPECT_LT(*std::min_element(wide.begin(), wide.end()), -1000000);
  EXPECT_GT(*std::max_element(wide.begin(), wide.end()), 1000000);
}

TEST(Random, CategoricalFrequencies) {
  std::vector<float> p = {0.1f, 0.2f, 0.7f};
  auto logits = kx::log(kx::array(p.data(), {3}));
  auto s = kr::categorical(kx::broadcast_to(logits, {20000, 3}), -1, kr::key(40));
  EXPECT_EQ(s.shape(), kx::Shape({20000}));
  EXPECT_EQ(s.dtype(), kx::uint32);
  std::vector<int> counts(3, 0);
  for (auto c : kt::uv(s)) counts.at(c)++;
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(counts[i] / 20000.0, p[i], 0.015);
  // num_samples form: (batch, num_samples); axis 0 of (C, batch) logits
  auto ns = kr::categorical(kx::reshape(logits, {1, 3}), -1, 10000, kr::key(41));
  EXPECT_EQ(ns.shape(), kx::Shape({1, 10000}));
  auto nv = kt::uv(ns);
  EXPECT_NEAR(std::count(nv.begin(), nv.end(), 2u) / 10000.0, 0.7, 0.02);
  auto ax0 = kr::categorical(kx::array({0.f, -INFINITY, -INFINITY, 0.f}, {2, 2}), 0, kr::key(42));
  EXPECT_EQ(kt::uv(ax0), std::vector<uint32_t>({0, 1}));  // -inf logits are never drawn
}

TEST(Random, Permutation) {
  auto p = kt::iv(kr::permutation(1000, kr::key(50)));
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(p, iota);
  auto x = kx::reshape(kx::arange(12), {4, 3});
  auto px = kr::permutation(x, 0, kr::key(51));
  EXPECT_EQ(px.shape(), kx::Shape({4, 3}));
  auto rows = kt::iv(px);
  std::vector<int> firsts;
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(rows[r * 3] % 3, 0);
    EXPECT_EQ(rows[r * 3 + 1], rows[r * 3] + 1);  // rows move whole
    firsts.push_back(rows[r * 3]);
  }
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(firsts, std::vector<int>({0, 3, 6, 9}));
  auto pc = kt::iv(kr::permutation(x, 1, kr::key(52)));
  EXPECT_EQ(pc[3] - pc[0], 3);
  EXPECT_EQ(kr::permutation(0, kr::key(1)).size(), 0u);
}

TEST(Random, Errors) {
  EXPECT_OP_THROWS(kr::uniform({2}, kx::float32, kx::array({1, 2})), "random");
  EXPECT_OP_THROWS(kr::uniform({2}, kx::float32, kx::zeros({3}, kx::uint32)), "random");
  EXPECT_OP_THROWS(kr::uniform({2}, kx::int32, kr::key(0)), "random::uniform");
  EXPECT_OP_THROWS(kr::uniform(kx::zeros({3}), kx::ones({3}), {2}, kx::float32, kr::key(0)),
                   "random::uniform");
  EXPECT_OP_THROWS(kr::uniform(kx::zeros({3, 2}), kx::ones({2}), {2}, kx::float32, kr::key(0)),
                   "random::uniform");
  EXPECT_OP_THROWS(kr::normal({2}, kx::int32, 0.f, 1.f, kr::key(0)), "random::normal");
  EXPECT_OP_THROWS(kr::normal({2}, kx::float32, kx::zeros({3}), kx::array(1.f), kr::key(0)),
                   "random::normal");
  EXPECT_OP_THROWS(kr::randint(5, 5, {2}, kx::int32, kr::key(0)), "random::randint");
  EXPECT_OP_THROWS(kr::randint(0, 5, {2}, kx::float32, kr::key(0)), "random::randint");
  EXPECT_OP_THROWS(kr::bits({2}, 2, kr::key(0)), "random::bits");
  EXPECT_OP_THROWS(kr::bits({-1}, 4, kr::key(0)), "random::bits");
  EXPECT_OP_THROWS(kr::split(kr::key(0), 0), "random::split");
  EXPECT_OP_THROWS(kr::truncated_normal(1.f, -1.f, {2}, kx::float32, kr::key(0)),
                   "random::truncated_normal");
  EXPECT_OP_THROWS(kr::categorical(kx::zeros({2, 3}), 2, kr::key(0)), "random::categorical");
  EXPECT_OP_THROWS(kr::categorical(kx::zeros({2, 3}), -1, -1, kr::key(0)), "random::categorical");
  EXPECT_OP_THROWS(kr::permutation(-1, kr::key(0)), "random::permutation");
  EXPECT_OP_THROWS(kr::permutation(kx::zeros({2}), 1, kr::key(0)), "random::permutation");
  EXPECT_OP_THROWS(kr::bernoulli(kx::zeros({3}), {2}, kr::key(0)), "random::bernoulli");
}
