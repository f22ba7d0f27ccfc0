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
