#include "device.h"

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include "backend.h"

namespace kiln {

namespace {
std::once_flag default_once;
Device& default_slot() {
  static Device d = Device::cpu;
  return d;
}
void init_default() {
  const char* env = std::getenv("KILN_DEVICE");
  std::string e = env ? env : "";
  if (e == "cpu") {
    default_slot() = Device::cpu;
  } else if (e == "gpu") {
    if (!gpu::detail::available())
      throw std::runtime_error("[default_device] KILN_DEVICE=gpu but no Vulkan device is available");
    default_slot() = Device::gpu;
  } else if (!e.empty()) {
    throw std::invalid_argument("[default_device] KILN_DEVICE must be 'cpu' or 'gpu', got '" + e +
                                "'");
  } else {
    default_slot() = gpu::detail::available() ? Device(Device::gpu) : Device(Device::cpu);
  }
}
}  // namespace

Device default_device() {
  std::call_once(default_once, init_default);
  return default_slot();
}

void set_default_device(Device d) {
  std::call_once(default_once, [] {
    // an explicit choice replaces the environment's; still validate KILN_DEVICE lazily
    default_slot() = Device::cpu;
  });
  if (d.type == Device::gpu && !gpu::detail::available())
    throw std::invalid_argument("[set_default_device] the GPU (Vulkan) is not available");
  default_slot() = d;
}

Stream default_stream(Device d) { return Stream(d, 0); }

Stream to_stream(StreamOrDevice s) {
  if (std::holds_alternative<Stream>(s)) return std::get<Stream>(s);
  Device d = std::holds_alternative<Device>(s) ? std::get<Device>(s) : default_device();
  if (d.type == Device::gpu && !gpu::detail::available())
    throw std::invalid_argument("[device] the GPU (Vulkan) was requested but is not available");
  return default_stream(d);
}

std::ostream& operator<<(std::ostream& os, const Device& d) {
  return os << (d.type == Device::cpu ? "Device(cpu, " : "Device(gpu, ") << d.index << ")";
}

}  // namespace kiln
