// Run-time GLSL → SPIR-V (glslang, linked statically) and pipelines from SPIR-V, shared by
// the fused-kernel generator and user kernels (kiln::gpu::kernel).
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::gpu {

// Compiles a complete GLSL 460 compute shader; throws GpuError with glslang's log (which
// names the line) on errors. Counted in fused_stats().glsl_compiles.
std::vector<uint32_t> compile_glsl(const std::string& source);
// A compute pipeline whose layout has one 128-byte push-constant range (no descriptor sets:
// buffers are passed by device address).
VkPipeline make_pipeline(const std::vector<uint32_t>& spirv);

namespace detail {
// The shared GLSL prelude: buffer-reference types and loads/stores per dtype
// (shaders/common/common.glsl) and the math functions (shaders/common/math.glsl).
extern const char* const kCommonGlsl;
extern const char* const kMathGlsl;
}  // namespace detail

}  // namespace kiln::gpu
