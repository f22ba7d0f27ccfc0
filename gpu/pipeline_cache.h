// The on-disk cache directory ($KILN_CACHE_DIR, default ~/.cache/kiln/<version>) and the
// process-wide VkPipelineCache persisted in it, so a second process neither compiles GLSL
// (gpu/fused.cpp keeps SPIR-V there) nor makes the driver recompile pipelines.
#pragma once
#include <vulkan/vulkan.h>

#include <string>

namespace kiln::gpu {

// The cache directory, or "" when persistence is off (KILN_CACHE_DIR set empty, no HOME).
std::string cache_dir();
// mkdir -p; false when the path cannot be created (persistence is then simply off).
bool mkdirs(const std::string& path);
// Every pipeline kiln creates goes through this cache. It is loaded from
// <cache_dir>/pipelines-<vendor>-<device>.bin when that file is intact and was written by the
// same driver (its header's vendor, device and pipelineCacheUUID match), else starts empty,
// and is written back (atomically) at exit when it grew.
VkPipelineCache pipeline_cache();

}  // namespace kiln::gpu
