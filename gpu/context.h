// The Vulkan context: instance, the chosen physical device, one compute queue, and the
// device's capabilities as fields (never assumed). Created on first use, never destroyed
// (arrays in static storage may outlive any shutdown order we could pick).
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>

#include "../core/errors.h"

namespace kiln::gpu {

struct Capabilities {
  uint32_t api_version = 0;
  uint32_t subgroup_size = 0;
  bool subgroup_arithmetic = false;
  uint32_t max_shared_memory = 0;     // bytes per workgroup
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_storage_buffers = 0;   // per stage
  uint32_t max_push_constants = 0;    // bytes
  uint64_t max_allocation = 0;        // bytes in one vkAllocateMemory
  uint64_t device_heap = 0;           // bytes of the heap arrays live in
  bool storage8 = false;              // 8-bit storage (bool arrays)
  bool storage16 = false;             // 16-bit storage (float16/bfloat16 arrays)
  bool float16 = false;               // float16 arithmetic
  bool int64 = false;
  bool float64 = false;
  bool int64_atomics = false;
  bool float32_atomic_add = false;
};

class Context {
 public:
  // The context, or nullptr when no usable Vulkan device exists (never throws; the reason is
  // in init_error()).
  static Context* get();
  // The context, or throws GpuError naming why there is none.
  static Context& require();
  static const std::string& init_error();

  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  std::string name;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  Capabilities caps;
  VkPhysicalDeviceMemoryProperties memory{};
  // Memory types: arrays, and host-visible staging. `mapped` when arrays are host-visible
  // (CPU/integrated devices): uploads and downloads are then plain memcpy.
  uint32_t device_type_index = 0;
  uint32_t staging_type_index = 0;
  int upload_type_index = -1;  // device-local + host-visible (BAR), discrete GPUs only
  bool mapped = false;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;

  // Serializes the backend's entry points (eval, download, allocation).
  std::recursive_mutex mutex;

 private:
  Context() = default;
  void init();
};

// True when KILN_LOG contains "gpu".
bool log_enabled();
void log(const std::string& msg);

[[noreturn]] void vk_fail(VkResult r, const char* what);
inline void vk_check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) vk_fail(r, what);
}

}  // namespace kiln::gpu
