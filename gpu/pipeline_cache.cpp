#include "pipeline_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "context.h"

namespace kiln::gpu {

std::string cache_dir() {
  if (const char* e = std::getenv("KILN_CACHE_DIR")) return *e ? e : "";
  const char* home = std::getenv("HOME");
  if (!home || !*home) return "";
#ifdef KILN_VERSION
  return std::string(home) + "/.cache/kiln/" KILN_VERSION;
#else
  return std::string(home) + "/.cache/kiln/dev";
#endif
}

bool mkdirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      std::string p = path.substr(0, i);
      if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'P', 'C', '0', '1'};

uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
  return h;
}

struct State {
  VkPipelineCache cache = VK_NULL_HANDLE;
  std::string path;
  size_t loaded = 0;  // bytes of driver data loaded (0: started empty)
};

State& state() {
  static State* s = new State();
  return *s;
}

std::string file_path(const VkPhysicalDeviceProperties& p) {
  std::string dir = cache_dir();
  if (dir.empty()) return "";
  char name[64];
  std::snprintf(name, sizeof name, "/pipelines-%04x-%04x.bin", p.vendorID, p.deviceID);
  return dir + name;
}

// File: magic, size (u64), checksum (u64 fnv-1a of the data), the driver's cache data.
// The data's own header must name this device and driver.
std::vector<char> load(const std::string& path, const VkPhysicalDeviceProperties& props) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 24 || std::memcmp(bytes.data(), kMagic, 8) != 0) return {};
  uint64_t n = 0, sum = 0;
  std::memcpy(&n, bytes.data() + 8, 8);
  std::memcpy(&sum, bytes.data() + 16, 8);
  if (n != bytes.size() - 24 || n < 32 || fnv1a(bytes.data() + 24, n) != sum) return {};
  const char* d = bytes.data() + 24;
  uint32_t header_len, version, vendor, device;
  std::memcpy(&header_len, d, 4);
  std::memcpy(&version, d + 4, 4);
  std::memcpy(&vendor, d + 8, 4);
  std::memcpy(&device, d + 12, 4);
  if (header_len < 32 || header_len > n || version != VK_PIPELINE_CACHE_HEADER_VERSION_ONE ||
      vendor != props.vendorID || device != props.deviceID ||
      std::memcmp(d + 16, props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
    return {};
  return std::vector<char>(bytes.begin() + 24, bytes.end());
}

void save() {
  State& s = state();
  Context* c = Context::get();
  if (!c || !s.cache || s.path.empty()) return;
  std::lock_guard<std::recursive_mutex> lk(c->mutex);
  size_t n = 0;
  if (vkGetPipelineCacheData(c->device, s.cache, &n, nullptr) != VK_SUCCESS || n <= s.loaded)
    return;
  std::vector<char> data(n);
  if (vkGetPipelineCacheData(c->device, s.cache, &n, data.data()) != VK_SUCCESS) return;
  data.resize(n);
  std::string dir = s.path.substr(0, s.path.rfind('/'));
  if (!mkdirs(dir)) return;  // unwritable: persistence is simply off
  std::string tmp = s.path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) return;
    uint64_t size = n, sum = fnv1a(data.data(), n);
    f.write(kMagic, 8);
    f.write(reinterpret_cast<const char*>(&size), 8);
    f.write(reinterpret_cast<const char*>(&sum), 8);
    f.write(data.data(), static_cast<std::streamsize>(n));
    if (!f) {
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), s.path.c_str()) != 0) std::remove(tmp.c_str());
}

}  // namespace

VkPipelineCache pipeline_cache() {
  State& s = state();
  if (s.cache) return s.cache;
  Context& c = Context::require();
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(c.physical, &props);
  s.path = file_path(props);
  std::vector<char> data = s.path.empty() ? std::vector<char>() : load(s.path, props);
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = data.size();
  ci.pInitialData = data.empty() ? nullptr : data.data();
  if (vkCreatePipelineCache(c.device, &ci, nullptr, &s.cache) != VK_SUCCESS) {
    // a driver that rejects the data anyway: start empty
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    data.clear();
    vk_check(vkCreatePipelineCache(c.device, &ci, nullptr, &s.cache), "vkCreatePipelineCache");
  }
  s.loaded = data.size();
  if (log_enabled())
    log("pipeline cache " + (s.path.empty() ? std::string("in memory only") : s.path) + ": " +
        std::to_string(data.size()) + " bytes loaded");
  std::atexit(save);
  return s.cache;
}

}  // namespace kiln::gpu
