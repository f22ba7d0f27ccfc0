// Custom kernels when kiln is built without Vulkan (KILN_VULKAN=OFF): kernels still build
// nodes and run on the CPU through their cpu_fallback; nothing can run on the GPU.
#include "../core/errors.h"
#include "custom_kernel.h"

namespace kiln {
namespace gpu::detail {

struct KernelPipeline {};

namespace {
[[noreturn]] void no_gpu(const std::string& name) {
  throw GpuError("[kernel '" + name +
                 "'] the GPU is not available: kiln was built with KILN_VULKAN=OFF (give the "
                 "kernel a cpu_fallback and call it on the CPU device)");
}
}  // namespace

std::shared_ptr<const KernelPipeline> prepare_kernel(const KernelSpec& spec, const KernelLaunch&,
                                                     const std::vector<array>&, bool) {
  no_gpu(spec.name);
}
std::string kernel_source(const KernelSpec& spec, const KernelLaunch&, const std::vector<array>&) {
  no_gpu(spec.name);
}
int64_t kernel_compiles() { return 0; }

}  // namespace gpu::detail

void CustomKernel::eval_gpu(const std::vector<array>&, std::vector<array>&) {
  gpu::detail::no_gpu(spec_->name);
}

}  // namespace kiln
