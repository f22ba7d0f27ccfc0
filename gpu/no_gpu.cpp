// Built when KILN_VULKAN=OFF: the GPU is never available and every eval_gpu throws.
#include "../core/backend.h"
#include "../core/errors.h"
#include "../core/compiled.h"
#include "../core/compiled_call.h"
#include "../core/primitives.h"
#include "fused.h"
#include "gpu.h"
#include "qr.h"
#include "stats.h"

namespace kiln {

namespace gpu {
FusedStats fused_stats() { return {}; }
bool eval_fused(const Compiled&, const std::vector<array>&, std::vector<array>&) { return false; }
bool eval_fused_batch(const CompiledBatch&, const std::vector<array>&, std::vector<array>&) {
  return false;
}
void eval_qr(Primitive& qr, const std::vector<array>& inputs, std::vector<array>& outputs) {
  qr.eval_cpu(inputs, outputs);
}
bool is_available() { return false; }
std::string device_name() { return ""; }
MemoryStats memory_stats() { return {}; }
void reset_peak_memory() {}
void synchronize() {}
namespace detail {
bool available() { return false; }
void eval(array& a, std::vector<array>& outputs) { a.primitive().eval_gpu(a.inputs(), outputs); }
void finalize(bool) {}
void read_back(const std::vector<array>&) {}
KernelStats kernel_stats() { return {}; }
void reset_kernel_stats() {}
bool device_memory_mapped() { return false; }
void download(DeviceBuffer&, void*, size_t) {
  throw GpuError("[gpu] kiln was built without Vulkan (KILN_VULKAN=OFF)");
}
}  // namespace detail
}  // namespace gpu

#define KILN_NO_GPU(P)                                                               \
  void P::eval_gpu(const std::vector<array>&, std::vector<array>&) {                 \
    throw GpuError("[" #P "] the GPU is not available: kiln was built with KILN_VULKAN=OFF"); \
  }
KILN_NO_GPU(Unary)
KILN_NO_GPU(Binary)
KILN_NO_GPU(Select)
KILN_NO_GPU(AsType)
KILN_NO_GPU(StopGradient)
KILN_NO_GPU(Arange)
KILN_NO_GPU(Broadcast)
KILN_NO_GPU(Reshape)
KILN_NO_GPU(Flatten)
KILN_NO_GPU(Transpose)
KILN_NO_GPU(Slice)
KILN_NO_GPU(SliceUpdate)
KILN_NO_GPU(Concatenate)
KILN_NO_GPU(Gather)
KILN_NO_GPU(ScatterAdd)
KILN_NO_GPU(GatherAxis)
KILN_NO_GPU(ScatterAxis)
KILN_NO_GPU(Reduce)
KILN_NO_GPU(ArgReduce)
KILN_NO_GPU(Scan)
KILN_NO_GPU(Sort)
KILN_NO_GPU(Matmul)
KILN_NO_GPU(RandomBits)
KILN_NO_GPU(Compiled)
KILN_NO_GPU(CompiledCall)
KILN_NO_GPU(CompiledBatch)

}  // namespace kiln
