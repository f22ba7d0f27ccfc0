// The seam between core and the backends: functions core calls, defined by gpu/ (or
// gpu/no_gpu.cpp when KILN_VULKAN=OFF). Core never includes a backend header.
#pragma once
#include <cstddef>
#include <string>

#include "array.h"

namespace kiln::gpu::detail {
// True when a Vulkan device could be opened (never throws).
bool available();
// Records the evaluation of `a`'s primitive on the GPU (may fall back to the CPU).
void eval(array& a);
// Submits what was recorded since the last finalize; waits for completion when `wait`.
void finalize(bool wait);
// Copies a device buffer to host memory, waiting for the work that produces it.
void download(DeviceBuffer& buf, void* dst, size_t nbytes);
}  // namespace kiln::gpu::detail
