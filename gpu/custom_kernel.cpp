// Custom kernels, the part every build has: argument checks, the CustomKernel node, its CPU
// fallback and derivative rules. GLSL generation and dispatch live in custom_kernel_vulkan.cpp
// (custom_kernel_nogpu.cpp without Vulkan).
#include "custom_kernel.h"

#include <cctype>
#include <cstring>
#include <set>
#include <sstream>

#include "../core/ops.h"

namespace kiln {

namespace gpu {

namespace {

std::string prefix(const std::string& name) { return "[kernel '" + name + "'] "; }

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// GLSL keywords, reserved words and type names that a generated #define must not shadow,
// plus the names kiln generates itself.
const std::set<std::string>& reserved_names() {
  static const std::set<std::string> r = {"attribute",
                                          "const",
                                          "uniform",
                                          "varying",
                                          "buffer",
                                          "shared",
                                          "coherent",
                                          "volatile",
                                          "restrict",
                                          "readonly",
                                          "writeonly",
                                          "atomic_uint",
                                          "layout",
                                          "centroid",
                                          "flat",
                                          "smooth",
                                          "noperspective",
                                          "patch",
                                          "sample",
                                          "break",
                                          "continue",
                                          "do",
                                          "for",
                                          "while",
                                          "switch",
                                          "case",
                                          "default",
                                          "if",
                                          "else",
                                          "subroutine",
                                          "float",
                                          "double",
                                          "int",
                                          "void",
                                          "bool",
                                          "true",
                                          "false",
                                          "invariant",
                                          "precise",
                                          "discard",
                                          "return",
                                          "uint",
                                          "lowp",
                                          "mediump",
                                          "highp",
                                          "precision",
                                          "struct",
                                          "common",
                                          "partition",
                                          "active",
                                          "asm",
                                          "class",
                                          "union",
                                          "enum",
                                          "typedef",
                                          "template",
                                          "this",
                                          "resource",
                                          "goto",
                                          "inline",
                                          "noinline",
                                          "public",
                                          "static",
                                          "extern",
                                          "external",
                                          "interface",
                                          "long",
                                          "short",
                                          "half",
                                          "fixed",
                                          "unsigned",
                                          "superp",
                                          "filter",
                                          "sizeof",
                                          "cast",
                                          "namespace",
                                          "using",
                                          "main",
                                          "demote",
                                          "int8_t",
                                          "uint8_t",
                                          "int16_t",
                                          "uint16_t",
                                          "int32_t",
                                          "uint32_t",
                                          "int64_t",
                                          "uint64_t",
                                          "float16_t",
                                          "float32_t",
                                          "float64_t",
                                          "barrier",
                                          "max",
                                          "min",
                                          "abs",
                                          "exp",
                                          "log",
                                          "sqrt",
                                          "pow",
                                          "length",
                                          "thread_position_in_grid",
                                          "threadgroup_position_in_grid",
                                          "thread_position_in_threadgroup",
                                          "threads_per_threadgroup",
                                          "threadgroups_per_grid",
                                          "threads_per_grid",
                                          "thread_index_in_threadgroup",
                                          "thread_index_in_simdgroup",
                                          "threads_per_simdgroup",
                                          "simdgroup_index_in_threadgroup"};
  return r;
}

bool reserved(const std::string& s) {
  if (reserved_names().count(s)) return true;
  if (s.rfind("gl_", 0) == 0 || s.rfind("kiln_", 0) == 0 || s.find("__") != std::string::npos)
    return true;
  // vector/matrix/sampler/image type names
  for (const char* p : {"vec", "ivec", "uvec", "bvec", "dvec", "mat", "dmat", "i64vec", "u64vec",
                        "f16vec", "sampler", "image", "texture", "Buf_", "ld_", "st_", "CT_"})
    if (s.rfind(p, 0) == 0) return true;
  return false;
}

// Swizzle-like words (x, xy, rgba, st, ...): a #define with such a name would rewrite `.x`.
bool swizzle_like(const std::string& s) {
  if (s.size() > 4) return false;
  for (const char* set : {"xyzw", "rgba", "stpq"}) {
    bool all = true;
    for (char c : s) all = all && std::strchr(set, c) != nullptr;
    if (all) return true;
  }
  return false;
}

void check_name(const std::string& kname, const std::string& what, const std::string& n,
                std::set<std::string>& seen) {
  if (!is_identifier(n))
    throw std::invalid_argument(prefix(kname) + what + " '" + n +
                                "' is not a GLSL identifier (letters, digits, '_')");
  if (reserved(n))
    throw std::invalid_argument(prefix(kname) + what + " '" + n +
                                "' is a GLSL keyword or a name kiln generates; choose another");
  if (!seen.insert(n).second)
    throw std::invalid_argument(prefix(kname) + "the name '" + n + "' is used twice");
}

std::string dims_str(const Dim3& d) {
  std::ostringstream os;
  os << "(" << d.x << ", " << d.y << ", " << d.z << ")";
  return os.str();
}

// Checks that do not depend on the device.
void check_call(const detail::KernelSpec& spec, const KernelCall& call) {
  const std::string p = prefix(spec.name);
  if (call.inputs.size() != spec.input_names.size())
    throw std::invalid_argument(p + "expects " + std::to_string(spec.input_names.size()) +
                                " inputs, got " + std::to_string(call.inputs.size()));
  for (size_t i = 0; i < call.inputs.size(); ++i)
    if (!call.inputs[i].valid())
      throw std::invalid_argument(p + "input '" + spec.input_names[i] +
                                  "' is an empty array handle");
  if (call.output_shapes.size() != spec.output_names.size())
    throw std::invalid_argument(p + "has " + std::to_string(spec.output_names.size()) +
                                " outputs but output_shapes has " +
                                std::to_string(call.output_shapes.size()) + " entries");
  if (call.output_dtypes.size() != spec.output_names.size())
    throw std::invalid_argument(p + "has " + std::to_string(spec.output_names.size()) +
                                " outputs but output_dtypes has " +
                                std::to_string(call.output_dtypes.size()) + " entries");
  for (size_t o = 0; o < call.output_shapes.size(); ++o)
    for (int d : call.output_shapes[o])
      if (d < 0)
        throw std::invalid_argument(p + "output '" + spec.output_names[o] +
                                    "' has a negative extent in shape " +
                                    kiln::detail::shape_str(call.output_shapes[o]));
  const Dim3 &g = call.grid, &t = call.threadgroup;
  if (g.x < 0 || g.y < 0 || g.z < 0)
    throw std::invalid_argument(p + "grid " + dims_str(g) + " has a negative extent");
  if (t.x < 1 || t.y < 1 || t.z < 1)
    throw std::invalid_argument(p + "threadgroup " + dims_str(t) +
                                " must be at least 1 on every axis");
  std::set<std::string> seen(spec.input_names.begin(), spec.input_names.end());
  seen.insert(spec.output_names.begin(), spec.output_names.end());
  for (auto& [n, v] : call.template_args) {
    check_name(spec.name, "template parameter", n, seen);
    if (swizzle_like(n))
      throw std::invalid_argument(p + "template parameter '" + n +
                                  "' would also replace the swizzle ." + n +
                                  " (template parameters are #defines); choose another name");
    if (n.size() > 6 && n.compare(n.size() - 6, 6, "_dtype") == 0)
      throw std::invalid_argument(p + "template parameter '" + n +
                                  "' ends in _dtype, which kiln generates");
  }
}

}  // namespace

KernelFn kernel(std::string name, std::vector<std::string> input_names,
                std::vector<std::string> output_names, std::string source, KernelOptions options) {
  if (name.empty()) throw std::invalid_argument("[kernel] the name is empty");
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      throw std::invalid_argument("[kernel] the name contains a control character");
  const std::string p = prefix(name);
  if (output_names.empty()) throw std::invalid_argument(p + "needs at least one output name");
  if (source.find_first_not_of(" \t\r\n") == std::string::npos)
    throw std::invalid_argument(p + "the source is empty");
  std::set<std::string> seen;
  for (auto& n : input_names) check_name(name, "input name", n, seen);
  for (auto& n : output_names) check_name(name, "output name", n, seen);
  auto spec = std::make_shared<detail::KernelSpec>();
  spec->name = std::move(name);
  spec->input_names = std::move(input_names);
  spec->output_names = std::move(output_names);
  spec->source = std::move(source);
  spec->header = options.header;
  spec->options = std::move(options);
  return KernelFn(std::move(spec));
}

const std::string& KernelFn::name() const { return spec_->name; }

namespace {
detail::KernelLaunch launch_of(const KernelCall& call) {
  detail::KernelLaunch l;
  l.template_args = call.template_args;
  l.grid = call.grid;
  l.threadgroup = call.threadgroup;
  l.output_shapes = call.output_shapes;
  l.output_dtypes = call.output_dtypes;
  l.init_value = call.init_value;
  return l;
}
}  // namespace

std::vector<array> KernelFn::operator()(const KernelCall& call) const {
  check_call(*spec_, call);
  Stream s = to_stream(call.stream);
  detail::KernelLaunch launch = launch_of(call);
  std::shared_ptr<const detail::KernelPipeline> pipeline;
  if (s.device == Device::gpu) {
    pipeline = detail::prepare_kernel(*spec_, launch, call.inputs, call.verbose);
  } else if (!spec_->options.cpu_fallback) {
    throw std::invalid_argument(prefix(spec_->name) +
                                "runs on the GPU only: it was called on the CPU device and has "
                                "no cpu_fallback (KernelOptions::cpu_fallback)");
  }
  auto prim = std::make_shared<CustomKernel>(s, spec_, launch, std::move(pipeline));
  return array::make_arrays(call.output_shapes, call.output_dtypes, prim, call.inputs);
}

std::string KernelFn::source(const KernelCall& call) const {
  check_call(*spec_, call);
  return detail::kernel_source(*spec_, launch_of(call), call.inputs);
}

namespace detail {
bool KernelLaunch::operator==(const KernelLaunch& o) const {
  if (template_args.size() != o.template_args.size()) return false;
  for (size_t i = 0; i < template_args.size(); ++i)
    if (template_args[i].first != o.template_args[i].first ||
        template_args[i].second != o.template_args[i].second)
      return false;
  bool same_init = init_value.has_value() == o.init_value.has_value() &&
                   (!init_value || std::memcmp(&*init_value, &*o.init_value, 4) == 0);
  return grid == o.grid && threadgroup == o.threadgroup && output_shapes == o.output_shapes &&
         output_dtypes == o.output_dtypes && same_init;
}
}  // namespace detail

}  // namespace gpu

// ---------------------------------------------------------------- CustomKernel
namespace {

// Sets the default device for the lifetime of the guard (the CPU fallback's ops must build
// CPU nodes whatever the user's default is).
class DefaultDeviceGuard {
 public:
  explicit DefaultDeviceGuard(Device d) : old_(default_device()) { set_default_device(d); }
  ~DefaultDeviceGuard() {
    try {
      set_default_device(old_);
    } catch (...) {
    }
  }
  DefaultDeviceGuard(const DefaultDeviceGuard&) = delete;
  DefaultDeviceGuard& operator=(const DefaultDeviceGuard&) = delete;

 private:
  Device old_;
};

}  // namespace

void CustomKernel::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const std::string p = "[kernel '" + spec_->name + "'] ";
  if (!spec_->options.cpu_fallback)
    throw GpuError(p + "has no cpu_fallback, so it cannot run on the CPU");
  // Fresh leaves over the inputs' data: the fallback's graph must not attach to the caller's.
  std::vector<array> leaves;
  for (auto& in : inputs) leaves.emplace_back(in.shape(), in.dtype(), in.data_shared());
  std::vector<array> res;
  {
    DefaultDeviceGuard guard(Device::cpu);
    res = spec_->options.cpu_fallback(leaves);
    if (res.size() != outputs.size())
      throw std::invalid_argument(p + "cpu_fallback returned " + std::to_string(res.size()) +
                                  " arrays for " + std::to_string(outputs.size()) + " outputs");
    for (size_t i = 0; i < res.size(); ++i) {
      if (!res[i].valid())
        throw std::invalid_argument(p + "cpu_fallback returned an empty array for output '" +
                                    spec_->output_names[i] + "'");
      if (res[i].shape() != outputs[i].shape() || res[i].dtype() != outputs[i].dtype())
        throw std::invalid_argument(p + "cpu_fallback returned " + to_string(res[i].dtype()) + " " +
                                    detail::shape_str(res[i].shape()) + " for output '" +
                                    spec_->output_names[i] + "', declared " +
                                    to_string(outputs[i].dtype()) + " " +
                                    detail::shape_str(outputs[i].shape()));
    }
    kiln::eval(res);
  }
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].set_data(res[i].data_shared());
}

std::vector<array> CustomKernel::vjp(const std::vector<array>& primals,
                                     const std::vector<array>& cotangents,
                                     const std::vector<int>& argnums,
                                     const std::vector<array>& outputs) {
  const std::string p = "[kernel '" + spec_->name + "'] ";
  if (!spec_->options.vjp)
    throw TransformError("[vjp] the custom kernel '" + spec_->name +
                         "' has no derivative rule: give KernelOptions::vjp to differentiate it");
  std::vector<array> all = spec_->options.vjp(primals, cotangents, outputs);
  if (all.size() != primals.size())
    throw std::invalid_argument(p + "the vjp function returned " + std::to_string(all.size()) +
                                " cotangents for " + std::to_string(primals.size()) + " inputs");
  std::vector<array> res;
  for (int a : argnums) {
    if (!all[a].valid()) {
      res.push_back(zeros_like(primals[a]));
      continue;
    }
    array c = all[a];
    if (c.shape() != primals[a].shape())
      throw std::invalid_argument(p + "the vjp function returned a cotangent of shape " +
                                  detail::shape_str(c.shape()) + " for input '" +
                                  spec_->input_names[a] + "' of shape " +
                                  detail::shape_str(primals[a].shape()));
    if (c.dtype() != primals[a].dtype()) c = astype(c, primals[a].dtype());
    res.push_back(c);
  }
  return res;
}

std::vector<array> CustomKernel::jvp(const std::vector<array>& primals,
                                     const std::vector<array>& tangents,
                                     const std::vector<int>& argnums) {
  const std::string p = "[kernel '" + spec_->name + "'] ";
  if (!spec_->options.jvp)
    throw TransformError("[jvp] the custom kernel '" + spec_->name +
                         "' has no forward-mode rule: give KernelOptions::jvp to differentiate it");
  std::vector<array> full;
  for (auto& pr : primals) full.push_back(zeros_like(pr));
  for (size_t k = 0; k < argnums.size(); ++k) full[argnums[k]] = tangents[k];
  std::vector<array> out = spec_->options.jvp(primals, full);
  const auto& shapes = launch_.output_shapes;
  if (out.size() != shapes.size())
    throw std::invalid_argument(p + "the jvp function returned " + std::to_string(out.size()) +
                                " tangents for " + std::to_string(shapes.size()) + " outputs");
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].valid()) {
      out[i] = zeros(shapes[i], launch_.output_dtypes[i]);
      continue;
    }
    if (out[i].shape() != shapes[i])
      throw std::invalid_argument(
          p + "the jvp function returned a tangent of shape " + detail::shape_str(out[i].shape()) +
          " for output '" + spec_->output_names[i] + "' of shape " + detail::shape_str(shapes[i]));
    if (out[i].dtype() != launch_.output_dtypes[i])
      out[i] = astype(out[i], launch_.output_dtypes[i]);
  }
  return out;
}

bool CustomKernel::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const CustomKernel*>(&other);
  if (!o || o->stream() != stream()) return false;
  // The same kernel object, or one with the same text and no user functions (which cannot be
  // compared).
  bool same_spec = spec_ == o->spec_;
  if (!same_spec) {
    const auto &a = *spec_, &b = *o->spec_;
    auto no_fns = [](const gpu::KernelOptions& x) { return !x.cpu_fallback && !x.vjp && !x.jvp; };
    same_spec = a.name == b.name && a.input_names == b.input_names &&
                a.output_names == b.output_names && a.source == b.source && a.header == b.header &&
                a.options.atomic_outputs == b.options.atomic_outputs && no_fns(a.options) &&
                no_fns(b.options);
  }
  return same_spec && launch_ == o->launch_;
}

std::vector<Shape> CustomKernel::output_shapes(const std::vector<array>&) {
  throw std::invalid_argument(
      "[kernel '" + spec_->name +
      "'] output shapes and the grid are fixed by the call, so a custom kernel cannot be used in a "
      "shapeless compiled function when its input shapes change (compile with shapeless = false)");
}

}  // namespace kiln
