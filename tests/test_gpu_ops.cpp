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
