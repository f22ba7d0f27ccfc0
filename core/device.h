// Devices and streams. One stream per device; ops take a trailing StreamOrDevice.
#pragma once
#include <ostream>
#include <variant>

namespace kiln {

struct Device {
  // Scoped: Device::gpu must not convert to bool/int, or sum(x, false, Device::gpu) would pick
  // the (axis, keepdims) overload.
  enum class DeviceType { cpu, gpu };
  static constexpr DeviceType cpu = DeviceType::cpu;
  static constexpr DeviceType gpu = DeviceType::gpu;
  DeviceType type;
  int index = 0;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}  // NOLINT: Device::gpu converts
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

struct Stream {
  int index = 0;
  Device device;
  explicit Stream(Device d, int i = 0) : index(i), device(d) {}
  bool operator==(const Stream& o) const { return index == o.index && device == o.device; }
  bool operator!=(const Stream& o) const { return !(*this == o); }
};

using StreamOrDevice = std::variant<std::monostate, Stream, Device>;

// The default device: the GPU when a Vulkan device exists, else the CPU; KILN_DEVICE overrides.
Device default_device();
void set_default_device(Device d);
Stream default_stream(Device d);
// Resolves an op's stream argument (monostate → default device's stream).
Stream to_stream(StreamOrDevice s);

std::ostream& operator<<(std::ostream& os, const Device& d);

}  // namespace kiln
