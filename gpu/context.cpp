#include "context.h"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "device_select.h"

namespace kiln::gpu {

namespace {
std::string& error_slot() {
  static std::string e;
  return e;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                              VkDebugUtilsMessageTypeFlagsEXT,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data,
                                              void*) {
  if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
    std::cerr << "[kiln gpu validation] " << data->pMessage << "\n";
  return VK_FALSE;
}

const char* result_name(VkResult r) {
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    default: return "VkResult error";
  }
}

detail::DeviceKind kind_of(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return detail::DeviceKind::discrete;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return detail::DeviceKind::integrated;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return detail::DeviceKind::virtual_gpu;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return detail::DeviceKind::cpu;
    default: return detail::DeviceKind::other;
  }
}

int compute_queue_family(VkPhysicalDevice pd) {
  uint32_t n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
  std::vector<VkQueueFamilyProperties> q(n);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q.data());
  // prefer a compute-only family (async compute on discrete GPUs), else any with compute
  for (uint32_t i = 0; i < n; ++i)
    if ((q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
      return static_cast<int>(i);
  for (uint32_t i = 0; i < n; ++i)
    if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) return static_cast<int>(i);
  return -1;
}

bool has_address_feature(VkPhysicalDevice pd) {
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceFeatures2 f{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
  vkGetPhysicalDeviceFeatures2(pd, &f);
  return f12.bufferDeviceAddress;
}
}  // namespace

bool log_enabled() {
  static bool on = env("KILN_LOG").find("gpu") != std::string::npos ||
                   env("KILN_LOG").find("all") != std::string::npos;
  return on;
}
void log(const std::string& msg) {
  if (log_enabled()) std::cerr << "[kiln gpu] " << msg << "\n";
}

void vk_fail(VkResult r, const char* what) {
  std::string m = std::string("[gpu] ") + what + " failed: " + result_name(r) + " (" +
                  std::to_string(static_cast<int>(r)) + ")";
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw OutOfMemoryError(m);
  throw GpuError(m);
}

const std::string& Context::init_error() { return error_slot(); }

Context* Context::get() {
  static Context* ctx = [] () -> Context* {
    auto* c = new Context();
    try {
      c->init();
      return c;
    } catch (const std::exception& e) {
      error_slot() = e.what();
      log(std::string("no Vulkan device: ") + e.what());
      return nullptr;  // the half-made context is leaked on purpose: it may hold handles
    }
  }();
  return ctx;
}

Context& Context::require() {
  Context* c = get();
  if (!c) throw GpuError("[gpu] the GPU (Vulkan) is not available: " + error_slot());
  return *c;
}

void Context::init() {
  bool validation = env("KILN_VULKAN_VALIDATION") == "1";
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "kiln";
  app.pEngineName = "kiln";
  app.apiVersion = VK_API_VERSION_1_2;
  std::vector<const char*> layers, exts;
  if (validation) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> lp(n);
    vkEnumerateInstanceLayerProperties(&n, lp.data());
    bool found = false;
    for (auto& l : lp) found = found || std::strcmp(l.layerName, "VK_LAYER_KHRONOS_validation") == 0;
    if (found) {
      layers.push_back("VK_LAYER_KHRONOS_validation");
      exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    } else {
      std::cerr << "[kiln gpu] KILN_VULKAN_VALIDATION=1 but VK_LAYER_KHRONOS_validation is not "
                   "installed (Debian: vulkan-validationlayers); running without it\n";
      validation = false;
    }
  }
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  ici.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ici.ppEnabledLayerNames = layers.data();
  ici.enabledExtensionCount = static_cast<uint32_t>(exts.size());
  ici.ppEnabledExtensionNames = exts.data();
  vk_check(vkCreateInstance(&ici, nullptr, &instance), "vkCreateInstance");
  if (validation) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
    if (create) {
      VkDebugUtilsMessengerCreateInfoEXT mci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
      mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
      mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
      mci.pfnUserCallback = debug_callback;
      create(instance, &mci, nullptr, &messenger);
    }
    log("validation layers enabled");
  }

  uint32_t n = 0;
  vk_check(vkEnumeratePhysicalDevices(instance, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> pds(n);
  vk_check(vkEnumeratePhysicalDevices(instance, &n, pds.data()), "vkEnumeratePhysicalDevices");
  std::vector<detail::DeviceCandidate> cands;
  for (auto pd : pds) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    bool usable = p.apiVersion >= VK_API_VERSION_1_2 && compute_queue_family(pd) >= 0 &&
                  has_address_feature(pd);
    cands.push_back({p.deviceName, kind_of(p.deviceType), usable});
  }
  int chosen = detail::choose_device(cands, env("KILN_VULKAN_DEVICE"));
  if (chosen < 0)
    throw GpuError("[gpu] no usable Vulkan 1.2 device with a compute queue and buffer device "
                   "addresses (found " + std::to_string(n) + " device(s))");
  physical = pds[chosen];

  // ---- properties and capabilities
  VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &sub};
  vkGetPhysicalDeviceProperties2(physical, &props);
  const auto& lim = props.properties.limits;
  name = props.properties.deviceName;
  type = props.properties.deviceType;
  caps.api_version = props.properties.apiVersion;
  caps.subgroup_size = sub.subgroupSize;
  caps.subgroup_arithmetic = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                             (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  caps.max_shared_memory = lim.maxComputeSharedMemorySize;
  for (int i = 0; i < 3; ++i) caps.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
  caps.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
  caps.max_storage_buffers = lim.maxPerStageDescriptorStorageBuffers;
  caps.max_push_constants = lim.maxPushConstantsSize;

  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f11};
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
  vkGetPhysicalDeviceFeatures2(physical, &feats);
  caps.storage8 = f12.storageBuffer8BitAccess;
  caps.storage16 = f11.storageBuffer16BitAccess;
  caps.float16 = f12.shaderFloat16;
  caps.int64 = feats.features.shaderInt64;
  caps.float64 = feats.features.shaderFloat64;
  caps.int64_atomics = f12.shaderBufferInt64Atomics;
  caps.float32_atomic_add = false;  // not used: scatters are deterministic (no float atomics)

  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &m3};
  vkGetPhysicalDeviceProperties2(physical, &props2);
  caps.max_allocation = m3.maxMemoryAllocationSize;

  // ---- memory types
  vkGetPhysicalDeviceMemoryProperties(physical, &memory);
  auto find_type = [&](VkMemoryPropertyFlags need, VkMemoryPropertyFlags avoid) -> int {
    int best = -1;
    VkDeviceSize best_heap = 0;
    for (uint32_t i = 0; i < memory.memoryTypeCount; ++i) {
      auto f = memory.memoryTypes[i].propertyFlags;
      if ((f & need) != need || (f & avoid)) continue;
      VkDeviceSize h = memory.memoryHeaps[memory.memoryTypes[i].heapIndex].size;
      if (best < 0 || h > best_heap) {
        best = static_cast<int>(i);
        best_heap = h;
      }
    }
    return best;
  };
  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                     VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  bool uma = type == VK_PHYSICAL_DEVICE_TYPE_CPU || type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
  int dev = -1;
  if (uma && env("KILN_VULKAN_STAGING") != "1")
    dev = find_type(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host, 0);
  mapped = dev >= 0;
  if (dev < 0) dev = find_type(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
  if (dev < 0) dev = find_type(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
  int stg = find_type(host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
  if (stg < 0) stg = find_type(host, 0);
  if (dev < 0 || stg < 0) throw GpuError("[gpu] the device lacks device-local or host-visible memory");
  device_type_index = static_cast<uint32_t>(dev);
  staging_type_index = static_cast<uint32_t>(stg);
  if (!mapped) upload_type_index = find_type(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host, 0);
  caps.device_heap = memory.memoryHeaps[memory.memoryTypes[dev].heapIndex].size;

  // ---- logical device with one compute queue
  queue_family = static_cast<uint32_t>(compute_queue_family(physical));
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &prio;
  VkPhysicalDeviceVulkan11Features e11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  e11.storageBuffer16BitAccess = caps.storage16;
  VkPhysicalDeviceVulkan12Features e12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &e11};
  e12.bufferDeviceAddress = VK_TRUE;
  e12.storageBuffer8BitAccess = caps.storage8;
  e12.shaderFloat16 = caps.float16;
  e12.shaderInt8 = f12.shaderInt8;
  e12.shaderBufferInt64Atomics = caps.int64_atomics;
  VkPhysicalDeviceFeatures2 ef{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &e12};
  ef.features.shaderInt64 = caps.int64;
  ef.features.shaderFloat64 = caps.float64;
  ef.features.shaderInt16 = feats.features.shaderInt16;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &ef};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  vk_check(vkCreateDevice(physical, &dci, nullptr, &device), "vkCreateDevice");
  vkGetDeviceQueue(device, queue_family, 0, &queue);

  if (log_enabled()) {
    log("device " + name + " (api " + std::to_string(VK_API_VERSION_MAJOR(caps.api_version)) + "." +
        std::to_string(VK_API_VERSION_MINOR(caps.api_version)) + "), subgroup " +
        std::to_string(caps.subgroup_size) + ", shared " + std::to_string(caps.max_shared_memory) +
        " B, heap " + std::to_string(caps.device_heap >> 20) + " MiB, " +
        (mapped ? "mapped device memory" : "staging copies") + ", int64 " +
        std::to_string(caps.int64) + ", f64 " + std::to_string(caps.float64) + ", 8/16-bit " +
        std::to_string(caps.storage8) + "/" + std::to_string(caps.storage16));
  }
}

}  // namespace kiln::gpu
