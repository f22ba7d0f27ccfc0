// Vulkan physical-device choice, kept free of Vulkan types so it can be tested anywhere.
#pragma once
#include <string>
#include <vector>

namespace kiln::gpu::detail {

enum class DeviceKind { discrete, integrated, virtual_gpu, cpu, other };

struct DeviceCandidate {
  std::string name;
  DeviceKind kind = DeviceKind::other;
  bool usable = true;  // meets kiln's requirements (Vulkan 1.2, compute queue, addresses)
};

// Index of the device to use, or -1 when none fits. `request` is KILN_VULKAN_DEVICE: empty
// (best kind: discrete > integrated > virtual > cpu > other, first on ties), an index, or a
// case-insensitive name substring. A request naming no usable device throws
// std::invalid_argument (explaining the choices).
int choose_device(const std::vector<DeviceCandidate>& devices, const std::string& request);

}  // namespace kiln::gpu::detail
