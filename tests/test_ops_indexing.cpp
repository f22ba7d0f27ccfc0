// Indexing ops: take, take_along_axis, put_along_axis, scatter_add, scatter_add_along_axis.
#include "ops_test_helpers.h"

using kt::fv;
using kt::iv;

namespace {
kx::array iota(const kx::Shape& s, kx::Dtype d = kx::int32) {
  int n = 1;
  for (int x : s) n *= x;
  return kx::astype(kx::reshape(kx::arange(n), s), d);
}
}  // namespace

TEST(Take, AlongAxis) {
  auto a = iota({3, 4});
  auto r0 = kx::take(a, kx::array({2, 0}), 0);
  EXPECT_EQ(r0.shape(), kx::Shape({2, 4}));
  EXPECT_EQ(iv(r0), std::vector<int>({8, 9, 10, 11, 0, 1, 2, 3}));
  auto r1 = kx::take(a, kx::array({3, 3, 1}), 1);
  EXPECT_EQ(r1.shape(), kx::Shape({3, 3}));
  EXPECT_EQ(iv(r1), std::vector<int>({3, 3, 1, 7, 7, 5, 11, 11, 9}));
  // n-d indices land in place of the axis
  auto r2 = kx::take(a, kx::array({0, 1, 2, 0}, {2, 2}), 1);
  EXPECT_EQ(r2.shape(), kx::Shape({3, 2, 2}));
  EXPECT_EQ(iv(r2), std::vector<int>({0, 1, 2, 0, 4, 5, 6, 4, 8, 9, 10, 8}));
  // scalar index drops the axis
  auto r3 = kx::take(a, 1, 0);
  EXPECT_EQ(r3.shape(), kx::Shape({4}));
  EXPECT_EQ(iv(r3), std::vector<int>({4, 5, 6, 7}));
  EXPECT_EQ(iv(kx::take(a, kx::array(2), -1)), std::vector<int>({2, 6, 10}));
  // negative indices count from the end
  EXPECT_EQ(iv(kx::take(a, kx::array({-1, -4}), 1)), std::vector<int>({3, 0, 7, 4, 11, 8}));
  // flattened
  EXPECT_EQ(iv(kx::take(a, kx::array({11, 0, 5}))), std::vector<int>({11, 0, 5}));
  EXPECT_EQ(kx::take(a, kx::array({11, 0, 5}, {3, 1})).shape(), kx::Shape({3, 1}));
  // every index dtype
  for (auto d : {kx::int32, kx::uint32, kx::int64})
    EXPECT_EQ(iv(kx::take(a, kx::astype(kx::array({1}), d), 0)), std::vector<int>({4, 5, 6, 7}));
  // every value dtype
  for (auto d : kt::kAllDtypes) {
    auto x = kx::astype(kx::array({0.f, 1.f, 2.f}), d);
    auto y = kx::take(x, kx::array({2, 0}), 0);
    EXPECT_EQ(y.dtype(), d);
    EXPECT_EQ(fv(y), d == kx::bool_ ? std::vector<float>({1, 0}) : std::vector<float>({2, 0}));
  }
  // from transposed data with transposed indices
  auto ti = kx::transpose(kx::array({0, 1, 1, 0}, {2, 2}));  // [[0,1],[1,0]]
  EXPECT_EQ(iv(kx::take(kx::transpose(a), ti, 0)),
            std::vector<int>({0, 4, 8, 1, 5, 9, 1, 5, 9, 0, 4, 8}));
  // empty indices and empty arrays
  EXPECT_EQ(kx::take(a, kx::zeros({0}, kx::int32), 0).shape(), kx::Shape({0, 4}));
  EXPECT_EQ(kx::take(kx::zeros({2, 0}), kx::array({1}), 0).shape(), kx::Shape({1, 0}));
  // large gather
  auto big = kx::arange(100000);
  auto idx = kx::subtract(kx::array(99999), kx::arange(100000));
  auto g = iv(kx::take(big, idx, 0));
  EXPECT_EQ(g.front(), 99999);
  EXPECT_EQ(g.back(), 0);
}

TEST(Take, Errors) {
  auto a = iota({3, 4});
  EXPECT_OP_THROWS(kx::take(a, kx::array({0.5f}), 0), "take");
  EXPECT_OP_THROWS(kx::take(a, kx::array({true}), 0), "take");
  EXPECT_OP_THROWS(kx::take(a, kx::array({0}), 2), "take");
  EXPECT_OP_THROWS(kx::take(a, kx::array({0}), -3), "take");
  EXPECT_OP_THROWS(kx::take(kx::array(1), kx::array({0}), 0), "take");
  EXPECT_OP_THROWS(kx::take(kx::zeros({0, 2}), kx::array({0}), 0), "take");
}

TEST(TakeAlongAxis, Values) {
  auto a = kx::array({10, 30, 20, 60, 40, 50}, {2, 3});
  auto i = kx::array({0, 2, 1, 1}, {2, 2});
  auto r = kx::take_along_axis(a, i, 1);
  EXPECT_EQ(r.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(iv(r), std::vector<int>({10, 20, 40, 40}));
  // indices broadcast along the other axes
  auto r0 = kx::take_along_axis(a, kx::array({1, 0, 1}, {1, 3}), 0);
  EXPECT_EQ(iv(r0), std::vector<int>({60, 30, 50}));
  auto rb = kx::take_along_axis(a, kx::array({2}, {1, 1}), 1);
  EXPECT_EQ(rb.shape(), kx::Shape({2, 1}));
  EXPECT_EQ(iv(rb), std::vector<int>({20, 50}));
  // with argsort: sorting along an axis
  auto s = kx::take_along_axis(a, kx::argsort(a, 1), 1);
  EXPECT_EQ(iv(s), std::vector<int>({10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(iv(kx::take_along_axis(a, kx::array({-1}, {1, 1}), -1)), std::vector<int>({20, 50}));
  for (auto d : kt::kAllDtypes)
    EXPECT_EQ(kx::take_along_axis(kx::zeros({2, 2}, d), kx::zeros({2, 1}, kx::uint32), 1).dtype(),
              d);
  EXPECT_EQ(kx::take_along_axis(a, kx::zeros({2, 0}, kx::int32), 1).shape(), kx::Shape({2, 0}));
  EXPECT_OP_THROWS(kx::take_along_axis(a, kx::array({0}), 1), "take_along_axis");
  EXPECT_OP_THROWS(kx::take_along_axis(a, kx::zeros({3, 1}, kx::int32), 1), "take_along_axis");
  EXPECT_OP_THROWS(kx::take_along_axis(a, kx::zeros({2, 1}), 1), "take_along_axis");
  EXPECT_OP_THROWS(kx::take_along_axis(a, kx::zeros({2, 1}, kx::int32), 2), "take_along_axis");
}

TEST(PutAlongAxis, Values) {
  auto a = kx::zeros({2, 3}, kx::int32);
  auto r = kx::put_along_axis(a, kx::array({2, 0}, {2, 1}), kx::array({7, 8}, {2, 1}), 1);
  EXPECT_EQ(iv(r), std::vector<int>({0, 0, 7, 8, 0, 0}));
  EXPECT_EQ(iv(a), std::vector<int>(6, 0));
  // broadcast scalar value, float values cast to the array dtype
  auto s = kx::put_along_axis(a, kx::array({1, 1, 0}, {1, 3}), kx::array(5.9f), 0);
  EXPECT_EQ(s.dtype(), kx::int32);
  EXPECT_EQ(iv(s), std::vector<int>({0, 0, 5, 5, 5, 0}));
  auto h = kx::put_along_axis(kx::ones({3}, kx::float16), kx::array({-1}), kx::array(0.5f), 0);
  EXPECT_EQ(h.dtype(), kx::float16);
  EXPECT_EQ(fv(h), std::vector<float>({1, 1, 0.5f}));
  EXPECT_OP_THROWS(kx::put_along_axis(a, kx::array({0}), kx::array(1), 1), "put_along_axis");
  EXPECT_OP_THROWS(kx::put_along_axis(a, kx::zeros({2, 1}, kx::int32), kx::zeros({2, 2}), 1),
                   "put_along_axis");
  EXPECT_OP_THROWS(kx::put_along_axis(a, kx::zeros({2, 1}), kx::array(1), 1), "put_along_axis");
}

TEST(ScatterAdd, AccumulatesRepeatedIndices) {
  auto a = kx::zeros({4}, kx::int32);
  auto r = kx::scatter_add(a, kx::array({0, 2, 0, 3}), kx::array({1, 2, 3, 4}), 0);
  EXPECT_EQ(iv(r), std::vector<int>({4, 0, 2, 4}));
  // rows of a matrix; updates laid out like take(a, indices, axis)
  auto m = kx::ones({3, 2});
  auto u = kx::array({1.f, 2.f, 3.f, 4.f}, {2, 2});
  auto rm = kx::scatter_add(m, kx::array({2, 2}), u, 0);
  EXPECT_EQ(fv(rm), std::vector<float>({1, 1, 1, 1, 5, 7}));
  auto rc = kx::scatter_add(m, kx::array({1}), kx::array(10.f), 1);  // broadcast update
  EXPECT_EQ(fv(rc), std::vector<float>({1, 11, 1, 11, 1, 11}));
  auto neg = kx::scatter_add(kx::zeros({3}), kx::array({-1}), kx::array({2.f}), 0);
  EXPECT_EQ(fv(neg), std::vector<float>({0, 0, 2}));
  for (auto d : kt::kNumericDtypes) {
    auto x = kx::scatter_add(kx::ones({3}, d), kx::array({1, 1}), kx::ones({2}, d), 0);
    EXPECT_EQ(x.dtype(), d);
    EXPECT_EQ(fv(x), std::vector<float>({1, 3, 1})) << d;
  }
  auto b = kx::scatter_add(kx::zeros({2}, kx::bool_), kx::array({1}), kx::array({true}), 0);
  EXPECT_EQ(kt::bv(b), std::vector<bool>({false, true}));
  EXPECT_EQ(iv(kx::scatter_add(kx::ones({2}, kx::int32), kx::zeros({0}, kx::int32),
                               kx::zeros({0}, kx::int32), 0)),
            std::vector<int>({1, 1}));
  EXPECT_OP_THROWS(kx::scatter_add(a, kx::array({0.f}), kx::array({1}), 0), "scatter_add");
  EXPECT_OP_THROWS(kx::scatter_add(a, kx::array({0, 1}), kx::array({1, 2, 3}), 0), "scatter_add");
  EXPECT_OP_THROWS(kx::scatter_add(a, kx::array({0}), kx::array({1}), 1), "scatter_add");
  EXPECT_OP_THROWS(kx::scatter_add(kx::array(1), kx::array({0}), kx::array({1}), 0), "scatter_add");
}

TEST(ScatterAddAlongAxis, Values) {
  auto a = kx::zeros({2, 3}, kx::int32);
  auto idx = kx::array({0, 0, 2, 1, 1, 1}, {2, 3});
  auto r = kx::scatter_add_along_axis(a, idx, kx::array({1, 2, 3, 4, 5, 6}, {2, 3}), 1);
  EXPECT_EQ(iv(r), std::vector<int>({3, 0, 3, 0, 15, 0}));
  auto r0 = kx::scatter_add_along_axis(a, kx::array({1, 1, 0}, {1, 3}), kx::array(1), 0);
  EXPECT_EQ(iv(r0), std::vector<int>({0, 0, 1, 1, 1, 0}));
  EXPECT_OP_THROWS(kx::scatter_add_along_axis(a, kx::array({0}), kx::array(1), 1),
                   "scatter_add_along_axis");
}
