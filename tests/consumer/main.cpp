#include <kiln/kiln.h>

#include <iostream>

namespace kx = kiln;

int main() {
  kx::set_default_device(kx::Device::cpu);
  auto f = kx::compile([](const kx::array& x, const kx::array& y) { return kx::exp(-x) + y; });
  float v = f(kx::array(1.0f), kx::array(2.0f)).item<float>();
  std::cout << "consumer: " << v << "\n";
  return (v > 2.3678f && v < 2.3680f) ? 0 : 1;
}
