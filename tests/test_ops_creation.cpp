// Creation ops: zeros/ones/full(_like), arange, linspace, eye/identity, tri/tril/triu, copy.
#include "ops_test_helpers.h"

using kt::all_close;
using kt::fv;
using kt::iv;

TEST(Creation, ZerosOnesEveryDtype) {
  for (auto d : kt::kAllDtypes) {
    auto z = kx::zeros({2, 3}, d);
    auto o = kx::ones({2, 3}, d);
    EXPECT_EQ(z.dtype(), d);
    EXPECT_EQ(o.dtype(), d);
    EXPECT_EQ(z.shape(), kx::Shape({2, 3}));
    EXPECT_EQ(fv(z), std::vector<float>(6, 0.f)) << d;
    EXPECT_EQ(fv(o), std::vector<float>(6, 1.f)) << d;
  }
  EXPECT_EQ(kx::zeros({3}).dtype(), kx::float32);
}

TEST(Creation, ZeroDimAndEmpty) {
  auto s = kx::ones({});
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.item<float>(), 1.f);
  auto e = kx::zeros({0, 4}, kx::int32);
  EXPECT_EQ(e.size(), 0u);
  EXPECT_EQ(e.shape(), kx::Shape({0, 4}));
  EXPECT_TRUE(iv(e).empty());
  EXPECT_EQ(e.nbytes(), 0u);
}

TEST(Creation, Full) {
  auto a = kx::full({2, 2}, kx::array(7));
  EXPECT_EQ(a.dtype(), kx::int32);
  EXPECT_EQ(iv(a), std::vector<int>({7, 7, 7, 7}));
  auto b = kx::full({2, 2}, kx::array(2.5f), kx::int32);
  EXPECT_EQ(b.dtype(), kx::int32);
  EXPECT_EQ(iv(b), std::vector<int>({2, 2, 2, 2}));
  // a row broadcast over the leading axis
  auto c = kx::full({3, 2}, kx::array({1.f, 2.f}));
  EXPECT_EQ(fv(c), std::vector<float>({1, 2, 1, 2, 1, 2}));
  auto h = kx::full({2}, kx::array(1.5f), kx::float16);
  EXPECT_EQ(h.dtype(), kx::float16);
  EXPECT_EQ(fv(h), std::vector<float>({1.5f, 1.5f}));
  auto t = kx::full({2}, kx::array(true));
  EXPECT_EQ(t.dtype(), kx::bool_);
  EXPECT_EQ(kt::bv(t), std::vector<bool>({true, true}));
}

TEST(Creation, Like) {
  auto x = kx::array({1, 2, 3}, kx::int64);
  auto z = kx::zeros_like(x);
  EXPECT_EQ(z.dtype(), kx::int64);
  EXPECT_EQ(kt::lv(z), std::vector<int64_t>({0, 0, 0}));
  auto o = kx::ones_like(kx::transpose(kx::zeros({2, 3}, kx::bfloat16)));
  EXPECT_EQ(o.shape(), kx::Shape({3, 2}));
  EXPECT_EQ(o.dtype(), kx::bfloat16);
  auto f = kx::full_like(x, kx::array(2.9f));
  EXPECT_EQ(f.dtype(), kx::int64);
  EXPECT_EQ(kt::lv(f), std::vector<int64_t>({2, 2, 2}));
}

TEST(Creation, Arange) {
  auto a = kx::arange(5);
  EXPECT_EQ(a.dtype(), kx::int32);
  EXPECT_EQ(iv(a), std::vector<int>({0, 1, 2, 3, 4}));
  auto b = kx::arange(2, 11, 3);
  EXPECT_EQ(iv(b), std::vector<int>({2, 5, 8}));
  auto c = kx::arange(5, 0, -2);
  EXPECT_EQ(iv(c), std::vector<int>({5, 3, 1}));
  auto d = kx::arange(0.0, 1.0, 0.25);
  EXPECT_EQ(d.dtype(), kx::float32);
  EXPECT_EQ(fv(d), std::vector<float>({0.f, 0.25f, 0.5f, 0.75f}));
  auto e = kx::arange(3.0);
  EXPECT_EQ(e.dtype(), kx::float32);
  EXPECT_EQ(fv(e), std::vector<float>({0, 1, 2}));
  // numpy: arange(0, 1, 0.3) has 4 elements
  EXPECT_EQ(kx::arange(0.0, 1.0, 0.3).size(), 4u);
  // empty ranges
  EXPECT_EQ(kx::arange(3, 3).size(), 0u);
  EXPECT_EQ(kx::arange(5, 0).size(), 0u);
  EXPECT_EQ(kx::arange(0, 5, -1).size(), 0u);
  // explicit dtypes
  for (auto d : {kx::int32, kx::uint32, kx::int64, kx::float16, kx::bfloat16, kx::float32}) {
    auto r = kx::arange(1.0, 4.0, 1.0, d);
    EXPECT_EQ(r.dtype(), d);
    EXPECT_EQ(fv(r), std::vector<float>({1, 2, 3})) << d;
  }
  auto big = kx::arange(100000);
  EXPECT_EQ(big.to_vector<int>().back(), 99999);
}

TEST(Creation, ArangeErrors) {
  EXPECT_OP_THROWS(kx::arange(0, 5, 0), "arange");
  EXPECT_OP_THROWS(kx::arange(0.0, 1.0, 0.0), "arange");
  EXPECT_OP_THROWS(kx::arange(0.0, INFINITY, 1.0), "arange");
  EXPECT_OP_THROWS(kx::arange(0.0, NAN, 1.0), "arange");
  EXPECT_OP_THROWS(kx::arange(0.0, 3.0, 1.0, kx::bool_), "arange");
  EXPECT_OP_THROWS(kx::arange(0.0, 1e12, 1.0), "arange");
}

TEST(Creation, Linspace) {
  auto a = kx::linspace(0.0, 1.0, 5);
  EXPECT_EQ(a.dtype(), kx::float32);
  EXPECT_EQ(fv(a), std::vector<float>({0.f, 0.25f, 0.5f, 0.75f, 1.f}));
  auto b = kx::linspace(-1.0, 1.0, 3);
  EXPECT_EQ(fv(b), std::vector<float>({-1.f, 0.f, 1.f}));
  auto c = kx::linspace(2.0, 3.0, 1);
  EXPECT_EQ(fv(c), std::vector<float>({2.f}));
  EXPECT_EQ(kx::linspace(0.0, 1.0, 0).size(), 0u);
  // the endpoint is exact even where start + (n-1)*step rounds
  auto d = kx::linspace(0.1, 0.7, 7);
  EXPECT_EQ(fv(d).back(), 0.7f);
  EXPECT_TRUE(all_close(d, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f}, 1e-6f));
  auto e = kx::linspace(0.0, 10.0, 6, kx::int32);
  EXPECT_EQ(e.dtype(), kx::int32);
  EXPECT_EQ(iv(e), std::vector<int>({0, 2, 4, 6, 8, 10}));
  auto f = kx::linspace(1.0, 0.0, 3, kx::float16);
  EXPECT_EQ(f.dtype(), kx::float16);
  EXPECT_EQ(fv(f), std::vector<float>({1.f, 0.5f, 0.f}));
  EXPECT_OP_THROWS(kx::linspace(0.0, 1.0, -1), "linspace");
}

TEST(Creation, EyeIdentity) {
  EXPECT_EQ(fv(kx::eye(3)), std::vector<float>({1, 0, 0, 0, 1, 0, 0, 0, 1}));
  auto r = kx::eye(2, 3, 1, kx::int32);
  EXPECT_EQ(r.shape(), kx::Shape({2, 3}));
  EXPECT_EQ(r.dtype(), kx::int32);
  EXPECT_EQ(iv(r), std::vector<int>({0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(iv(kx::eye(3, 2, -1, kx::int32)), std::vector<int>({0, 0, 1, 0, 0, 1}));
  EXPECT_EQ(iv(kx::eye(2, 2, 5, kx::int32)), std::vector<int>({0, 0, 0, 0}));
  EXPECT_EQ(kt::bv(kx::identity(2, kx::bool_)), std::vector<bool>({true, false, false, true}));
  EXPECT_EQ(kx::eye(0).shape(), kx::Shape({0, 0}));
  EXPECT_OP_THROWS(kx::eye(-1), "eye");
}

TEST(Creation, TriTrilTriu) {
  EXPECT_EQ(iv(kx::tri(3, 3, 0, kx::int32)), std::vector<int>({1, 0, 0, 1, 1, 0, 1, 1, 1}));
  EXPECT_EQ(iv(kx::tri(2, 3, 1, kx::int32)), std::vector<int>({1, 1, 0, 1, 1, 1}));
  auto x = kx::reshape(kx::arange(1, 10), {3, 3});
  EXPECT_EQ(iv(kx::tril(x)), std::vector<int>({1, 0, 0, 4, 5, 0, 7, 8, 9}));
  EXPECT_EQ(iv(kx::triu(x)), std::vector<int>({1, 2, 3, 0, 5, 6, 0, 0, 9}));
  EXPECT_EQ(iv(kx::tril(x, -1)), std::vector<int>({0, 0, 0, 4, 0, 0, 7, 8, 0}));
  EXPECT_EQ(iv(kx::triu(x, 1)), std::vector<int>({0, 2, 3, 0, 0, 6, 0, 0, 0}));
  // batched, on a transposed input
  auto xb = kx::stack({x, kx::transpose(x)});
  EXPECT_EQ(iv(kx::triu(xb)),
            std::vector<int>({1, 2, 3, 0, 5, 6, 0, 0, 9, 1, 4, 7, 0, 5, 8, 0, 0, 9}));
  EXPECT_OP_THROWS(kx::tril(kx::arange(3)), "tril");
  EXPECT_OP_THROWS(kx::triu(kx::array(1.f)), "triu");
  EXPECT_OP_THROWS(kx::tri(-2), "tri");
}

TEST(Creation, CopyIsIndependentHandle) {
  auto a = kx::array({1.f, 2.f});
  auto b = kx::copy(a);
  EXPECT_FALSE(a.is_same(b));
  EXPECT_EQ(fv(b), std::vector<float>({1, 2}));
  EXPECT_EQ(b.dtype(), kx::float32);
}

TEST(Creation, Errors) {
  EXPECT_OP_THROWS(kx::zeros({2, -1}), "zeros");
  EXPECT_OP_THROWS(kx::ones({-3}), "ones");
  EXPECT_OP_THROWS(kx::full({-1}, kx::array(1.f)), "full");
  // values that cannot broadcast to the shape
  EXPECT_OP_THROWS(kx::full({2, 2}, kx::array({1.f, 2.f, 3.f})), "full");
}
