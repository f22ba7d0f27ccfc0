#include <gtest/gtest.h>
#include <kiln/kiln.h>
#include <kiln/core/pointer_set.h>

#include <vector>

namespace kx = kiln;

TEST(Array, Basics) {
  kx::array a({1.f, 2.f, 3.f, 4.f}, {2, 2});
  auto b = a + 1.0f;
  EXPECT_EQ(b.shape(), kx::Shape({2, 2}));
  auto v = b.to_vector<float>();
  EXPECT_EQ(v, (std::vector<float>{2, 3, 4, 5}));
}

TEST(Array, DoubleScalarsAndListsNarrowToFloat32) {
  EXPECT_EQ(kx::array(2.0).item<float>(), 2.0f);
  EXPECT_EQ(kx::array(2.5).dtype(), kx::float32);
  kx::array x({1.f, 2.f});
  EXPECT_EQ((x * 2.0).to_vector<float>(), (std::vector<float>{2.f, 4.f}));
  EXPECT_EQ(kx::array({0.5, 1.5}).to_vector<float>(), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(kx::array(std::vector<double>{1.0, 3.0}, {2}).to_vector<double>(),
            (std::vector<double>{1.0, 3.0}));
  EXPECT_DOUBLE_EQ(kx::array(0.25).item<double>(), 0.25);
}

// The pointer set behind eval's visited set and the GPU encoder's hazard sets.
TEST(Array, PointerSetInsertContainsClearGrow) {
  kiln::detail::PointerSet s;
  std::vector<int> xs(1000);
  EXPECT_FALSE(s.contains(&xs[0]));  // empty, never grown
  for (auto& x : xs) EXPECT_TRUE(s.insert(&x));  // grows past its first 64 slots
  for (auto& x : xs) EXPECT_FALSE(s.insert(&x));
  for (auto& x : xs) EXPECT_TRUE(s.contains(&x));
  int other = 0;
  EXPECT_FALSE(s.contains(&other));
  s.clear();
  for (auto& x : xs) EXPECT_FALSE(s.contains(&x));
  EXPECT_TRUE(s.insert(&xs[7]));
  kiln::detail::PointerSet moved = std::move(s);
  EXPECT_TRUE(moved.contains(&xs[7]));
  EXPECT_TRUE(s.insert(&xs[8]));  // usable after a move  NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(s.contains(&xs[8]));
}
