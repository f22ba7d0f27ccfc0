#include <gtest/gtest.h>
#include <kiln/kiln.h>

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
