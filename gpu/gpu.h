// Public GPU (Vulkan) queries.
#pragma once
#include <cstddef>
#include <string>

namespace kiln::gpu {

// True when a Vulkan device could be opened.
bool is_available();
// The name of the Vulkan device in use ("" when none).
std::string device_name();

struct MemoryStats {
  size_t active = 0;  // bytes held by live arrays
  size_t peak = 0;    // highest `active` since start / last reset
  size_t cached = 0;  // bytes kept for reuse
};
MemoryStats memory_stats();
void reset_peak_memory();
// Waits for all submitted GPU work.
void synchronize();

}  // namespace kiln::gpu
