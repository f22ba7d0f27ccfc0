// Arrays themselves: construction, queries, item/to_vector/data, dtypes and conversions,
// NumPy/MLX type promotion (arrays and C++ scalars), printing, eval, deep graphs and the
// host buffer cache.
#include <cstring>
#include <limits>

#include "ops_test_helpers.h"

using kt::fv;
using kt::iv;

// ------------------------------------------------------------------ construction and queries
TEST(Array, ScalarConstructionDtypes) {
  EXPECT_EQ(kx::array(1.5f).dtype(), kx::float32);
  EXPECT_EQ(kx::array(1.5).dtype(), kx::float32);  // no float64: double maps to float32
  EXPECT_EQ(kx::array(3).dtype(), kx::int32);
  EXPECT_EQ(kx::array(3u).dtype(), kx::uint32);
  EXPECT_EQ(kx::array(int64_t(3)).dtype(), kx::int64);
  EXPECT_EQ(kx::array(true).dtype(), kx::bool_);
  EXPECT_EQ(kx::array(kx::float16_t(1.f)).dtype(), kx::float16);
  EXPECT_EQ(kx::array(kx::bfloat16_t(1.f)).dtype(), kx::bfloat16);
  auto a = kx::array(2.5f, kx::int32);
  EXPECT_EQ(a.dtype(), kx::int32);
  EXPECT_EQ(a.item<int>(), 2);
  EXPECT_EQ(kx::array(-1, kx::bool_).item<bool>(), true);
  EXPECT_EQ(kx::array(0.f, kx::bool_).item<bool>(), false);
  EXPECT_EQ(kx::array(3.7f).ndim(), 0);
  EXPECT_EQ(kx::array(3.7f).shape(), kx::Shape{});
}

TEST(Array, ListConstruction) {
  kx::array a({1.f, 2.f, 3.f});
  EXPECT_EQ(a.shape(), kx::Shape({3}));
  kx::array b({1.f, 2.f, 3.f, 4.f}, {2, 2});
  EXPECT_EQ(b.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(b.shape(0), 2);
  EXPECT_EQ(b.shape(-1), 2);
  kx::array c({1, 2}, kx::float32);
  EXPECT_EQ(c.dtype(), kx::float32);
  EXPECT_EQ(fv(c), std::vector<float>({1, 2}));
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  kx::array d(v, {3, 2});
  EXPECT_EQ(d.shape(), kx::Shape({3, 2}));
  EXPECT_EQ(fv(d), v);
  std::vector<bool> bl = {true, false, true};
  kx::array e(bl, {3});
  EXPECT_EQ(e.dtype(), kx::bool_);
  EXPECT_EQ(kt::bv(e), bl);
  kx::array e2(bl, {3}, kx::int32);
  EXPECT_EQ(iv(e2), std::vector<int>({1, 0, 1}));
  int raw[4] = {4, 3, 2, 1};
  kx::array f(raw, {2, 2}, kx::int64);
  raw[0] = 100;  // copied at construction
  EXPECT_EQ(f.dtype(), kx::int64);
  EXPECT_EQ(kt::lv(f), std::vector<int64_t>({4, 3, 2, 1}));
  kx::array g(std::vector<float>{}, {0, 3});
  EXPECT_EQ(g.size(), 0u);
  EXPECT_EQ(g.shape(), kx::Shape({0, 3}));
}

TEST(Array, ConstructionErrors) {
  EXPECT_OP_THROWS(kx::array({1.f, 2.f, 3.f}, {2, 2}), "array");
  EXPECT_OP_THROWS(kx::array(std::vector<float>{1, 2}, {3}), "array");
  EXPECT_OP_THROWS(kx::array(std::vector<float>{}, {0, -1}), "array");
  kx::array empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_OP_THROWS(empty.shape(), "array");
  EXPECT_OP_THROWS(empty.dtype(), "array");
  EXPECT_OP_THROWS(kx::add(empty, empty), "array");
  EXPECT_OP_THROWS((kx::eval(std::vector<kx::array>{empty}), 0), "eval");
}

TEST(Array, Queries) {
  auto a = kx::zeros({2, 3, 4}, kx::float16);
  EXPECT_EQ(a.ndim(), 3);
  EXPECT_EQ(a.size(), 24u);
  EXPECT_EQ(a.itemsize(), 2u);
  EXPECT_EQ(a.nbytes(), 48u);
  EXPECT_EQ(a.strides(), kx::Strides({12, 4, 1}));
  EXPECT_EQ(a.shape(-3), 2);
  EXPECT_OP_THROWS(a.shape(3), "array::shape");
  EXPECT_OP_THROWS(a.shape(-4), "array::shape");
  for (auto d : kt::kAllDtypes) EXPECT_EQ(kx::zeros({5}, d).itemsize(), size_t(d.size()));
  EXPECT_EQ(kx::int64.size(), 8);
  EXPECT_EQ(kx::bool_.size(), 1);
  // handles share one node; copies of the handle are the same array
  auto b = a;
  EXPECT_TRUE(b.is_same(a));
  EXPECT_EQ(b.id(), a.id());
}

TEST(Array, ItemToVectorData) {
  auto a = kx::array({1.5f, -2.5f, 3.f});
  EXPECT_EQ(a.to_vector<int>(), std::vector<int>({1, -2, 3}));  // truncation like a C cast
  EXPECT_EQ(a.to_vector<bool>(), std::vector<bool>({true, true, true}));
  EXPECT_EQ(kx::array(7).item<float>(), 7.f);
  EXPECT_EQ(kx::array(2.0).item<float>(), 2.f);  // doubles narrow to float32
  EXPECT_EQ(kx::array(1.5f).item<double>(), 1.5);
  EXPECT_EQ(kx::array({2.5f, -3.f}).to_vector<double>(), std::vector<double>({2.5, -3.0}));
  EXPECT_EQ(kx::array({1.0, 2.0}).to_vector<float>(), std::vector<float>({1.f, 2.f}));
  EXPECT_EQ(kx::array(int64_t(1) << 40).item<int64_t>(), int64_t(1) << 40);
  EXPECT_EQ(kx::array(-7).item<uint32_t>(), 4294967289u);
  EXPECT_EQ(kx::array({9}).item<int>(), 9);  // size-1 arrays of any rank
  EXPECT_EQ(kx::array(kx::float16_t(0.5f)).item<float>(), 0.5f);
  EXPECT_OP_THROWS(a.item<float>(), "item");
  EXPECT_OP_THROWS(kx::zeros({0}).item<float>(), "item");
  // data<T>() must match the dtype exactly
  auto i = kx::array({1, 2, 3});
  EXPECT_EQ(i.data<int32_t>()[2], 3);
  EXPECT_OP_THROWS(i.data<float>(), "array::data");
  EXPECT_OP_THROWS(i.data<int64_t>(), "array::data");
  EXPECT_OP_THROWS(i.data<uint32_t>(), "array::data");
  EXPECT_OP_THROWS(a.data<double>(), "array::data");
  auto h = kx::array({1.f, 2.f}, kx::float16);
  EXPECT_EQ(static_cast<float>(h.data<kx::float16_t>()[1]), 2.f);
  EXPECT_OP_THROWS(h.data<kx::bfloat16_t>(), "array::data");
  auto bo = kx::array({true, false});
  EXPECT_EQ(bo.data<bool>()[0], true);
  // raw byte access is allowed for every dtype
  EXPECT_EQ(i.data<uint8_t>()[4], 2);
  // data evaluates lazily built arrays
  auto lazy = kx::add(i, kx::array(1));
  EXPECT_FALSE(lazy.is_available());
  EXPECT_EQ(lazy.data<int32_t>()[0], 2);
  EXPECT_TRUE(lazy.is_available());
  // to_vector of a 0-d and of an empty array
  EXPECT_EQ(kx::array(5).to_vector<int>(), std::vector<int>({5}));
  EXPECT_TRUE(kx::zeros({3, 0}).to_vector<float>().empty());
}

// ------------------------------------------------------------------ half types
TEST(Dtype, Float16Conversions) {
  auto h = [](float f) { return static_cast<float>(kx::float16_t(f)); };
  EXPECT_EQ(h(1.f), 1.f);
  EXPECT_EQ(h(-2.5f), -2.5f);
  EXPECT_EQ(h(1.f / 3.f), 0.333251953125f);
  EXPECT_EQ(h(0.1f), 0.0999755859375f);
  EXPECT_EQ(h(65504.f), 65504.f);  // max finite
  EXPECT_EQ(h(65519.f), 65504.f);
  EXPECT_TRUE(std::isinf(h(65520.f)));  // rounds up to inf
  EXPECT_TRUE(std::isinf(h(1e10f)) && h(-1e10f) < 0);
  EXPECT_TRUE(std::isnan(h(NAN)));
  EXPECT_EQ(h(INFINITY), INFINITY);
  EXPECT_EQ(h(std::ldexp(1.f, -24)), std::ldexp(1.f, -24));  // smallest subnormal
  EXPECT_EQ(h(std::ldexp(1.f, -25)), 0.f);                   // tie rounds to even (0)
  EXPECT_EQ(h(std::ldexp(3.f, -26)), std::ldexp(1.f, -24));
  EXPECT_EQ(h(std::ldexp(1.f, -14)), std::ldexp(1.f, -14));  // smallest normal
  // ties to even: 2049 lies between 2048 and 2050
  EXPECT_EQ(h(2049.f), 2048.f);
  EXPECT_EQ(h(2051.f), 2052.f);
  EXPECT_EQ(kx::float16_t(-0.f).bits, 0x8000);
  EXPECT_EQ(kx::float16_t(1.f).bits, 0x3c00);
}

TEST(Dtype, BFloat16Conversions) {
  auto b = [](float f) { return static_cast<float>(kx::bfloat16_t(f)); };
  EXPECT_EQ(b(1.f), 1.f);
  EXPECT_EQ(b(0.1f), 0.10009765625f);
  EXPECT_EQ(b(1.f + std::ldexp(1.f, -8)), 1.f);  // tie to even
  EXPECT_EQ(b(1.f + 3 * std::ldexp(1.f, -8)), 1.015625f);
  EXPECT_TRUE(std::isinf(b(INFINITY)));
  EXPECT_TRUE(std::isnan(b(NAN)));
  EXPECT_EQ(kx::bfloat16_t(1.f).bits, 0x3f80);
}

TEST(Dtype, BulkHalfConversionsMatchScalar) {
  // the vectorized astype paths round exactly like the scalar constructors
  std::vector<float> v = {0.f,
                          -0.f,
                          1.f,
                          -2.5f,
                          1.f / 3.f,
                          0.1f,
                          65504.f,
                          65519.f,
                          65520.f,
                          1e10f,
                          -1e10f,
                          INFINITY,
                          -INFINITY,
                          2049.f,
                          2051.f,
                          std::ldexp(1.f, -24),
                          std::ldexp(1.f, -25),
                          std::ldexp(3.f, -26),
                          std::ldexp(1.f, -14),
                          std::ldexp(1.5f, -20),
                          1.f + std::ldexp(1.f, -8),
                          1.f + 3 * std::ldexp(1.f, -8),
                          3.3895314e38f,
                          1e-40f,
                          -1e-40f};
  for (int i = 0; i < 300; ++i)
    v.push_back(std::ldexp(1.f + i / 300.f, i % 60 - 30) * (i % 2 ? -1 : 1));
  auto x = kx::array(v.data(), {static_cast<int>(v.size())});
  auto h = kx::astype(x, kx::float16);
  auto b = kx::astype(x, kx::bfloat16);
  const auto* hp = h.data<kx::float16_t>();
  const auto* bp = b.data<kx::bfloat16_t>();
  bool ok = true;
  for (size_t i = 0; i < v.size(); ++i) {
    if (hp[i].bits != kx::float16_t(v[i]).bits) {
      ok = false;
      ADD_FAILURE() << "float16 of " << v[i] << ": " << hp[i].bits << " vs "
                    << kx::float16_t(v[i]).bits;
    }
    if (bp[i].bits != kx::bfloat16_t(v[i]).bits) {
      ok = false;
      ADD_FAILURE() << "bfloat16 of " << v[i];
    }
  }
  EXPECT_TRUE(ok);
  // back to float32 exactly
  auto hf = fv(kx::astype(h, kx::float32)), bf = fv(kx::astype(b, kx::float32));
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(hf[i], static_cast<float>(hp[i]));
    EXPECT_EQ(bf[i], static_cast<float>(bp[i]));
  }
  // NaN stays NaN both ways
  auto n = kx::astype(kx::full({17}, kx::array(NAN)), kx::float16);
  EXPECT_TRUE(std::isnan(fv(n)[16]));
  EXPECT_TRUE(std::isnan(fv(kx::astype(kx::full({17}, kx::array(NAN)), kx::bfloat16))[9]));
  // half <-> half and half <-> integer go through float32
  EXPECT_EQ(fv(kx::astype(kx::astype(x, kx::float16), kx::bfloat16))[3], -2.5f);
  EXPECT_EQ(iv(kx::astype(kx::astype(kx::array({-3.7f, 100.f}), kx::bfloat16), kx::int32)),
            std::vector<int>({-3, 100}));
  EXPECT_EQ(fv(kx::astype(kx::array({int64_t(2049), int64_t(-7)}), kx::float16)),
            std::vector<float>({2048.f, -7.f}));
}

TEST(Dtype, AstypeBetweenAllDtypes) {
  // values representable in every dtype
  std::vector<float> vals = {0, 1, 2, 7};
  for (auto from : kt::kAllDtypes)
    for (auto to : kt::kAllDtypes) {
      auto x = kx::astype(kx::array({0.f, 1.f, 2.f, 7.f}), from);
      auto y = kx::astype(x, to);
      EXPECT_EQ(y.dtype(), to);
      std::vector<float> expect = vals;
      if (from == kx::bool_ || to == kx::bool_) expect = {0, 1, 1, 1};
      EXPECT_EQ(fv(y), expect) << from << " -> " << to;
    }
  // float -> int truncates toward zero; negative -> uint32 wraps like a C cast of an int
  EXPECT_EQ(iv(kx::astype(kx::array({-1.7f, 1.7f, 2.5f}), kx::int32)),
            std::vector<int>({-1, 1, 2}));
  EXPECT_EQ(kt::uv(kx::astype(kx::array({-1}), kx::uint32)), std::vector<uint32_t>({4294967295u}));
  EXPECT_EQ(kt::lv(kx::astype(kx::array({4294967295u}), kx::int64)),
            std::vector<int64_t>({4294967295ll}));
  EXPECT_EQ(kt::bv(kx::astype(kx::array({0.f, -0.f, 0.5f, NAN}), kx::bool_)),
            std::vector<bool>({false, false, true, true}));
  // float16 rounding through astype
  EXPECT_EQ(fv(kx::astype(kx::array({1.f / 3.f}), kx::float16)),
            std::vector<float>({0.333251953125f}));
  // astype to the same dtype is the array itself
  auto z = kx::zeros({2});
  EXPECT_TRUE(kx::astype(z, kx::float32).is_same(z));
}

// ------------------------------------------------------------------ promotion
TEST(Promotion, TableMatchesMlx) {
  using namespace kx;
  // rows/cols: bool, int32, uint32, int64, float16, bfloat16, float32
  std::vector<Dtype> d = {bool_, int32, uint32, int64, float16, bfloat16, float32};
  std::vector<std::vector<Dtype>> expect = {
      {bool_, int32, uint32, int64, float16, bfloat16, float32},
      {int32, int32, int64, int64, float16, bfloat16, float32},
      {uint32, int64, uint32, int64, float16, bfloat16, float32},
      {int64, int64, int64, int64, float16, bfloat16, float32},
      {float16, float16, float16, float16, float16, float32, float32},
      {bfloat16, bfloat16, bfloat16, bfloat16, float32, bfloat16, float32},
      {float32, float32, float32, float32, float32, float32, float32},
  };
  for (size_t i = 0; i < d.size(); ++i)
    for (size_t j = 0; j < d.size(); ++j) {
      EXPECT_EQ(promote_types(d[i], d[j]), expect[i][j]) << d[i] << " + " << d[j];
      // the ops follow the table
      auto r = kx::maximum(kx::zeros({2}, d[i]), kx::zeros({2}, d[j]));
      EXPECT_EQ(r.dtype(), expect[i][j]) << d[i] << " max " << d[j];
    }
}

TEST(Promotion, MixedValues) {
  // uint32 + int32 -> int64 without wrapping
  auto r = kx::add(kx::array({4000000000u}), kx::array({-1}));
  EXPECT_EQ(r.dtype(), kx::int64);
  EXPECT_EQ(kt::lv(r), std::vector<int64_t>({3999999999ll}));
  // int32 * float16 -> float16
  auto h = kx::multiply(kx::array({3}), kx::array({0.5f}, kx::float16));
  EXPECT_EQ(h.dtype(), kx::float16);
  EXPECT_EQ(fv(h), std::vector<float>({1.5f}));
  // float16 + bfloat16 -> float32
  auto f = kx::add(kx::array({1.f}, kx::float16), kx::array({2.f}, kx::bfloat16));
  EXPECT_EQ(f.dtype(), kx::float32);
  EXPECT_EQ(fv(f), std::vector<float>({3.f}));
  // bool + bool stays bool (logical or), bool * int -> int
  EXPECT_EQ(kx::add(kx::array(true), kx::array(true)).dtype(), kx::bool_);
  EXPECT_EQ(kx::multiply(kx::array(true), kx::array(3)).item<int>(), 3);
}

TEST(Promotion, ScalarOperatorsDoNotUpcast) {
  auto h = kx::array({1.f, 2.f}, kx::float16);
  EXPECT_EQ((h * 2.0f).dtype(), kx::float16);
  EXPECT_EQ((h * 2.0).dtype(), kx::float16);
  EXPECT_EQ((2.0f * h).dtype(), kx::float16);
  EXPECT_EQ((h + 1).dtype(), kx::float16);
  EXPECT_EQ(fv(h * 2.0f), std::vector<float>({2.f, 4.f}));
  auto b = kx::array({1.f, 2.f}, kx::bfloat16);
  EXPECT_EQ((b - 0.5f).dtype(), kx::bfloat16);
  EXPECT_EQ((1.0f / b).dtype(), kx::bfloat16);
  auto i = kx::array({1, 2, 3});
  EXPECT_EQ((i * 2.0f).dtype(), kx::float32);  // a float scalar makes ints float32
  EXPECT_EQ(fv(i * 2.5f), std::vector<float>({2.5f, 5.f, 7.5f}));
  EXPECT_EQ((i + 2).dtype(), kx::int32);
  EXPECT_EQ((2 - i).dtype(), kx::int32);
  EXPECT_EQ(iv(2 - i), std::vector<int>({1, 0, -1}));
  EXPECT_EQ((i / 2).dtype(), kx::float32);  // true division
  EXPECT_EQ(fv(i / 2), std::vector<float>({0.5f, 1.f, 1.5f}));
  EXPECT_EQ(iv(i % 2), std::vector<int>({1, 0, 1}));
  auto u = kx::array({1u, 2u});
  EXPECT_EQ((u + 1).dtype(), kx::uint32);
  EXPECT_EQ((u * 3).dtype(), kx::uint32);
  auto l = kx::array({int64_t(1) << 40});
  EXPECT_EQ((l + 1).dtype(), kx::int64);
  EXPECT_EQ(kt::lv(l + 1), std::vector<int64_t>({(int64_t(1) << 40) + 1}));
  auto bo = kx::array({true, false});
  EXPECT_EQ((bo + 1).dtype(), kx::int32);
  EXPECT_EQ(iv(bo + 1), std::vector<int>({2, 1}));
  EXPECT_EQ((bo * 2.0f).dtype(), kx::float32);
  EXPECT_EQ((bo && true).dtype(), kx::bool_);
  // comparisons with scalars are bool and compare in the array's dtype
  EXPECT_EQ((i > 1).dtype(), kx::bool_);
  EXPECT_EQ(kt::bv(i > 1), std::vector<bool>({false, true, true}));
  EXPECT_EQ(kt::bv(i == 2), std::vector<bool>({false, true, false}));
  EXPECT_EQ(kt::bv(i != 2), std::vector<bool>({true, false, true}));
  EXPECT_EQ(kt::bv(1.5f <= i), std::vector<bool>({false, true, true}));
  EXPECT_EQ(kt::bv(h < 1.5f), std::vector<bool>({true, false}));
  EXPECT_EQ(kt::bv((i > 1) && (i < 3)), std::vector<bool>({false, true, false}));
  EXPECT_EQ(kt::bv((i < 2) || (i > 2)), std::vector<bool>({true, false, true}));
  EXPECT_EQ(kt::bv(!(i > 1)), std::vector<bool>({true, false, false}));
  EXPECT_EQ(iv(-i), std::vector<int>({-1, -2, -3}));
  // array-array operators promote
  EXPECT_EQ((kx::array({1, 2}) + h).dtype(), kx::float16);
  EXPECT_EQ((h * kx::array(2.f)).dtype(), kx::float32);
}

// ------------------------------------------------------------------ printing
TEST(Print, MlxFormat) {
  EXPECT_EQ(kt::str(kx::array({1, 2, 3, 4}, {2, 2})),
            "array([[1, 2],\n       [3, 4]], dtype=int32)");
  EXPECT_EQ(kt::str(kx::array(1.5f)), "array(1.5, dtype=float32)");
  EXPECT_EQ(kt::str(kx::array(7)), "array(7, dtype=int32)");
  EXPECT_EQ(kt::str(kx::array({1.f, 2.5f, -3.f})), "array([1, 2.5, -3], dtype=float32)");
  EXPECT_EQ(kt::str(kx::array({true, false})), "array([true, false], dtype=bool)");
  EXPECT_EQ(kt::str(kx::array({4294967295u})), "array([4294967295], dtype=uint32)");
  EXPECT_EQ(kt::str(kx::array({int64_t(-5000000000)})), "array([-5000000000], dtype=int64)");
  EXPECT_EQ(kt::str(kx::array({0.5f, 1.f}, kx::float16)), "array([0.5, 1], dtype=float16)");
  EXPECT_EQ(kt::str(kx::array({0.5f, 1.f}, kx::bfloat16)), "array([0.5, 1], dtype=bfloat16)");
  EXPECT_EQ(kt::str(kx::array({NAN, INFINITY, -INFINITY})),
            "array([nan, inf, -inf], dtype=float32)");
  EXPECT_EQ(kt::str(kx::array({1e-7f, 123456789.f})), "array([1e-07, 1.23457e+08], dtype=float32)");
  EXPECT_EQ(kt::str(kx::reshape(kx::arange(8), {2, 2, 2})),
            "array([[[0, 1],\n        [2, 3]],\n       [[4, 5],\n        [6, 7]]], dtype=int32)");
  EXPECT_EQ(kt::str(kx::zeros({0})), "array([], dtype=float32)");
  EXPECT_EQ(kt::str(kx::zeros({2, 0}, kx::int32)), "array([[],\n       []], dtype=int32)");
  // printing evaluates a lazy array (here a transposed one)
  EXPECT_EQ(kt::str(kx::transpose(kx::array({1, 2, 3, 4}, {2, 2}))),
            "array([[1, 3],\n       [2, 4]], dtype=int32)");
}

TEST(Print, Summarizes) {
  EXPECT_EQ(kt::str(kx::arange(6)), "array([0, 1, 2, 3, 4, 5], dtype=int32)");
  EXPECT_EQ(kt::str(kx::arange(10)), "array([0, 1, 2, ..., 7, 8, 9], dtype=int32)");
  EXPECT_EQ(kt::str(kx::reshape(kx::arange(16), {8, 2})),
            "array([[0, 1],\n       [2, 3],\n       [4, 5],\n       ...,\n       [10, 11],\n"
            "       [12, 13],\n       [14, 15]], dtype=int32)");
}

// ------------------------------------------------------------------ eval
TEST(Eval, ManyAndAsync) {
  auto x = kx::array({1.f, 2.f});
  auto a = x + 1.f, b = x * 3.f, c = a + b;
  kx::eval(a, c);
  EXPECT_TRUE(a.is_available());
  EXPECT_TRUE(c.is_available());
  EXPECT_EQ(fv(c), std::vector<float>({5, 9}));
  EXPECT_FALSE(a.has_primitive());  // detached after evaluation
  auto d = x - 1.f;
  kx::async_eval(d);
  EXPECT_EQ(fv(d), std::vector<float>({0, 1}));
  kx::eval(std::vector<kx::array>{});  // nothing to do
  kx::eval(x);                         // already evaluated
  // multiple evaluations of the same shared subgraph give one consistent result
  auto s = kx::exp(x);
  auto p = s + s;
  auto q = s * s;
  kx::eval(p);
  kx::eval(q);
  EXPECT_TRUE(kt::all_close(q, {std::exp(2.f), std::exp(4.f)}, 1e-6f));
}

TEST(Eval, DeepGraphDroppedWithoutEval) {
  // 100k chained adds: destroying the unevaluated chain must not recurse
  auto x = kx::array(1.f);
  {
    auto y = x;
    for (int i = 0; i < 100000; ++i) y = y + 1.f;
  }
  SUCCEED();
}

// The depth tests run on the CPU (the scheduler and graph teardown are core code, shared by
// every device); a shorter chain covers the default device.
TEST(Eval, DeepGraphEvaluated) {
  const kx::Device cpu = kx::Device::cpu;
  auto y = kx::array(0.f);
  for (int i = 0; i < 100000; ++i) y = kx::add(y, kx::array(1.f), cpu);
  EXPECT_EQ(y.item<float>(), 100000.f);
  // a deep chain that shares one input many times
  auto z = kx::array(2);
  auto w = z;
  for (int i = 0; i < 20000; ++i) w = kx::maximum(w, z, cpu);
  EXPECT_EQ(w.item<int>(), 2);
  auto d = kx::array(0.f);
  for (int i = 0; i < 3000; ++i) d = d + 1.f;  // default device
  EXPECT_EQ(d.item<float>(), 3000.f);
}

TEST(Eval, DeepGraphPartiallyEvaluated) {
  // evaluate the middle of a long chain, then extend it and drop the rest
  const kx::Device cpu = kx::Device::cpu;
  auto y = kx::array(0);
  std::vector<kx::array> keep;
  for (int i = 0; i < 60000; ++i) {
    y = kx::add(y, kx::array(1), cpu);
    if (i == 30000) keep.push_back(y);
  }
  EXPECT_EQ(keep[0].item<int>(), 30001);
  EXPECT_EQ(y.item<int>(), 60000);
}

// ------------------------------------------------------------------ host buffer cache
TEST(Memory, CacheReusesLargeBuffers) {
  // the host buffer cache: evaluate on the CPU whatever the default device is
  struct CpuDefault {
    kx::Device prev = kx::default_device();
    CpuDefault() { kx::set_default_device(kx::Device::cpu); }
    ~CpuDefault() { kx::set_default_device(prev); }
  } cpu_default;
  kx::clear_cache();
  EXPECT_EQ(kx::get_cache_memory(), 0u);
  {
    auto a = kx::zeros({1 << 18});  // 1 MiB
    a.eval();
  }
  EXPECT_GE(kx::get_cache_memory(), size_t(1) << 20);
  const void* first = nullptr;
  {
    auto b = kx::ones({1 << 18});
    b.eval();
    first = b.data<float>();
    EXPECT_EQ(fv(b)[12345], 1.f);  // a reused buffer is fully overwritten
  }
  {
    auto c = kx::full({1 << 18}, kx::array(3.f));
    c.eval();
    EXPECT_EQ(c.data<float>(), first);  // same size class, same buffer
    EXPECT_EQ(fv(c)[0], 3.f);
  }
  size_t old = kx::set_cache_limit(0);
  EXPECT_EQ(kx::get_cache_memory(), 0u);
  {
    auto d = kx::zeros({1 << 18});
    d.eval();
  }
  EXPECT_EQ(kx::get_cache_memory(), 0u);  // limit 0: nothing kept
  kx::set_cache_limit(old);
  kx::clear_cache();
  EXPECT_EQ(kx::get_cache_memory(), 0u);
}
