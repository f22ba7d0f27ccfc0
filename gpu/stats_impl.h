// Mutable access to the GPU counters (gpu/ only).
#pragma once
#include "stats.h"

namespace kiln::gpu::detail {
KernelStats& stats_mut();
}  // namespace kiln::gpu::detail
