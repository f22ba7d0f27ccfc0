#include "profile.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <vector>

#include "context.h"

namespace kiln::gpu::profile {
namespace {

constexpr uint32_t kQueries = 8192;

struct Entry {
  uint64_t count = 0;
  double ns = 0;
};

struct State {
  VkQueryPool pool = VK_NULL_HANDLE;
  double period_ns = 1.0;
  uint64_t mask = ~0ull;
  std::unordered_map<VkPipeline, std::string> names;
  std::vector<std::string> pending;  // label of each timestamp after the first
  uint32_t used = 0;
  std::map<std::string, Entry> totals;
};

State& state() {
  static State* s = new State();
  return *s;
}

void report() {
  auto& s = state();
  std::vector<std::pair<std::string, Entry>> rows(s.totals.begin(), s.totals.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  double total = 0;
  for (auto& r : rows) total += r.second.ns;
  std::fprintf(stderr, "[kiln gpu profile] %.3f ms of device time in %zu kinds of command\n",
               total * 1e-6, rows.size());
  std::fprintf(stderr, "%10s %8s %10s %6s  %s\n", "total_ms", "count", "mean_us", "%", "command");
  for (size_t i = 0; i < rows.size() && i < 40; ++i) {
    auto& [name, e] = rows[i];
    std::fprintf(stderr, "%10.3f %8llu %10.2f %6.1f  %s\n", e.ns * 1e-6,
                 static_cast<unsigned long long>(e.count), e.ns * 1e-3 / e.count,
                 100.0 * e.ns / std::max(total, 1.0), name.c_str());
  }
}

}  // namespace

bool enabled() {
  static const bool on = [] {
    const char* e = std::getenv("KILN_GPU_PROFILE");
    return e && *e && std::string(e) != "0";
  }();
  return on;
}

void name_pipeline(VkPipeline p, const std::string& label) {
  if (enabled()) state().names[p] = label;
}

void begin(VkCommandBuffer cb) {
  auto& s = state();
  Context& c = Context::require();
  if (!s.pool) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = kQueries;
    vk_check(vkCreateQueryPool(c.device, &qi, nullptr, &s.pool), "vkCreateQueryPool");
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(c.physical, &props);
    s.period_ns = props.limits.timestampPeriod;
    std::atexit(report);
  }
  vkCmdResetQueryPool(cb, s.pool, 0, kQueries);
  vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, s.pool, 0);
  s.used = 1;
  s.pending.clear();
}

void after(VkCommandBuffer cb, VkPipeline p, const char* label) {
  auto& s = state();
  if (!s.pool || s.used >= kQueries) return;
  std::string name = label ? label : "";
  if (p) {
    auto it = s.names.find(p);
    name = it == s.names.end() ? "generated kernel" : it->second;
  }
  vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, s.pool, s.used++);
  s.pending.push_back(std::move(name));
}

void collect() {
  auto& s = state();
  if (!s.pool || s.used < 2) return;
  std::vector<uint64_t> t(s.used);
  VkResult r = vkGetQueryPoolResults(Context::require().device, s.pool, 0, s.used,
                                     t.size() * sizeof(uint64_t), t.data(), sizeof(uint64_t),
                                     VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  if (r == VK_SUCCESS) {
    for (size_t i = 1; i < s.used; ++i) {
      auto& e = s.totals[s.pending[i - 1]];
      e.count++;
      e.ns += static_cast<double>(t[i] - t[i - 1]) * s.period_ns;
    }
  }
  s.used = 0;
  s.pending.clear();
}

}  // namespace kiln::gpu::profile
