// Shape ops: reshape, flatten, transpose/swapaxes/moveaxis, expand_dims/squeeze,
// broadcast_to/broadcast_arrays, concatenate/stack/split, slice/slice_update, pad, tile,
// repeat, flip — values, every dtype, empty and 0-d, non-contiguous, errors naming the op.
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

TEST(Reshape, Basics) {
  auto a = iota({2, 3});
  auto r = kx::reshape(a, {3, 2});
  EXPECT_EQ(r.shape(), kx::Shape({3, 2}));
  EXPECT_EQ(iv(r), std::vector<int>({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(kx::reshape(a, {-1}).shape(), kx::Shape({6}));
  EXPECT_EQ(kx::reshape(a, {2, -1, 1}).shape(), kx::Shape({2, 3, 1}));
  EXPECT_EQ(kx::reshape(kx::array(5), {1, 1}).shape(), kx::Shape({1, 1}));
  EXPECT_EQ(kx::reshape(kx::array({5}), {}).ndim(), 0);
  EXPECT_EQ(kx::reshape(kx::zeros({0, 4}), {4, 0, 2}).shape(), kx::Shape({4, 0, 2}));
  EXPECT_TRUE(kx::reshape(a, {2, 3}).is_same(a));
  // of a transposed array: row-major order of the transposed values
  EXPECT_EQ(iv(kx::reshape(kx::transpose(a), {6})), std::vector<int>({0, 3, 1, 4, 2, 5}));
  for (auto d : kt::kAllDtypes) EXPECT_EQ(kx::reshape(iota({2, 2}, d), {4}).dtype(), d);
  EXPECT_OP_THROWS(kx::reshape(a, {4}), "reshape");
  EXPECT_OP_THROWS(kx::reshape(a, {-1, -1}), "reshape");
  EXPECT_OP_THROWS(kx::reshape(a, {-2, 3}), "reshape");
  EXPECT_OP_THROWS(kx::reshape(a, {4, -1}), "reshape");
  EXPECT_OP_THROWS(kx::reshape(kx::zeros({0}), {0, -1}), "reshape");
}

TEST(Reshape, Flatten) {
  auto a = iota({2, 3, 4});
  EXPECT_EQ(kx::flatten(a).shape(), kx::Shape({24}));
  EXPECT_EQ(kx::flatten(a, 1).shape(), kx::Shape({2, 12}));
  EXPECT_EQ(kx::flatten(a, 0, 1).shape(), kx::Shape({6, 4}));
  EXPECT_EQ(kx::flatten(a, -2, -1).shape(), kx::Shape({2, 12}));
  EXPECT_EQ(kx::flatten(a, 1, 1).shape(), kx::Shape({2, 3, 4}));
  EXPECT_EQ(kx::flatten(kx::array(3.f)).shape(), kx::Shape({1}));
  EXPECT_EQ(iv(kx::flatten(kx::transpose(iota({2, 2})))), std::vector<int>({0, 2, 1, 3}));
  EXPECT_OP_THROWS(kx::flatten(a, 2, 1), "flatten");
  EXPECT_OP_THROWS(kx::flatten(a, 0, 3), "flatten");
  EXPECT_OP_THROWS(kx::flatten(a, -4), "flatten");
}

TEST(Transpose, AxesSwapMove) {
  auto a = iota({2, 3});
  auto t = kx::transpose(a);
  EXPECT_EQ(t.shape(), kx::Shape({3, 2}));
  EXPECT_EQ(iv(t), std::vector<int>({0, 3, 1, 4, 2, 5}));
  auto b = iota({2, 3, 4});
  auto p = kx::transpose(b, {1, 2, 0});
  EXPECT_EQ(p.shape(), kx::Shape({3, 4, 2}));
  // p[i][j][k] = b[k][i][j] = 12k + 4i + j
  auto pv = iv(p);
  bool ok = true;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 2; ++k) ok = ok && pv[(i * 4 + j) * 2 + k] == 12 * k + 4 * i + j;
  EXPECT_TRUE(ok);
  EXPECT_EQ(kx::transpose(b, {-1, 0, 1}).shape(), kx::Shape({4, 2, 3}));
  EXPECT_EQ(kx::transpose(b).shape(), kx::Shape({4, 3, 2}));
  EXPECT_TRUE(kx::transpose(b, {0, 1, 2}).is_same(b));
  EXPECT_EQ(kx::transpose(kx::array(1)).ndim(), 0);
  EXPECT_EQ(kx::swapaxes(b, 0, 2).shape(), kx::Shape({4, 3, 2}));
  EXPECT_EQ(iv(kx::swapaxes(b, 0, 2)), iv(kx::transpose(b)));
  EXPECT_EQ(kx::moveaxis(b, 0, -1).shape(), kx::Shape({3, 4, 2}));
  EXPECT_EQ(iv(kx::moveaxis(b, 0, -1)), pv);
  EXPECT_EQ(kx::moveaxis(b, 2, 0).shape(), kx::Shape({4, 2, 3}));
  for (auto d : kt::kAllDtypes) {
    auto x = iota({2, 2}, d);
    EXPECT_EQ(fv(kx::transpose(x)),
              d == kx::bool_ ? std::vector<float>({0, 1, 1, 1}) : std::vector<float>({0, 2, 1, 3}))
        << d;
  }
  EXPECT_EQ(kx::transpose(kx::zeros({0, 3})).shape(), kx::Shape({3, 0}));
  // transposing a large array (threaded strided copy)
  auto big = iota({300, 500});
  auto bt = iv(kx::transpose(big));
  EXPECT_EQ(bt[1], 500);
  EXPECT_EQ(bt[300 * 500 - 1], 300 * 500 - 1);
  EXPECT_EQ(bt[301], 1 + 500);
  // every permutation of a 3-D array big enough for the tiled transposing copy
  const int D0 = 20, D1 = 33, D2 = 40;
  auto c3 = iota({D0, D1, D2});
  std::vector<std::vector<int>> perms = {{0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (auto& perm : perms) {
    auto tv = iv(kx::transpose(c3, perm));
    int dims[3] = {D0, D1, D2};
    int os[3] = {dims[perm[0]], dims[perm[1]], dims[perm[2]]};
    bool same = true;
    for (int i = 0; i < os[0] && same; ++i)
      for (int j = 0; j < os[1] && same; ++j)
        for (int k = 0; k < os[2] && same; ++k) {
          int src[3];
          src[perm[0]] = i;
          src[perm[1]] = j;
          src[perm[2]] = k;
          same = tv[(i * os[1] + j) * os[2] + k] == (src[0] * D1 + src[1]) * D2 + src[2];
        }
    EXPECT_TRUE(same) << perm[0] << perm[1] << perm[2];
  }
  // 2- and 8-byte elements through the tiled path, and a transposed slice
  auto h = kx::astype(iota({50, 70}), kx::float16);
  EXPECT_EQ(fv(kx::transpose(h)), fv(kx::transpose(kx::astype(h, kx::float32))));
  auto l = iota({64, 48}, kx::int64);
  auto lt = kt::lv(kx::transpose(l));
  EXPECT_EQ(lt[1], 48);
  EXPECT_EQ(lt[64 * 48 - 1], 64 * 48 - 1);
  auto sl = kx::transpose(kx::slice(iota({100, 100}), {3, 2}, {97, 98}, {2, 3}));
  auto slv = iv(sl);
  EXPECT_EQ(sl.shape(), kx::Shape({32, 47}));
  EXPECT_EQ(slv[0], 302);
  EXPECT_EQ(slv[1], 502);
  EXPECT_EQ(slv[47], 305);
  EXPECT_OP_THROWS(kx::transpose(b, {0, 1}), "transpose");
  EXPECT_OP_THROWS(kx::transpose(b, {0, 1, 1}), "transpose");
  EXPECT_OP_THROWS(kx::transpose(b, {0, 1, 3}), "transpose");
  EXPECT_OP_THROWS(kx::swapaxes(b, 0, 3), "swapaxes");
  EXPECT_OP_THROWS(kx::moveaxis(b, -4, 0), "moveaxis");
}

TEST(ExpandSqueeze, Basics) {
  auto a = iota({2, 3});
  EXPECT_EQ(kx::expand_dims(a, 0).shape(), kx::Shape({1, 2, 3}));
  EXPECT_EQ(kx::expand_dims(a, -1).shape(), kx::Shape({2, 3, 1}));
  EXPECT_EQ(kx::expand_dims(a, {0, 3}).shape(), kx::Shape({1, 2, 3, 1}));
  EXPECT_EQ(kx::expand_dims(a, {1, -1}).shape(), kx::Shape({2, 1, 3, 1}));
  EXPECT_EQ(kx::expand_dims(kx::array(1), 0).shape(), kx::Shape({1}));
  EXPECT_EQ(iv(kx::expand_dims(a, 1)), iv(a));
  auto s = kx::zeros({1, 2, 1, 3});
  EXPECT_EQ(kx::squeeze(s).shape(), kx::Shape({2, 3}));
  EXPECT_EQ(kx::squeeze(s, 0).shape(), kx::Shape({2, 1, 3}));
  EXPECT_EQ(kx::squeeze(s, {0, -2}).shape(), kx::Shape({2, 3}));
  EXPECT_EQ(kx::squeeze(kx::zeros({1, 1})).ndim(), 0);
  EXPECT_EQ(kx::squeeze(kx::zeros({1, 0})).shape(), kx::Shape({0}));
  EXPECT_OP_THROWS(kx::expand_dims(a, 3), "expand_dims");
  EXPECT_OP_THROWS(kx::expand_dims(a, {0, 0}), "expand_dims");
  EXPECT_OP_THROWS(kx::squeeze(s, 1), "squeeze");
  EXPECT_OP_THROWS(kx::squeeze(s, 4), "squeeze");
  EXPECT_OP_THROWS(kx::squeeze(s, {0, 0}), "squeeze");
}

TEST(Broadcast, ToAndArrays) {
  auto r = kx::broadcast_to(kx::array({1, 2, 3}), {2, 3});
  EXPECT_EQ(iv(r), std::vector<int>({1, 2, 3, 1, 2, 3}));
  auto c = kx::broadcast_to(kx::array({1, 2}, {2, 1}), {2, 2, 3});
  EXPECT_EQ(c.shape(), kx::Shape({2, 2, 3}));
  EXPECT_EQ(iv(c), std::vector<int>({1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
  EXPECT_EQ(fv(kx::broadcast_to(kx::array(2.5f), {2, 2})), std::vector<float>(4, 2.5f));
  EXPECT_EQ(kx::broadcast_to(kx::zeros({1, 3}), {0, 3}).shape(), kx::Shape({0, 3}));
  for (auto d : kt::kAllDtypes) {
    auto b = kx::broadcast_to(kx::ones({1}, d), {3});
    EXPECT_EQ(b.dtype(), d);
    EXPECT_EQ(fv(b), std::vector<float>({1, 1, 1}));
  }
  // broadcasting a transposed array
  EXPECT_EQ(iv(kx::broadcast_to(kx::transpose(iota({1, 2})), {2, 3})),
            std::vector<int>({0, 0, 0, 1, 1, 1}));
  auto arrs = kx::broadcast_arrays({kx::zeros({3, 1}), kx::zeros({2}), kx::array(1.f)});
  ASSERT_EQ(arrs.size(), 3u);
  for (auto& x : arrs) EXPECT_EQ(x.shape(), kx::Shape({3, 2}));
  EXPECT_EQ(fv(arrs[2]), std::vector<float>(6, 1.f));
  EXPECT_EQ(kx::broadcast_shapes({5, 1, 3}, {4, 1}), kx::Shape({5, 4, 3}));
  EXPECT_EQ(kx::broadcast_shapes({}, {2}), kx::Shape({2}));
  EXPECT_EQ(kx::broadcast_shapes({0}, {1}), kx::Shape({0}));
  EXPECT_OP_THROWS(kx::broadcast_to(kx::zeros({3}), {2}), "broadcast_to");
  EXPECT_OP_THROWS(kx::broadcast_to(kx::zeros({2, 3}), {3}), "broadcast_to");
  EXPECT_OP_THROWS(kx::broadcast_to(kx::zeros({3}), {-1, 3}), "broadcast_to");
  EXPECT_OP_THROWS(kx::broadcast_arrays({kx::zeros({2}), kx::zeros({3})}), "broadcast_arrays");
  EXPECT_OP_THROWS(kx::broadcast_shapes({2}, {3}), "broadcast_shapes");
}

TEST(Concatenate, Basics) {
  auto a = iota({2, 2}), b = kx::add(iota({2, 1}), kx::array(10));
  auto c = kx::concatenate({a, b}, 1);
  EXPECT_EQ(c.shape(), kx::Shape({2, 3}));
  EXPECT_EQ(iv(c), std::vector<int>({0, 1, 10, 2, 3, 11}));
  auto r = kx::concatenate({a, kx::transpose(a)}, 0);
  EXPECT_EQ(iv(r), std::vector<int>({0, 1, 2, 3, 0, 2, 1, 3}));
  EXPECT_EQ(iv(kx::concatenate({a, a}, -1)), std::vector<int>({0, 1, 0, 1, 2, 3, 2, 3}));
  // promotion, empty pieces, a single array
  auto p = kx::concatenate({kx::array({1}), kx::array({0.5f})});
  EXPECT_EQ(p.dtype(), kx::float32);
  EXPECT_EQ(fv(p), std::vector<float>({1, 0.5f}));
  EXPECT_EQ(iv(kx::concatenate({kx::zeros({0}, kx::int32), kx::array({7})})),
            std::vector<int>({7}));
  EXPECT_EQ(kx::concatenate({kx::zeros({2, 0}), kx::zeros({2, 0})}, 1).shape(), kx::Shape({2, 0}));
  EXPECT_EQ(iv(kx::concatenate({a})), iv(a));
  for (auto d : kt::kAllDtypes) {
    auto x = kx::concatenate({kx::zeros({1}, d), kx::ones({2}, d)});
    EXPECT_EQ(x.dtype(), d);
    EXPECT_EQ(fv(x), std::vector<float>({0, 1, 1}));
  }
  EXPECT_OP_THROWS(kx::concatenate({}), "concatenate");
  EXPECT_OP_THROWS(kx::concatenate({kx::array(1), kx::array(2)}), "concatenate");
  EXPECT_OP_THROWS(kx::concatenate({a, b}, 0), "concatenate");
  EXPECT_OP_THROWS(kx::concatenate({a, kx::zeros({4})}, 0), "concatenate");
  EXPECT_OP_THROWS(kx::concatenate({a, a}, 2), "concatenate");
}

TEST(Stack, Basics) {
  auto a = kx::array({1, 2}), b = kx::array({3, 4});
  auto s0 = kx::stack({a, b});
  EXPECT_EQ(s0.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(iv(s0), std::vector<int>({1, 2, 3, 4}));
  auto s1 = kx::stack({a, b}, 1);
  EXPECT_EQ(iv(s1), std::vector<int>({1, 3, 2, 4}));
  EXPECT_EQ(iv(kx::stack({a, b}, -1)), std::vector<int>({1, 3, 2, 4}));
  auto sc = kx::stack({kx::array(1.f), kx::array(2.f), kx::array(3.f)});
  EXPECT_EQ(sc.shape(), kx::Shape({3}));
  EXPECT_OP_THROWS(kx::stack({}), "stack");
  EXPECT_OP_THROWS(kx::stack({a, kx::array({1, 2, 3})}), "stack");
  EXPECT_OP_THROWS(kx::stack({a, b}, 2), "stack");
}

TEST(Split, EqualAndIndices) {
  auto a = iota({6, 2});
  auto parts = kx::split(a, 3);
  ASSERT_EQ(parts.size(), 3u);
  for (auto& p : parts) EXPECT_EQ(p.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(iv(parts[1]), std::vector<int>({4, 5, 6, 7}));
  auto cols = kx::split(a, 2, 1);
  EXPECT_EQ(iv(cols[1]), std::vector<int>({1, 3, 5, 7, 9, 11}));
  auto idx = kx::split(kx::arange(10), std::vector<int>{2, 5, 20});
  ASSERT_EQ(idx.size(), 4u);
  EXPECT_EQ(iv(idx[0]), std::vector<int>({0, 1}));
  EXPECT_EQ(iv(idx[1]), std::vector<int>({2, 3, 4}));
  EXPECT_EQ(iv(idx[2]), std::vector<int>({5, 6, 7, 8, 9}));
  EXPECT_EQ(idx[3].size(), 0u);
  auto neg = kx::split(kx::arange(5), std::vector<int>{-2});
  EXPECT_EQ(iv(neg[0]), std::vector<int>({0, 1, 2}));
  EXPECT_EQ(iv(neg[1]), std::vector<int>({3, 4}));
  // decreasing indices give an empty piece and the next starts at the smaller one (NumPy)
  auto dec = kx::split(kx::arange(5), std::vector<int>{3, 1});
  ASSERT_EQ(dec.size(), 3u);
  EXPECT_EQ(iv(dec[0]), std::vector<int>({0, 1, 2}));
  EXPECT_EQ(dec[1].size(), 0u);
  EXPECT_EQ(iv(dec[2]), std::vector<int>({1, 2, 3, 4}));
  EXPECT_EQ(kx::split(kx::arange(5), std::vector<int>{}).size(), 1u);
  EXPECT_OP_THROWS(kx::split(a, 4), "split");
  EXPECT_OP_THROWS(kx::split(a, 0), "split");
  EXPECT_OP_THROWS(kx::split(a, 2, 2), "split");
  EXPECT_OP_THROWS(kx::split(kx::array(1), 1), "split");
}

TEST(Slice, PythonSemantics) {
  auto a = kx::arange(10);
  auto s = [&](int b, int e, int st) { return iv(kx::slice(a, {b}, {e}, {st})); };
  EXPECT_EQ(s(2, 5, 1), std::vector<int>({2, 3, 4}));
  EXPECT_EQ(s(-3, 10, 1), std::vector<int>({7, 8, 9}));
  EXPECT_EQ(s(0, 10, 3), std::vector<int>({0, 3, 6, 9}));
  EXPECT_EQ(s(8, 2, -2), std::vector<int>({8, 6, 4}));
  EXPECT_EQ(s(9, -11, -1), std::vector<int>({9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));  // a[::-1]
  EXPECT_EQ(s(-1, -4, -1), std::vector<int>({9, 8, 7}));
  EXPECT_EQ(s(100, -100, -3), std::vector<int>({9, 6, 3, 0}));
  EXPECT_EQ(s(-100, 100, 4), std::vector<int>({0, 4, 8}));
  EXPECT_TRUE(s(5, 2, 1).empty());
  EXPECT_TRUE(s(2, 5, -1).empty());
  EXPECT_TRUE(s(10, 20, 1).empty());
  auto m = iota({3, 4});
  auto sm = kx::slice(m, {1, 0}, {3, 4}, {1, 2});
  EXPECT_EQ(sm.shape(), kx::Shape({2, 2}));
  EXPECT_EQ(iv(sm), std::vector<int>({4, 6, 8, 10}));
  EXPECT_EQ(iv(kx::slice(m, {0, 1}, {2, 3})), std::vector<int>({1, 2, 5, 6}));
  EXPECT_EQ(iv(kx::slice(m, {2, 3}, {-4, -5}, {-2, -3})), std::vector<int>({11, 8, 3, 0}));
  // a slice of a transposed array, and of a slice
  EXPECT_EQ(iv(kx::slice(kx::transpose(m), {1, 0}, {2, 3})), std::vector<int>({1, 5, 9}));
  auto ss = kx::slice(kx::slice(a, {1}, {9}, {2}), {3}, {0}, {-1});  // [1,3,5,7] -> 7 5 3
  EXPECT_EQ(iv(ss), std::vector<int>({7, 5, 3}));
  EXPECT_TRUE(kx::slice(a, {0}, {10}).is_same(a));
  for (auto d : kt::kAllDtypes) {
    auto x = kx::slice(kx::astype(kx::array({0.f, 1.f, 2.f, 3.f}), d), {3}, {-5}, {-2});
    EXPECT_EQ(x.dtype(), d);
    EXPECT_EQ(fv(x), d == kx::bool_ ? std::vector<float>({1, 1}) : std::vector<float>({3, 1}));
  }
  EXPECT_EQ(kx::slice(kx::zeros({0, 2}), {0, 0}, {0, 1}).shape(), kx::Shape({0, 1}));
  EXPECT_OP_THROWS(kx::slice(a, {0}, {5}, {0}), "slice");
  EXPECT_OP_THROWS(kx::slice(a, {0, 0}, {5, 5}), "slice");
  EXPECT_OP_THROWS(kx::slice(m, {0}, {1}), "slice");
}

TEST(Slice, Update) {
  auto a = kx::zeros({3, 4}, kx::int32);
  auto u = kx::slice_update(a, kx::array({1, 2, 3, 4}, {2, 2}), {1, 1}, {3, 3});
  EXPECT_EQ(iv(u), std::vector<int>({0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0}));
  EXPECT_EQ(iv(a), std::vector<int>(12, 0));  // the source is unchanged
  // strided and negative-stride targets, broadcast update
  auto v = kx::slice_update(kx::zeros({6}, kx::int32), kx::array(7), {0}, {6}, {2});
  EXPECT_EQ(iv(v), std::vector<int>({7, 0, 7, 0, 7, 0}));
  auto w = kx::slice_update(kx::zeros({5}, kx::int32), kx::array({1, 2, 3}), {4}, {-6}, {-2});
  EXPECT_EQ(iv(w), std::vector<int>({3, 0, 2, 0, 1}));
  auto row = kx::slice_update(kx::zeros({2, 3}), kx::array({1.f, 2.f, 3.f}), {1, 0}, {2, 3});
  EXPECT_EQ(fv(row), std::vector<float>({0, 0, 0, 1, 2, 3}));
  // the update is cast to the source dtype; a transposed update
  auto h =
      kx::slice_update(kx::zeros({2, 2}, kx::float16), kx::transpose(iota({2, 2})), {0, 0}, {2, 2});
  EXPECT_EQ(h.dtype(), kx::float16);
  EXPECT_EQ(fv(h), std::vector<float>({0, 2, 1, 3}));
  // empty update region
  EXPECT_EQ(iv(kx::slice_update(kx::ones({3}, kx::int32), kx::zeros({0}), {1}, {1})),
            std::vector<int>({1, 1, 1}));
  EXPECT_OP_THROWS(kx::slice_update(a, kx::zeros({3}), {0, 0}, {2, 2}), "slice_update");
  EXPECT_OP_THROWS(kx::slice_update(a, kx::zeros({1}), {0}, {1}), "slice_update");
  EXPECT_OP_THROWS(kx::slice_update(a, kx::zeros({1}), {0, 0}, {1, 1}, {1, 0}), "slice_update");
}

TEST(Pad, Constant) {
  auto a = kx::array({1, 2, 3, 4}, {2, 2});
  auto p = kx::pad(a, {{1, 0}, {0, 2}});
  EXPECT_EQ(p.shape(), kx::Shape({3, 4}));
  EXPECT_EQ(iv(p), std::vector<int>({0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0}));
  auto q = kx::pad(a, {{1, 1}}, kx::array(9));
  EXPECT_EQ(q.shape(), kx::Shape({4, 4}));
  EXPECT_EQ(iv(q), std::vector<int>({9, 9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9, 9, 9, 9}));
  auto r = kx::pad(kx::array({1.f, 2.f}), std::vector<int>{0}, {2}, {1}, kx::array(-1.f));
  EXPECT_EQ(fv(r), std::vector<float>({-1, -1, 1, 2, -1}));
  // the pad value takes the array's dtype
  auto h = kx::pad(kx::array({1.f}, kx::bfloat16), {{1, 1}}, kx::array(0.5f));
  EXPECT_EQ(h.dtype(), kx::bfloat16);
  EXPECT_EQ(fv(h), std::vector<float>({0.5f, 1, 0.5f}));
  EXPECT_EQ(kx::pad(kx::zeros({0}), {{2, 1}}).shape(), kx::Shape({3}));
  EXPECT_EQ(iv(kx::pad(kx::transpose(a), {{0, 1}, {0, 0}})), std::vector<int>({1, 3, 2, 4, 0, 0}));
  EXPECT_OP_THROWS(kx::pad(a, {{1, 1}, {1, 1}, {1, 1}}), "pad");
  EXPECT_OP_THROWS(kx::pad(a, {{-1, 0}}), "pad");
  EXPECT_OP_THROWS(kx::pad(a, {{1, 1}}, kx::array({1, 2})), "pad");
  EXPECT_OP_THROWS(kx::pad(a, std::vector<int>{2}, {1}, {1}), "pad");
  EXPECT_OP_THROWS(kx::pad(a, std::vector<int>{0}, {1, 1}, {1}), "pad");
}

TEST(TileRepeatFlip, Values) {
  auto a = kx::array({1, 2});
  EXPECT_EQ(iv(kx::tile(a, {3})), std::vector<int>({1, 2, 1, 2, 1, 2}));
  auto t2 = kx::tile(a, {2, 2});
  EXPECT_EQ(t2.shape(), kx::Shape({2, 4}));
  EXPECT_EQ(iv(t2), std::vector<int>({1, 2, 1, 2, 1, 2, 1, 2}));
  auto m = kx::array({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(iv(kx::tile(m, {2})), std::vector<int>({1, 2, 1, 2, 3, 4, 3, 4}));
  EXPECT_EQ(kx::tile(m, {0, 1}).shape(), kx::Shape({0, 2}));
  EXPECT_EQ(kx::tile(kx::array(5), {3}).shape(), kx::Shape({3}));
  EXPECT_OP_THROWS(kx::tile(a, {-1}), "tile");

  EXPECT_EQ(iv(kx::repeat(a, 3)), std::vector<int>({1, 1, 1, 2, 2, 2}));
  EXPECT_EQ(iv(kx::repeat(m, 2, 0)), std::vector<int>({1, 2, 1, 2, 3, 4, 3, 4}));
  EXPECT_EQ(iv(kx::repeat(m, 2, 1)), std::vector<int>({1, 1, 2, 2, 3, 3, 4, 4}));
  EXPECT_EQ(iv(kx::repeat(m, 2)), std::vector<int>({1, 1, 2, 2, 3, 3, 4, 4}));
  EXPECT_EQ(kx::repeat(m, 0, 1).shape(), kx::Shape({2, 0}));
  EXPECT_EQ(iv(kx::repeat(kx::transpose(m), 2, -1)), std::vector<int>({1, 1, 3, 3, 2, 2, 4, 4}));
  EXPECT_OP_THROWS(kx::repeat(m, -1, 0), "repeat");
  EXPECT_OP_THROWS(kx::repeat(m, 2, 2), "repeat");

  EXPECT_EQ(iv(kx::flip(kx::arange(4), 0)), std::vector<int>({3, 2, 1, 0}));
  EXPECT_EQ(iv(kx::flip(m, 1)), std::vector<int>({2, 1, 4, 3}));
  EXPECT_EQ(iv(kx::flip(m, -2)), std::vector<int>({3, 4, 1, 2}));
  EXPECT_EQ(iv(kx::flip(m)), std::vector<int>({4, 3, 2, 1}));
  EXPECT_EQ(kx::flip(kx::zeros({0}), 0).shape(), kx::Shape({0}));
  EXPECT_EQ(kx::flip(kx::array(3)).item<int>(), 3);
  for (auto d : kt::kAllDtypes)
    EXPECT_EQ(fv(kx::flip(kx::astype(kx::array({0.f, 1.f}), d), 0)), std::vector<float>({1, 0}));
  EXPECT_OP_THROWS(kx::flip(m, 2), "flip");
}
