// KILN_GPU_PROFILE=1: GPU time per kernel, measured with timestamp queries written after every
// command of the primary command buffers (each submit is then waited for, so profiled runs
// are slower and not overlapped). At exit a table of kernels by total device time is printed
// to stderr. Commands inside recorded steps (gpu/replay.cpp) are timed as one "replayed step"
// entry; run with KILN_GPU_REPLAY=0 to see their kernels.
#pragma once
#include <vulkan/vulkan.h>

#include <string>

namespace kiln::gpu::profile {

bool enabled();
// Labels the commands that use this pipeline (the shader name and its specialization).
void name_pipeline(VkPipeline p, const std::string& label);
// Encoder hooks (primary command buffers only).
void begin(VkCommandBuffer cb);
void after(VkCommandBuffer cb, VkPipeline p, const char* label);
// Called once the command buffer's fence signalled: reads and accumulates its timestamps.
void collect();

}  // namespace kiln::gpu::profile
