#include "device_select.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace kiln::gpu::detail {

namespace {
int rank(DeviceKind k) {
  switch (k) {
    case DeviceKind::discrete: return 4;
    case DeviceKind::integrated: return 3;
    case DeviceKind::virtual_gpu: return 2;
    case DeviceKind::cpu: return 1;
    default: return 0;
  }
}
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
std::string listing(const std::vector<DeviceCandidate>& devices) {
  std::string s;
  for (size_t i = 0; i < devices.size(); ++i)
    s += (i ? ", " : "") + std::to_string(i) + ": " + devices[i].name +
         (devices[i].usable ? "" : " (unusable)");
  return s.empty() ? "none" : s;
}
}  // namespace

int choose_device(const std::vector<DeviceCandidate>& devices, const std::string& request) {
  if (request.empty()) {
    int best = -1;
    for (size_t i = 0; i < devices.size(); ++i) {
      if (!devices[i].usable) continue;
      if (best < 0 || rank(devices[i].kind) > rank(devices[best].kind)) best = static_cast<int>(i);
    }
    return best;
  }
  bool numeric = std::all_of(request.begin(), request.end(),
                             [](unsigned char c) { return std::isdigit(c); });
  if (numeric) {
    size_t idx = std::stoul(request);
    if (idx >= devices.size() || !devices[idx].usable)
      throw std::invalid_argument("[gpu] KILN_VULKAN_DEVICE=" + request +
                                  " names no usable Vulkan device (devices: " + listing(devices) +
                                  ")");
    return static_cast<int>(idx);
  }
  std::string want = lower(request);
  for (size_t i = 0; i < devices.size(); ++i)
    if (devices[i].usable && lower(devices[i].name).find(want) != std::string::npos)
      return static_cast<int>(i);
  throw std::invalid_argument("[gpu] KILN_VULKAN_DEVICE='" + request +
                              "' matches no usable Vulkan device (devices: " + listing(devices) +
                              ")");
}

}  // namespace kiln::gpu::detail
