// matmul (NumPy semantics: 1-D promotion, batch broadcasting), addmm, outer, inner, tensordot.
#include "ops_test_helpers.h"

using kt::all_close;
using kt::fv;

namespace {
kx::array fiota(const kx::Shape& s, float scale = 1.f, float offset = 0.f) {
  int n = 1;
  for (int x : s) n *= x;
  return kx::add(kx::multiply(kx::reshape(kx::arange(0.0, double(n), 1.0), s), kx::array(scale)),
                 kx::array(offset));
}

// Naive reference product of row-major (M,K) and (K,N) in double.
std::vector<float> ref_matmul(const std::vector<float>& a, const std::vector<float>& b, int M,
                              int K, int N) {
  std::vector<float> c(size_t(M) * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int k = 0; k < K; ++k) acc += double(a[i * K + k]) * b[k * N + j];
      c[i * N + j] = static_cast<float>(acc);
    }
  return c;
}
}  // namespace

TEST(Matmul, Small) {
  auto a = kx::array({1.f, 2.f, 3.f, 4.f}, {2, 2});
  auto b = kx::array({5.f, 6.f, 7.f, 8.f}, {2, 2});
  EXPECT_EQ(fv(kx::matmul(a, b)), std::vector<float>({19, 22, 43, 50}));
  auto r = kx::matmul(fiota({2, 3}), fiota({3, 2}));
  EXPECT_EQ(r.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(fv(r), std::vector<float>({10, 13, 28, 40}));
  // transposed operands
  EXPECT_EQ(fv(kx::matmul(kx::transpose(a), b)), std::vector<float>({26, 30, 38, 44}));
  EXPECT_EQ(fv(kx::matmul(a, kx::transpose(b))), std::vector<float>({17, 23, 39, 53}));
  // a stepped slice as operand: rows 0 and 2 of a 3x2
  auto s = kx::slice(fiota({3, 2}), {0, 0}, {3, 2}, {2, 1});  // [[0,1],[4,5]]
  EXPECT_EQ(fv(kx::matmul(s, a)), std::vector<float>({3, 4, 19, 28}));
}

TEST(Matmul, VectorPromotion) {
  auto m = fiota({2, 3});  // [[0,1,2],[3,4,5]]
  auto v = kx::array({1.f, 0.f, -1.f});
  auto mv = kx::matmul(m, v);
  EXPECT_EQ(mv.shape(), kx::Shape({2}));
  EXPECT_EQ(fv(mv), std::vector<float>({-2, -2}));
  auto vm = kx::matmul(kx::array({1.f, 1.f}), m);
  EXPECT_EQ(vm.shape(), kx::Shape({3}));
  EXPECT_EQ(fv(vm), std::vector<float>({3, 5, 7}));
  auto vv = kx::matmul(v, v);
  EXPECT_EQ(vv.ndim(), 0);
  EXPECT_EQ(vv.item<float>(), 2.f);
  // a vector against a batch of matrices
  auto bm = fiota({2, 3, 2});
  auto vb = kx::matmul(v, bm);
  EXPECT_EQ(vb.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(fv(vb), std::vector<float>({-4, -4, -4, -4}));
  auto bv = kx::matmul(fiota({2, 2, 3}), v);
  EXPECT_EQ(bv.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(fv(bv), std::vector<float>({-2, -2, -2, -2}));
}

TEST(Matmul, BatchedBroadcast) {
  auto a = fiota({2, 1, 2, 3});
  auto b = fiota({3, 3, 2}, 0.5f);
  auto c = kx::matmul(a, b);
  EXPECT_EQ(c.shape(), kx::Shape({2, 3, 2, 2}));
  auto av = fv(a), bvv = fv(b), cv = fv(c);
  bool ok = true;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      std::vector<float> ai(av.begin() + i * 6, av.begin() + i * 6 + 6);
      std::vector<float> bj(bvv.begin() + j * 6, bvv.begin() + j * 6 + 6);
      auto ref = ref_matmul(ai, bj, 2, 3, 2);
      for (int k = 0; k < 4; ++k) ok = ok && cv[(i * 3 + j) * 4 + k] == ref[k];
    }
  EXPECT_TRUE(ok);
  // 3-D @ 2-D broadcasts the matrix over the batch (computed as one 2-D product)
  auto d = kx::matmul(fiota({4, 2, 3}), fiota({3, 5}));
  EXPECT_EQ(d.shape(), kx::Shape({4, 2, 5}));
  EXPECT_EQ(fv(kx::slice(d, {3, 1, 0}, {4, 2, 5})),
            ref_matmul({21, 22, 23}, fv(fiota({3, 5})), 1, 3, 5));
  // 4-D with a transposed matrix operand
  auto a4 = fiota({2, 3, 2, 4}, 0.25f);
  auto w = kx::transpose(fiota({5, 4}, 0.5f));  // (4, 5)
  auto e = kx::matmul(a4, w);
  EXPECT_EQ(e.shape(), kx::Shape({2, 3, 2, 5}));
  EXPECT_EQ(fv(e), ref_matmul(fv(a4), fv(w), 12, 4, 5));
}

TEST(Matmul, LargerAgainstReference) {
  // odd sizes, large enough for the threaded row split
  const int M = 131, K = 67, N = 45;
  auto a = kx::random::normal({M, K}, kx::float32, 0.f, 1.f, kx::random::key(1));
  auto b = kx::random::normal({K, N}, kx::float32, 0.f, 1.f, kx::random::key(2));
  auto ref = ref_matmul(fv(a), fv(b), M, K, N);
  EXPECT_TRUE(all_close(kx::matmul(a, b), ref, 1e-4f, 1e-4f));
  auto big_a = kx::ones({300, 200}), big_b = kx::full({200, 100}, kx::array(0.5f));
  EXPECT_EQ(fv(kx::matmul(big_a, big_b)), std::vector<float>(300 * 100, 100.f));
}

TEST(Matmul, HalfTypesAndPromotion) {
  auto a = kx::array({1.f, 2.f, 3.f, 4.f}, {2, 2});
  auto b = kx::array({0.5f, 1.f, 1.5f, 2.f}, {2, 2});
  std::vector<float> expect = {3.5f, 5.f, 7.5f, 11.f};
  for (auto d : kt::kFloatDtypes) {
    auto c = kx::matmul(kx::astype(a, d), kx::astype(b, d));
    EXPECT_EQ(c.dtype(), d);
    EXPECT_EQ(fv(c), expect) << d;
  }
  EXPECT_EQ(kx::matmul(kx::astype(a, kx::float16), kx::astype(b, kx::bfloat16)).dtype(),
            kx::float32);
  // an integer operand is promoted by the float one
  auto ic = kx::matmul(kx::array({1, 2, 3, 4}, {2, 2}), b);
  EXPECT_EQ(ic.dtype(), kx::float32);
  EXPECT_EQ(fv(ic), expect);
  EXPECT_EQ(kx::matmul(kx::array({1, 2}), kx::array({1.f, 1.f}, kx::float16)).dtype(), kx::float16);
}

TEST(Matmul, EmptyDims) {
  auto z = kx::matmul(kx::zeros({2, 0}), kx::zeros({0, 3}));
  EXPECT_EQ(z.shape(), kx::Shape({2, 3}));
  EXPECT_EQ(fv(z), std::vector<float>(6, 0.f));  // empty sum is 0
  EXPECT_EQ(kx::matmul(kx::zeros({0, 4}), kx::zeros({4, 3})).shape(), kx::Shape({0, 3}));
  EXPECT_EQ(kx::matmul(kx::zeros({2, 4}), kx::zeros({4, 0})).shape(), kx::Shape({2, 0}));
  EXPECT_EQ(kx::matmul(kx::zeros({0, 2, 4}), kx::zeros({4, 1})).shape(), kx::Shape({0, 2, 1}));
  auto k0 = kx::matmul(kx::ones({2, 3, 0}), kx::ones({0, 4}));
  EXPECT_EQ(k0.shape(), kx::Shape({2, 3, 4}));
  EXPECT_EQ(fv(k0), std::vector<float>(24, 0.f));
  EXPECT_EQ(kx::matmul(kx::ones({2, 0, 3}), kx::ones({3, 4})).shape(), kx::Shape({2, 0, 4}));
}

TEST(Matmul, Errors) {
  EXPECT_OP_THROWS(kx::matmul(kx::array(1.f), kx::zeros({2, 2})), "matmul");
  EXPECT_OP_THROWS(kx::matmul(kx::zeros({2, 3}), kx::zeros({2, 3})), "matmul");
  EXPECT_OP_THROWS(kx::matmul(kx::zeros({3}), kx::zeros({2})), "matmul");
  EXPECT_OP_THROWS(kx::matmul(kx::zeros({2, 2, 3}), kx::zeros({3, 3, 2})), "matmul");
  EXPECT_OP_THROWS(kx::matmul(kx::array({1, 2}, {1, 2}), kx::array({1, 2}, {2, 1})), "matmul");
  EXPECT_OP_THROWS(kx::matmul(kx::zeros({2, 2}, kx::bool_), kx::zeros({2, 2}, kx::bool_)),
                   "matmul");
}

TEST(Addmm, AlphaBetaBroadcast) {
  auto a = kx::array({1.f, 2.f, 3.f, 4.f}, {2, 2});
  auto b = kx::eye(2);
  auto c = kx::array({10.f, 20.f});
  EXPECT_EQ(fv(kx::addmm(c, a, b)), std::vector<float>({11, 22, 13, 24}));
  EXPECT_EQ(fv(kx::addmm(c, a, b, 2.f, 0.5f)), std::vector<float>({7, 14, 11, 18}));
  EXPECT_EQ(fv(kx::addmm(kx::array(1.f), a, b, 1.f, 0.f)), std::vector<float>({1, 2, 3, 4}));
  auto h = kx::addmm(kx::zeros({2, 2}, kx::float16), kx::astype(a, kx::float16),
                     kx::astype(b, kx::float16));
  EXPECT_EQ(h.dtype(), kx::float16);
  EXPECT_OP_THROWS(kx::addmm(kx::zeros({3}), a, b), "addmm");
  EXPECT_OP_THROWS(kx::addmm(c, a, kx::zeros({3, 2})), "addmm");
}

TEST(OuterInnerTensordot, Values) {
  auto o = kx::outer(kx::array({1.f, 2.f}), kx::array({3.f, 4.f, 5.f}));
  EXPECT_EQ(o.shape(), kx::Shape({2, 3}));
  EXPECT_EQ(fv(o), std::vector<float>({3, 4, 5, 6, 8, 10}));
  EXPECT_EQ(kx::outer(fiota({2, 2}), kx::array({1.f})).shape(), kx::Shape({4, 1}));
  auto oi = kx::outer(kx::array({1, 2}), kx::array({3, 4}));
  EXPECT_EQ(oi.dtype(), kx::int32);
  EXPECT_EQ(kt::iv(oi), std::vector<int>({3, 4, 6, 8}));
  EXPECT_EQ(kx::outer(kx::zeros({0}), kx::zeros({3})).shape(), kx::Shape({0, 3}));

  auto in = kx::inner(kx::array({1.f, 2.f, 3.f}), kx::array({4.f, 5.f, 6.f}));
  EXPECT_EQ(in.ndim(), 0);
  EXPECT_EQ(in.item<float>(), 32.f);
  auto in2 = kx::inner(fiota({2, 3}), fiota({4, 3}));
  EXPECT_EQ(in2.shape(), kx::Shape({2, 4}));
  EXPECT_EQ(fv(in2), std::vector<float>({5, 14, 23, 32, 14, 50, 86, 122}));
  EXPECT_EQ(kx::inner(kx::array(2.f), fiota({2})).shape(), kx::Shape({2}));
  EXPECT_OP_THROWS(kx::inner(fiota({2}), fiota({3})), "inner");

  // tensordot with an axis count: contract the last 2 of a with the first 2 of b
  auto a = fiota({2, 3, 4}), b = fiota({3, 4, 2});
  auto t = kx::tensordot(a, b, 2);
  EXPECT_EQ(t.shape(), kx::Shape({2, 2}));
  auto ref = ref_matmul(fv(a), fv(b), 2, 12, 2);
  EXPECT_EQ(fv(t), ref);
  EXPECT_EQ(kx::tensordot(a, b, 0).shape(), kx::Shape({2, 3, 4, 3, 4, 2}));
  // explicit axes (contract a's axis 1 with b's axis 0)
  auto t2 = kx::tensordot(a, b, {1}, {0});
  EXPECT_EQ(t2.shape(), kx::Shape({2, 4, 4, 2}));
  auto t3 = kx::tensordot(kx::array({1.f, 2.f}), kx::array({3.f, 4.f}), {0}, {-1});
  EXPECT_EQ(t3.item<float>(), 11.f);
  // out-of-order axis pairs
  auto m = fiota({2, 3}), n = fiota({3, 2});
  EXPECT_EQ(fv(kx::tensordot(m, n, {1, 0}, {0, 1})),
            std::vector<float>({fv(kx::sum(kx::multiply(m, kx::transpose(n))))[0]}));
  EXPECT_OP_THROWS(kx::tensordot(a, b, 3), "tensordot");
  EXPECT_OP_THROWS(kx::tensordot(a, b, -1), "tensordot");
  EXPECT_OP_THROWS(kx::tensordot(a, b, {0}, {0}), "tensordot");
  EXPECT_OP_THROWS(kx::tensordot(a, b, {1, 2}, {0}), "tensordot");
  EXPECT_OP_THROWS(kx::tensordot(a, b, {3}, {0}), "tensordot");
  EXPECT_OP_THROWS(kx::tensordot(a, b, {1, 1}, {0, 0}), "tensordot");
  EXPECT_OP_THROWS(kx::tensordot(kx::zeros({2}, kx::int32), kx::zeros({2}, kx::int32), 1),
                   "tensordot");
}
