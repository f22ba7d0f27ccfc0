// Custom GPU kernels written in GLSL and called as ops: the Vulkan form of MLX's
// mx.fast.metal_kernel. The user writes the body of main(); kiln generates the rest (buffer
// variables for the named inputs/outputs, shape/stride accessors, template defines, thread
// position names) and caches one pipeline per generated source. Guide: docs/custom_kernels.md.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "../core/array.h"
#include "../core/errors.h"
#include "../core/primitives.h"

namespace kiln::gpu {

// A compile error in a kernel's GLSL. what() carries glslang's messages with their lines
// translated to the user's text ("source line 3", "header line 2"); line() is the first
// error's line in the source body (-1 when the first error is elsewhere).
class KernelCompileError : public GpuError {
 public:
  KernelCompileError(const std::string& msg, int line, int header_line)
      : GpuError(msg), line_(line), header_line_(header_line) {}
  int line() const { return line_; }
  int header_line() const { return header_line_; }

 private:
  int line_;
  int header_line_;
};

// A template parameter: a dtype (`#define T float` + `#define T_dtype f32`), an int or a bool.
using TemplateArg = std::variant<Dtype, int, bool>;

// Three extents (x, y, z); unspecified ones are 1.
struct Dim3 {
  int x = 1, y = 1, z = 1;
  bool operator==(const Dim3& o) const { return x == o.x && y == o.y && z == o.z; }
};

// (inputs) -> outputs, written with kiln ops: what the kernel computes, run on the CPU.
using KernelFallbackFn = std::function<std::vector<array>(const std::vector<array>& inputs)>;
// (primals, output cotangents, outputs) -> one cotangent per input (an empty array = zero).
// Same signature as kiln::CustomVjpFn.
using KernelVjpFn = std::function<std::vector<array>(const std::vector<array>& primals,
                                                     const std::vector<array>& cotangents,
                                                     const std::vector<array>& outputs)>;
// (primals, one tangent per input, zeros where not differentiated) -> one tangent per output.
using KernelJvpFn = std::function<std::vector<array>(const std::vector<array>& primals,
                                                     const std::vector<array>& tangents)>;

struct KernelOptions {
  // GLSL placed before main(): helper functions and `shared` arrays (GLSL allows `shared`
  // only at global scope).
  std::string header;
  // Accepted for MLX parity; kiln arrays are always row-contiguous.
  bool ensure_row_contiguous = true;
  // Outputs are targets of atomic*() (int32/uint32; int64 where the device has int64 atomics).
  bool atomic_outputs = false;
  // Runs the kernel's computation on the CPU device (and without Vulkan); optional.
  KernelFallbackFn cpu_fallback;
  // Derivative rules; without them vjp/jvp through the kernel throw TransformError.
  KernelVjpFn vjp;
  KernelJvpFn jvp;
};

// The arguments of one call (MLX's call keywords; `template` is a C++ keyword).
struct KernelCall {
  std::vector<array> inputs;
  std::vector<std::pair<std::string, TemplateArg>> template_args;
  Dim3 grid;         // total threads per axis, as Metal's dispatchThreads
  Dim3 threadgroup;  // threads per workgroup (the local size)
  std::vector<Shape> output_shapes;
  std::vector<Dtype> output_dtypes;
  std::optional<float> init_value;  // outputs are filled with it before the kernel runs
  bool verbose = false;             // print the generated GLSL
  StreamOrDevice stream = {};
};

namespace detail {
struct KernelSpec;
struct KernelPipeline;  // the compiled pipeline (Vulkan builds only)
}  // namespace detail

// The callable returned by kernel(); cheap to copy.
class KernelFn {
 public:
  explicit KernelFn(std::shared_ptr<const detail::KernelSpec> spec) : spec_(std::move(spec)) {}
  // Builds the lazy outputs (one per output name). On the GPU the generated GLSL is compiled
  // now (cached), so GLSL errors are thrown here as KernelCompileError.
  std::vector<array> operator()(const KernelCall& call) const;
  const std::string& name() const;
  // The GLSL that `call` would compile (what verbose prints); needs the GPU.
  std::string source(const KernelCall& call) const;

 private:
  std::shared_ptr<const detail::KernelSpec> spec_;
};

// A custom GLSL compute kernel whose main() body is `source`. Inputs are read and outputs
// written through the given names (see docs/custom_kernels.md for everything generated).
KernelFn kernel(std::string name, std::vector<std::string> input_names,
                std::vector<std::string> output_names, std::string source,
                KernelOptions options = {});

namespace detail {
struct KernelSpec {
  std::string name;
  std::vector<std::string> input_names, output_names;
  std::string source, header;
  KernelOptions options;
};

// The metadata of one call, the same on every device.
struct KernelLaunch {
  std::vector<std::pair<std::string, TemplateArg>> template_args;
  Dim3 grid, threadgroup;
  std::vector<Shape> output_shapes;
  std::vector<Dtype> output_dtypes;
  std::optional<float> init_value;
  bool operator==(const KernelLaunch& o) const;
};

// Backend hooks (gpu/custom_kernel_vulkan.cpp, or custom_kernel_nogpu.cpp without Vulkan).
// Validates the launch against the device's limits and compiles (or finds) the pipeline.
std::shared_ptr<const KernelPipeline> prepare_kernel(const KernelSpec& spec,
                                                     const KernelLaunch& launch,
                                                     const std::vector<array>& inputs,
                                                     bool verbose);
std::string kernel_source(const KernelSpec& spec, const KernelLaunch& launch,
                          const std::vector<array>& inputs);
// Pipelines compiled by custom kernels in this process (cache misses).
int64_t kernel_compiles();
}  // namespace detail

}  // namespace kiln::gpu

namespace kiln {

// One call of a custom kernel. Opaque to compile's fusion (a boundary between fused regions);
// equivalent to another call of the same kernel with the same launch (so CSE merges them).
class CustomKernel : public Primitive {
 public:
  CustomKernel(Stream s, std::shared_ptr<const gpu::detail::KernelSpec> spec,
               gpu::detail::KernelLaunch launch,
               std::shared_ptr<const gpu::detail::KernelPipeline> pipeline)
      : Primitive(s),
        spec_(std::move(spec)),
        launch_(std::move(launch)),
        pipeline_(std::move(pipeline)) {}
  const gpu::detail::KernelSpec& spec() const { return *spec_; }
  const gpu::detail::KernelLaunch& launch() const { return launch_; }
  const std::string& kernel_name() const { return spec_->name; }

  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  std::string name() const override { return "CustomKernel"; }
  bool is_equivalent(const Primitive& other) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  void print(std::ostream& os) const override { os << "CustomKernel(" << spec_->name << ")"; }

 private:
  std::shared_ptr<const gpu::detail::KernelSpec> spec_;
  gpu::detail::KernelLaunch launch_;
  std::shared_ptr<const gpu::detail::KernelPipeline> pipeline_;  // null on the CPU
};

}  // namespace kiln
