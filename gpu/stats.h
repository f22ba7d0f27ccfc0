// Counters of the GPU backend, for tests and KILN_LOG=gpu (internal; zero without Vulkan).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace kiln::gpu::detail {

struct KernelStats {
  uint64_t dispatches = 0;  // compute dispatches recorded
  uint64_t submits = 0;     // command buffers submitted
  uint64_t barriers = 0;    // memory barriers between dependent dispatches
  uint64_t uploads = 0;     // host → device copies of array data
  uint64_t downloads = 0;   // device → host copies
  uint64_t fallbacks = 0;   // primitives evaluated on the CPU instead
  uint64_t recordings = 0;  // compiled steps recorded for replay (gpu/replay.cpp)
  uint64_t replays = 0;     // executions of a recorded step (the first one included)
  uint64_t replay_aborts = 0;  // compiled steps found not replayable while recording
  std::map<std::string, uint64_t> fallback_by_primitive;  // primitive name → count
};
KernelStats kernel_stats();
void reset_kernel_stats();
// True when arrays live in host-visible device memory (uploads/downloads are memcpy);
// false with staging copies (discrete GPUs, or KILN_VULKAN_STAGING=1) or without a GPU.
bool device_memory_mapped();

}  // namespace kiln::gpu::detail
