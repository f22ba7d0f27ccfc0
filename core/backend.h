// The seam between core and the backends: functions core calls, defined by gpu/ (or
// gpu/no_gpu.cpp when KILN_VULKAN=OFF). Core never includes a backend header.
#pragma once
#include <cstddef>
#include <string>

#include "array.h"

namespace kiln::gpu::detail {
// True when a Vulkan device could be opened (never throws).
bool available();
// Records the evaluation of `a`'s primitive into `outputs` (a.outputs()) on the GPU (may fall
// back to the CPU).
void eval(array& a, std::vector<array>& outputs);
// Submits what was recorded since the last finalize; waits for completion when `wait`.
void finalize(bool wait);
// Before a waiting finalize: tiny outputs of the eval (a loss, a step count) produced by the
// work being recorded are also copied to host-visible memory in the same submission, so
// reading them afterwards costs no second submit and wait.
void read_back(const std::vector<array>& outputs);
// Copies a device buffer to host memory, waiting for the work that produces it.
void download(DeviceBuffer& buf, void* dst, size_t nbytes);
}  // namespace kiln::gpu::detail
