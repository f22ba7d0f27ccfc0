// Cross-backend harness, non-elementwise families: movement, reductions, arg-reductions,
// scans, sort, matmul, indexing, random bits. CPU results are the oracle.
#include "gpu_test_util.h"

using gt::check;

TEST(GpuOps, Movement) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  for (kx::Dtype d : gt::kAll) {
    kx::array x = gt::rand({3, 4, 5}, d, -9, 9, 31);
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::transpose(in[0], {2, 0, 1}, s); }, {x}, 0, 0)) << d;
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::broadcast_to(kx::slice(in[0], {0, 1, 0}, {3, 2, 5}, s), {2, 3, 1, 5}, s); }, {x}, 0, 0)) << d;
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::slice(in[0], {2, 3, 4}, {0, 0, 0}, {-1, -2, -3}, s); }, {x}, 0, 0)) << d;
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::concatenate({in[0], kx::flip(in[0], 1, s), in[0]}, 1, s); }, {x}, 0, 0)) << d;
    kx::array u = gt::rand({3, 2, 2}, d, -9, 9, 32);
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::slice_update(in[0], in[1], {0, 0, 1}, {3, 4, 5}, {1, 2, 2}, s); }, {x, u}, 0, 0)) << d;
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::reshape(kx::transpose(in[0], s), {20, 3}, s); }, {x}, 0, 0)) << d;
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::pad(in[0], {{1, 0}, {0, 2}, {1, 1}}, kx::array(0), s); }, {x}, 0, 0)) << d;
  }
  // empty, 0-d and a 9-d transpose
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::concatenate({in[0], in[0]}, 0, s); }, {gt::rand({0, 3}, kx::float32)}, 0, 0));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::broadcast_to(in[0], {4, 2}, s); }, {gt::rand({}, kx::int32)}, 0, 0));
  kx::array big = gt::rand({2, 1, 2, 3, 2, 1, 2, 3, 2}, kx::float32);
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::transpose(in[0], {8, 6, 4, 2, 0, 7, 5, 3, 1}, s); }, {big}, 0, 0));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::arange(-3.0, 7.5, 0.7, s); }, {}, 0, 0));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::arange(-3, 17, 3, s); }, {}, 0, 0));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::arange(0.0, 5.0, 0.5, kx::float16, s); }, {}, 0, 0));
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuOps, Reductions) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  for (kx::Dtype d : gt::kNumeric) {
    float lo = d == kx::uint32 ? 0.f : -4.f;
    kx::array x = gt::rand({6, 7, 9}, d, lo, 4, 41);
    for (std::vector<int> axes : {std::vector<int>{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}}) {
      EXPECT_TRUE(check([axes](auto& in, auto s) { return kx::sum(in[0], axes, false, s); }, {x}, -1, 1e-3f)) << d;
      EXPECT_TRUE(check([axes](auto& in, auto s) { return kx::max(in[0], axes, true, s); }, {x}, 0, 0)) << d;
      EXPECT_TRUE(check([axes](auto& in, auto s) { return kx::min(in[0], axes, false, s); }, {x}, 0, 0)) << d;
    }
    kx::array p = gt::rand({5, 4}, d, d == kx::uint32 ? 1.f : -1.5f, 1.5f, 42);
    EXPECT_TRUE(check([](auto& in, auto s) { return kx::prod(in[0], 1, false, s); }, {p}, -1, 1e-4f)) << d;
  }
  kx::array b = gt::rand({4, 6}, kx::bool_, -1, 1, 43);
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::all(in[0], 1, false, s); }, {b}));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::any(in[0], 0, false, s); }, {b}));
  // long rows (two passes), long columns (split R), NaN propagation, empty axis
  kx::array longrow = gt::rand({2, 100003}, kx::float32, -1, 1, 44);
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::sum(in[0], 1, false, s); }, {longrow}, 1e-4f, 1e-3f));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::max(in[0], 1, false, s); }, {longrow}, 0, 0));
  kx::array longcol = gt::rand({20001, 3}, kx::float32, -1, 1, 45);
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::sum(in[0], 0, false, s); }, {longcol}, 1e-4f, 1e-3f));
  kx::array nan({1.f, NAN, 3.f, -2.f}, {2, 2});
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::max(in[0], 1, false, s); }, {nan}));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::min(in[0], 0, false, s); }, {nan}));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::sum(in[0], 1, false, s); }, {gt::rand({3, 0}, kx::float32)}));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::logsumexp(in[0], 1, false, s); }, {gt::rand({5, 33}, kx::float32)}));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::softmax(in[0], 1, false, s); }, {gt::rand({5, 33}, kx::float32)}));
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuOps, ArgReduceScanSort) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  for (kx::Dtype d : gt::kAll) {
    float lo = (d == kx::uint32 || d == kx::bool_) ? 0.f : -5.f;
    kx::array x = gt::rand({5, 9, 4}, d, lo, 5, 51);  // integers: many ties
    for (int ax : {0, 1, 2}) {
      EXPECT_TRUE(check([ax](auto& in, auto s) { return kx::argmax(in[0], ax, false, s); }, {x}, 0, 0)) << d << ax;
      EXPECT_TRUE(check([ax](auto& in, auto s) { return kx::argmin(in[0], ax, true, s); }, {x}, 0, 0)) << d << ax;
      EXPECT_TRUE(check([ax](auto& in, auto s) { return kx::sort(in[0], ax, s); }, {x}, 0, 0)) << d << ax;
      EXPECT_TRUE(check([ax](auto& in, auto s) { return kx::argsort(in[0], ax, s); }, {x}, 0, 0)) << d << ax;
      if (d == kx::bool_) continue;
      EXPECT_TRUE(check([ax](auto& in, auto s) { return kx::cumsum(in[0], ax, false, true, s); }, {x}, -1, 1e-4f)) << d << ax;
      EXPECT_TRUE(check([ax](auto& in, auto s) { return kx::cumsum(in[0], ax, true, false, s); }, {x}, -1, 1e-4f)) << d << ax;
      EXPECT_TRUE(check([ax](auto& in, auto s) { return kx::cummax(in[0], ax, false, true, s); }, {x}, 0, 0)) << d << ax;
      EXPECT_TRUE(check([ax](auto& in, auto s) { return kx::cummin(in[0], ax, true, true, s); }, {x}, 0, 0)) << d << ax;
    }
  }
  kx::array p = gt::rand({3, 7}, kx::float32, 0.5f, 1.5f, 52);
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::cumprod(in[0], 1, false, true, s); }, {p}));
  // long rows: several scan tiles, a single-workgroup argmax, a 2^k+1 sort with NaN and -0
  kx::array lr = gt::rand({2, 3001}, kx::float32, -1, 1, 53);
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::cumsum(in[0], 1, false, true, s); }, {lr}, 1e-4f, 1e-4f));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::argmax(in[0], 1, false, s); }, {lr}, 0, 0));
  kx::array sp({3.f, NAN, -0.f, 0.f, -1.f, NAN, 2.f, 0.f, -INFINITY});
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::argsort(in[0], 0, s); }, {sp}, 0, 0));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::sort(in[0], 0, s); }, {sp}, 0, 0));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::argmax(in[0], 0, false, s); }, {sp}, 0, 0));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::argsort(in[0], 1, s); }, {gt::rand({3, 1025}, kx::int32, -50, 50, 54)}, 0, 0));
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuOps, Matmul) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  for (kx::Dtype d : gt::kFloats) {
    // the last three split K (few output tiles, K >= 128): partial tiles + a reduce pass
    for (auto [m, k, n] : {std::tuple{1, 1, 1}, {7, 5, 3}, {64, 33, 129}, {130, 17, 70},
                           {5, 300, 7}, {130, 1000, 70}, {1, 129, 260}}) {
      kx::array a = gt::rand({m, k}, d, -1, 1, 61), b = gt::rand({k, n}, d, -1, 1, 62);
      float rtol = d == kx::float32 ? 1e-4f : gt::rtol_for(d) * 2;
      EXPECT_TRUE(check([](auto& in, auto s) { return kx::matmul(in[0], in[1], s); }, {a, b}, rtol, 1e-3f))
          << d << " " << m << "x" << k << "x" << n;
    }
  }
  kx::array a = gt::rand({3, 1, 9, 20}, kx::float32), b = gt::rand({2, 20, 11}, kx::float32);
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::matmul(in[0], in[1], s); }, {a, b}, 1e-4f, 1e-4f));
  a = gt::rand({3, 2, 9, 200}, kx::float32), b = gt::rand({200, 11}, kx::float32);  // batched split K
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::matmul(in[0], in[1], s); }, {a, b}, 1e-4f, 1e-4f));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::matmul(kx::transpose(in[0], s), in[0], s); }, {gt::rand({20, 6}, kx::float32)}, 1e-4f, 1e-4f));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::matmul(in[0], in[1], s); }, {gt::rand({4, 0}, kx::float32), gt::rand({0, 5}, kx::float32)}, 0, 0));
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::matmul(in[0], in[1], s); }, {gt::rand({7}, kx::float32), gt::rand({7}, kx::float32)}, 1e-5f, 1e-5f));
  EXPECT_EQ(gt::fallbacks(), "");
}

namespace {
// op(A) op(B) with the transpose flags on the Matmul itself (what compile's fold_transposes
// builds): a is stored (..., K, M) when ta, b (..., N, K) when tb; batch dims equal.
kx::array flagged_matmul(const kx::array& a, const kx::array& b, bool ta, bool tb,
                         kx::StreamOrDevice s) {
  kx::Shape shape = a.shape();
  shape[shape.size() - 2] = ta ? a.shape(-1) : a.shape(-2);
  shape.back() = tb ? b.shape(-2) : b.shape(-1);
  auto prim = std::make_shared<kx::Matmul>(kx::to_stream(s), ta, tb);
  return kx::array(shape, a.dtype(), prim, {a, b});
}

// Random operands of an (M, N, K) product stored as the flags say, with batch dims in front.
std::vector<kx::array> mm_operands(kx::Shape batch, int m, int n, int k, bool ta, bool tb,
                                   kx::Dtype d, uint32_t seed) {
  kx::Shape sa = batch, sb = batch;
  for (int v : ta ? std::vector<int>{k, m} : std::vector<int>{m, k}) sa.push_back(v);
  for (int v : tb ? std::vector<int>{n, k} : std::vector<int>{k, n}) sb.push_back(v);
  return {gt::rand(sa, d, -1, 1, seed), gt::rand(sb, d, -1, 1, seed + 1)};
}

::testing::AssertionResult check_mm(const std::vector<kx::array>& in, bool ta, bool tb,
                                    kx::Dtype d = kx::float32) {
  float rtol = d == kx::float32 ? 1e-4f : gt::rtol_for(d) * 2;
  float atol = d == kx::float32 ? 1e-3f : d == kx::float16 ? 2e-2f : 1e-1f;
  return check([ta, tb](auto& x, auto s) { return flagged_matmul(x[0], x[1], ta, tb, s); }, in,
               rtol, atol);
}
::testing::AssertionResult check_mm(kx::Shape batch, int m, int n, int k, bool ta, bool tb,
                                    kx::Dtype d, uint32_t seed) {
  return check_mm(mm_operands(batch, m, n, k, ta, tb, d, seed), ta, tb, d);
}

// Sets KILN_MATMUL_TILE for one scope (matmul.cpp reads it on every call).
struct ForceTile {
  explicit ForceTile(const char* v) { setenv("KILN_MATMUL_TILE", v, 1); }
  ~ForceTile() { unsetenv("KILN_MATMUL_TILE"); }
};
}  // namespace

// Products with few 128 x 128 tiles (an MLP step's) run matmul_mid.comp: smaller tiles, with
// K split inside the workgroup, one dispatch (no split-K reduce pass) for the main shapes;
// thin ones (N = 10) split K across workgroups as well.
TEST(GpuOps, MatmulMlpShapes) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  // (M, N, K, ta, tb): forward, weight gradients (A transposed), input gradients (B transposed)
  struct P { int m, n, k; bool ta, tb, one_dispatch; };
  for (P p : {P{256, 512, 784, false, false, true}, P{256, 512, 512, false, false, true},
              P{784, 512, 256, true, false, true}, P{512, 512, 256, true, false, true},
              P{256, 784, 512, false, true, true}, P{256, 512, 512, false, true, true},
              P{256, 512, 10, false, true, true}, P{256, 10, 512, false, false, false},
              P{512, 10, 256, true, false, false}}) {
    auto in = mm_operands({}, p.m, p.n, p.k, p.ta, p.tb, kx::float32, 63);
    SCOPED_TRACE(std::to_string(p.m) + "x" + std::to_string(p.n) + "x" + std::to_string(p.k) +
                 (p.ta ? " ta" : "") + (p.tb ? " tb" : ""));
    EXPECT_TRUE(check_mm(in, p.ta, p.tb));
    if (p.one_dispatch) {
      kx::array a = kx::copy(in[0], kx::Device::gpu), b = kx::copy(in[1], kx::Device::gpu);
      kx::eval(a, b);
      kx::array g = flagged_matmul(a, b, p.ta, p.tb, kx::Device::gpu);
      uint64_t before = kx::gpu::detail::kernel_stats().dispatches;
      g.eval();
      EXPECT_EQ(kx::gpu::detail::kernel_stats().dispatches - before, 1u);
    }
  }
  // batched products that take the 64 x 64 tiles (16 x 4 x 4 of them) and the 16 x 32 ones
  for (auto [batch, m, n, k, ta, tb] : {std::tuple{16, 256, 256, 40, true, false},
                                        std::tuple{16, 8, 128, 256, false, true}}) {
    SCOPED_TRACE(std::to_string(batch) + "x" + std::to_string(m) + "x" + std::to_string(n) +
                 "x" + std::to_string(k));
    EXPECT_TRUE(check_mm({batch}, m, n, k, ta, tb, kx::float32, 69));
  }
  // long K over few 64 x 64 tiles (the subspace step's shape, smaller): K split over
  // workgroups in chunks of >= 512; both operand layouts, K not a multiple of the chunk
  for (auto [m, n, k, ta, tb] : {std::tuple{2048, 64, 2100, false, false},
                                 std::tuple{64, 2048, 2048, true, false}}) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
    EXPECT_TRUE(check_mm({}, m, n, k, ta, tb, kx::float32, 71));
  }
  // K = 0 with many outputs (the tiled path, not the one-per-output kernel): zeros
  EXPECT_TRUE(check([](auto& in, auto s) { return kx::matmul(in[0], in[1], s); },
                    {gt::rand({300, 0}, kx::float32), gt::rand({0, 300}, kx::float32)}, 0, 0));
  EXPECT_EQ(gt::fallbacks(), "");
}

// Every tiling (KILN_MATMUL_TILE forces it) on sizes that are no multiple of its tile or K
// step, every transpose flag, a batch, a split of K across workgroups, 16-bit dtypes.
TEST(GpuOps, MatmulTilings) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  // the tilings matmul.cpp chooses from (kMidTiles, kNarrowN/M), others a sweep may force
  // (4 x 4 blocks per thread unless TM x TN follow), matmul.comp, ":S" forcing a split of K
  // across workgroups, and values that are ignored (8 x 8 blocks with K split, which the
  // shader cannot run, a zero tile, a malformed string)
  for (const char* tiling : {"32x32x64x4", "64x64x16x1x8x8", "32x16x32x8", "16x32x32x8",
                             "128x64x16x1x8x8", "64x64x16x1x8x4", "64x64x16x1x4x8", "64x32x32x2",
                             "32x32x32x4", "16x16x32x16", "128", "128:3", "32x32x64x4:5",
                             "64x64x16x1x8x8:3", "32x32x64x16x8x8", "0x32x64x4", "32x32:x"}) {
    ForceTile force(tiling);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        SCOPED_TRACE(std::string(tiling) + (ta ? " ta" : "") + (tb ? " tb" : ""));
        EXPECT_TRUE(check_mm({}, 70, 45, 37, ta, tb, kx::float32, 64));
        EXPECT_TRUE(check_mm({}, 130, 67, 200, ta, tb, kx::float32, 65));
        EXPECT_TRUE(check_mm({3}, 33, 29, 150, ta, tb, kx::float32, 66));
      }
    SCOPED_TRACE(tiling);
    EXPECT_TRUE(check_mm({2}, 5, 3, 1, false, false, kx::float32, 67));
    for (kx::Dtype d : {kx::float16, kx::bfloat16})
      EXPECT_TRUE(check_mm({}, 67, 70, 90, true, false, d, 68)) << d;
  }
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuOps, Indexing) {
  REQUIRE_GPU();
  kx::gpu::detail::reset_kernel_stats();
  for (kx::Dtype d : gt::kAll) {
    kx::array a = gt::rand({4, 6, 3}, d, -9, 9, 71);
    for (kx::Dtype id : {kx::int32, kx::uint32, kx::int64}) {
      kx::array idx = kx::astype(kx::array({5, 0, 2, 2, -1, 9}, {2, 3}), id);
      if (id == kx::uint32) idx = kx::astype(kx::array({5, 0, 2, 2, 1, 9}, {2, 3}), id);
      EXPECT_TRUE(check([](auto& in, auto s) { return kx::take(in[0], in[1], 1, s); }, {a, idx}, 0, 0)) << d << id;
      kx::array upd = gt::rand({4, 2, 3, 3}, d, -3, 3, 72);
      EXPECT_TRUE(check([](auto& in, auto s) { return kx::scatter_add(in[0], in[1], in[2], 1, s); }, {a, idx, upd}, -1, 1e-4f)) << d << id;
      kx::array ia = kx::astype(gt::rand({4, 2, 3}, kx::int32, 0, 5, 73), id);
      EXPECT_TRUE(check([](auto& in, auto s) { return kx::take_along_axis(in[0], in[1], 1, s); }, {a, ia}, 0, 0)) << d << id;
      kx::array vals = gt::rand({4, 2, 3}, d, -3, 3, 74);
      EXPECT_TRUE(check([](auto& in, auto s) { return kx::put_along_axis(in[0], in[1], in[2], 1, s); }, {a, ia, vals}, 0, 0)) << d << id;
      EXPECT_TRUE(check([](auto& in, auto s) { return kx::scatter_add_along_axis(in[0], in[1], in[2], 1, s); }, {a, ia, vals}, -1, 1e-4f)) << d << id;
    }
  }
  EXPECT_EQ(gt::fallbacks(), "");
}

TEST(GpuOps, RandomBitsIdentical) {
  REQUIRE_GPU();
  for (uint64_t seed : {0ull, 42ull, 0xdeadbeefcafeull}) {
    kx::array k = kx::random::key(seed);
    for (kx::Shape sh : {kx::Shape{}, kx::Shape{1}, kx::Shape{7}, kx::Shape{3, 333}, kx::Shape{100001}}) {
      kx::array c = kx::random::bits(sh, 4, k, kx::Device::cpu);
      kx::array g = kx::random::bits(sh, 4, k, kx::Device::gpu);
      EXPECT_EQ(c.to_vector<uint32_t>(), g.to_vector<uint32_t>());
    }
    // split keys on the device and reuse them: streams stay identical
    auto [k1, k2] = kx::random::split(k, kx::StreamOrDevice(kx::Device(kx::Device::gpu)));
    auto [c1, c2] = kx::random::split(k, kx::StreamOrDevice(kx::Device(kx::Device::cpu)));
    EXPECT_EQ(kx::random::bits({9}, 4, k2, kx::Device::gpu).to_vector<uint32_t>(),
              kx::random::bits({9}, 4, c2, kx::Device::cpu).to_vector<uint32_t>());
  }
  kx::array k = kx::random::key(7);
  EXPECT_TRUE(check([k](auto&, auto s) { return kx::random::normal({1000}, kx::float32, 0.f, 1.f, k, s); }, {}, 1e-4f, 1e-5f));
  EXPECT_TRUE(check([k](auto&, auto s) { return kx::random::uniform({1000}, kx::float32, k, s); }, {}, 0, 0));
  EXPECT_TRUE(check([k](auto&, auto s) { return kx::random::randint(-5, 100, {300}, kx::int32, k, s); }, {}, 0, 0));
}
