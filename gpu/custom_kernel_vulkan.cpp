// Custom kernels on Vulkan: the GLSL around the user's body, the pipeline cache (keyed by the
// whole generated source), launch checks against the device's limits, and the dispatch.
#include <cctype>
#include <cinttypes>
#include <cstring>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <unordered_map>

#include "../core/errors.h"
#include "custom_kernel.h"
#include "kernels.h"
#include "shader_compiler.h"

namespace kiln {
namespace gpu {

namespace detail {
struct KernelPipeline {
  VkPipeline pipeline = VK_NULL_HANDLE;
  std::vector<bool> meta;  // per buffer (inputs, then outputs): shape/strides are passed
  uint32_t push_size = 0;
};
}  // namespace detail

namespace {

constexpr uint32_t kPushBytes = 128;
constexpr uint32_t kMetaOffset = 16;
constexpr uint32_t kBufOffset = 24;
constexpr size_t kMaxBuffers = (kPushBytes - kBufOffset) / 8;  // 13

std::string prefix(const std::string& name) { return "[kernel '" + name + "'] "; }

const char* glsl_type(Dtype d) {
  switch (d.val()) {
    case Dtype::Val::int32:
      return "int";
    case Dtype::Val::uint32:
      return "uint";
    case Dtype::Val::int64:
      return "int64_t";
    case Dtype::Val::bool_:
      return "uint";
    default:
      return "float";  // float32, and float16/bfloat16 computed in float32
  }
}

// True when `text` contains `token` as a whole identifier.
bool uses(const std::string& text, const std::string& token) {
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t pos = text.find(token); pos != std::string::npos; pos = text.find(token, pos + 1)) {
    bool left = pos == 0 || !ident(text[pos - 1]);
    size_t end = pos + token.size();
    bool right = end >= text.size() || !ident(text[end]);
    if (left && right) return true;
  }
  return false;
}

// The body with every bare input/output name (an identifier not after '.', outside comments
// and number literals) replaced by its buffer expression. Done here rather than with #define
// so that names such as `x` or `out` neither clash with swizzles (`.x`) nor with keywords.
std::string substitute(const std::string& src,
                       const std::unordered_map<std::string, std::string>& repl) {
  auto ident_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::string out;
  out.reserve(src.size() + src.size() / 4);
  char prev = 0;  // last significant character
  size_t i = 0, n = src.size();
  while (i < n) {
    char c = src[i];
    if (c == '/' && i + 1 < n && (src[i + 1] == '/' || src[i + 1] == '*')) {
      size_t end = src[i + 1] == '/' ? src.find('\n', i) : src.find("*/", i + 2);
      end = end == std::string::npos ? n : (src[i + 1] == '/' ? end : end + 2);
      out.append(src, i, end - i);
      i = end;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i + 1 < n && std::isdigit(static_cast<unsigned char>(src[i + 1])))) {
      size_t j = i + 1;
      while (j < n && (ident_char(src[j]) || src[j] == '.')) ++j;
      out.append(src, i, j - i);
      prev = src[j - 1];
      i = j;
      continue;
    }
    if (ident_start(c)) {
      size_t j = i + 1;
      while (j < n && ident_char(src[j])) ++j;
      std::string id = src.substr(i, j - i);
      auto it = prev == '.' ? repl.end() : repl.find(id);
      out += it == repl.end() ? id : it->second;
      prev = src[j - 1];
      i = j;
      continue;
    }
    out += c;
    if (!std::isspace(static_cast<unsigned char>(c))) prev = c;
    ++i;
  }
  return out;
}

struct Generated {
  std::string source;
  std::vector<bool> meta;
  uint32_t push_size = 0;
};

Generated generate(const detail::KernelSpec& spec, const detail::KernelLaunch& launch,
                   const std::vector<array>& inputs) {
  const size_t n_in = inputs.size(), n_out = launch.output_dtypes.size();
  std::vector<std::string> names = spec.input_names;
  names.insert(names.end(), spec.output_names.begin(), spec.output_names.end());
  std::vector<Dtype> dtypes;
  std::vector<int> ndims;
  for (auto& in : inputs) {
    dtypes.push_back(in.dtype());
    ndims.push_back(in.ndim());
  }
  for (size_t o = 0; o < n_out; ++o) {
    dtypes.push_back(launch.output_dtypes[o]);
    ndims.push_back(static_cast<int>(launch.output_shapes[o].size()));
  }
  const std::string text = spec.header + "\n" + spec.source;
  Generated g;
  g.meta.resize(names.size());
  bool any_meta = false;
  for (size_t k = 0; k < names.size(); ++k) {
    g.meta[k] = uses(text, names[k] + "_shape") || uses(text, names[k] + "_strides");
    any_meta = any_meta || g.meta[k];
  }
  bool atomic64 = false;
  if (spec.options.atomic_outputs)
    for (size_t o = 0; o < n_out; ++o) atomic64 = atomic64 || launch.output_dtypes[o] == int64;

  std::ostringstream s;
  s << "#version 460\n"
    << "#extension GL_KHR_shader_subgroup_basic : enable\n"
    << "#extension GL_KHR_shader_subgroup_arithmetic : enable\n"
    << "#extension GL_KHR_shader_subgroup_ballot : enable\n"
    << "#extension GL_KHR_shader_subgroup_shuffle : enable\n";
  if (atomic64) s << "#extension GL_EXT_shader_atomic_int64 : require\n";
  s << "// ---- kiln prelude (gpu/shaders/common/common.glsl)\n" << detail::kCommonGlsl << "\n";
  s << "// ---- kernel '" << spec.name << "'\n";
  for (auto& [name, v] : launch.template_args) {
    if (auto* d = std::get_if<Dtype>(&v)) {
      s << "#define " << name << " " << glsl_type(*d) << "\n";
      s << "#define " << name << "_dtype " << dt(*d) << "\n";
    } else if (auto* i = std::get_if<int>(&v)) {
      s << "#define " << name << " " << *i << "\n";
    } else {
      s << "#define " << name << " " << (std::get<bool>(v) ? "true" : "false") << "\n";
    }
  }
  const Dim3& tg = launch.threadgroup;
  s << "layout(local_size_x = " << tg.x << ", local_size_y = " << tg.y
    << ", local_size_z = " << tg.z << ") in;\n";
  if (any_meta) {
    s << "layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer "
         "KilnMeta {\n";
    for (size_t k = 0; k < names.size(); ++k)
      if (g.meta[k]) {
        int n = std::max(ndims[k], 1);
        s << "  int s" << k << "[" << n << "];\n  int t" << k << "[" << n << "];\n";
      }
    s << "};\n";
  }
  s << "layout(push_constant) uniform KilnPush {\n  layout(offset = 0) uvec3 grid;\n";
  if (any_meta) s << "  layout(offset = " << kMetaOffset << ") KilnMeta meta;\n";
  for (size_t k = 0; k < names.size(); ++k)
    s << "  layout(offset = " << kBufOffset + 8 * k << ") Buf_" << dt(dtypes[k]) << " b" << k
      << ";\n";
  s << "} kiln_pc;\n";
  g.push_size = static_cast<uint32_t>(kBufOffset + 8 * names.size());
  std::unordered_map<std::string, std::string> repl;
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& n = names[k];
    std::string b = "kiln_pc.b" + std::to_string(k), T = dt(dtypes[k]);
    // 0-d inputs are values (like MLX's `const constant T&`), everything else an array
    repl[n] = k < n_in && ndims[k] == 0 ? "ld_" + T + "(" + b + ", 0u)" : b + ".v";
    s << "// " << n << ": " << to_string(dtypes[k]) << (k < n_in ? " input" : " output")
      << ", ndim " << ndims[k] << ", in the body: " << repl[n] << "\n";
    s << "#define " << n << "_buf " << b << "\n";
    s << "#define " << n << "_ld(i) ld_" << T << "(" << b << ", uint(i))\n";
    if (k >= n_in) s << "#define " << n << "_st(i, x) st_" << T << "(" << b << ", uint(i), x)\n";
    s << "#define " << n << "_ndim " << ndims[k] << "\n";
    if (g.meta[k]) {
      s << "#define " << n << "_shape kiln_pc.meta.s" << k << "\n";
      s << "#define " << n << "_strides kiln_pc.meta.t" << k << "\n";
    }
  }
  s << "#define thread_position_in_grid gl_GlobalInvocationID\n"
       "#define threads_per_grid kiln_pc.grid\n"
       "#define threadgroup_position_in_grid gl_WorkGroupID\n"
       "#define threadgroups_per_grid gl_NumWorkGroups\n"
       "#define thread_position_in_threadgroup gl_LocalInvocationID\n"
       "#define threads_per_threadgroup gl_WorkGroupSize\n"
       "#define thread_index_in_threadgroup gl_LocalInvocationIndex\n"
       "#define thread_index_in_simdgroup gl_SubgroupInvocationID\n"
       "#define threads_per_simdgroup gl_SubgroupSize\n"
       "#define simdgroup_index_in_threadgroup gl_SubgroupID\n";
  // User text: source-string 1 is the header, 2 the body, so glslang names their lines.
  s << "#line 1 1\n" << spec.header << "\n#line 1 3\n";
  s << "void main() {\n"
       "  if (gl_GlobalInvocationID.x >= kiln_pc.grid.x || gl_GlobalInvocationID.y >= "
       "kiln_pc.grid.y ||\n      gl_GlobalInvocationID.z >= kiln_pc.grid.z)\n    return;\n";
  s << "#line 1 2\n" << substitute(spec.source, repl) << "\n#line 100000 3\n}\n";
  g.source = s.str();
  return g;
}

// Rewrites glslang's "ERROR: <string>:<line>:" prefixes into the user's terms and quotes the
// offending line of the header or body under each message.
std::string translate_log(const detail::KernelSpec& spec, const std::string& log, int& body_line,
                          int& header_line) {
  static const std::regex re(R"(^(ERROR|WARNING): (\d+):(\d+):(.*)$)");
  auto line_of = [](const std::string& text, int line) -> std::string {
    std::istringstream is(text);
    std::string l;
    for (int i = 1; std::getline(is, l); ++i)
      if (i == line) return l;
    return "";
  };
  body_line = header_line = -1;
  bool first = true;
  std::ostringstream out;
  std::istringstream is(log);
  std::string l;
  while (std::getline(is, l)) {
    std::smatch m;
    if (!std::regex_match(l, m, re)) {
      if (!l.empty()) out << l << "\n";
      continue;
    }
    int str = std::stoi(m[2]), line = std::stoi(m[3]);
    std::string where = str == 2   ? "source line " + std::to_string(line)
                        : str == 1 ? "header line " + std::to_string(line)
                                   : "generated code";
    if (first && m[1] == "ERROR") {
      if (str == 2) body_line = line;
      if (str == 1) header_line = line;
      first = false;
    }
    out << m[1] << ": " << where << ":" << m[4] << "\n";
    if (str == 1 || str == 2)
      out << "    | " << line_of(str == 2 ? spec.source : spec.header, line) << "\n";
  }
  return out.str();
}

struct Limits {
  uint32_t size[3] = {0, 0, 0};
};
const Limits& limits() {
  static Limits l = [] {
    Limits r;
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(Context::require().physical, &p);
    for (int i = 0; i < 3; ++i) r.size[i] = p.limits.maxComputeWorkGroupSize[i];
    return r;
  }();
  return l;
}

void check_launch(const detail::KernelSpec& spec, const detail::KernelLaunch& launch,
                  const std::vector<array>& inputs) {
  const std::string p = prefix(spec.name);
  Context& c = Context::require();
  const auto& caps = c.caps;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!dtype_supported(inputs[i].dtype()))
      throw std::invalid_argument(p + "input '" + spec.input_names[i] + "' has dtype " +
                                  to_string(inputs[i].dtype()) + ", which " + c.name +
                                  " cannot store in shaders");
    if (inputs[i].size() > UINT32_MAX)
      throw std::invalid_argument(p + "input '" + spec.input_names[i] + "' has " +
                                  std::to_string(inputs[i].size()) +
                                  " elements; kernels index with 32-bit uint");
  }
  for (size_t o = 0; o < launch.output_dtypes.size(); ++o) {
    Dtype d = launch.output_dtypes[o];
    const std::string& n = spec.output_names[o];
    if (!dtype_supported(d))
      throw std::invalid_argument(p + "output '" + n + "' has dtype " + to_string(d) + ", which " +
                                  c.name + " cannot store in shaders");
    if (spec.options.atomic_outputs &&
        !(d == int32 || d == uint32 || (d == int64 && caps.int64_atomics)))
      throw std::invalid_argument(p + "atomic output '" + n + "' has dtype " + to_string(d) +
                                  "; atomic outputs must be int32 or uint32" +
                                  (caps.int64_atomics ? " or int64" : "") + " on " + c.name);
    if (kiln::detail::shape_size(launch.output_shapes[o]) > UINT32_MAX)
      throw std::invalid_argument(p + "output '" + n + "' is too large for 32-bit indexing");
  }
  size_t nbuf = inputs.size() + launch.output_dtypes.size();
  if (nbuf > kMaxBuffers)
    throw std::invalid_argument(p + "has " + std::to_string(nbuf) +
                                " inputs and outputs; at most " + std::to_string(kMaxBuffers) +
                                " fit in the push constants");
  const Dim3 &g = launch.grid, &t = launch.threadgroup;
  const int tv[3] = {t.x, t.y, t.z}, gv[3] = {g.x, g.y, g.z};
  const char* ax = "xyz";
  uint64_t inv = static_cast<uint64_t>(t.x) * t.y * t.z;
  for (int i = 0; i < 3; ++i)
    if (static_cast<uint32_t>(tv[i]) > limits().size[i])
      throw std::invalid_argument(p + "threadgroup." + ax[i] + " = " + std::to_string(tv[i]) +
                                  " exceeds the device's maximum workgroup size " +
                                  std::to_string(limits().size[i]) + " on " + c.name);
  if (inv > caps.max_workgroup_invocations)
    throw std::invalid_argument(p + "threadgroup of " + std::to_string(inv) +
                                " threads exceeds the device's maximum of " +
                                std::to_string(caps.max_workgroup_invocations) + " on " + c.name);
  for (int i = 0; i < 3; ++i) {
    uint64_t groups = (static_cast<uint64_t>(gv[i]) + tv[i] - 1) / tv[i];
    if (groups > caps.max_workgroup_count[i])
      throw std::invalid_argument(p + "grid." + ax[i] + " = " + std::to_string(gv[i]) + " needs " +
                                  std::to_string(groups) +
                                  " workgroups, more than the device's maximum " +
                                  std::to_string(caps.max_workgroup_count[i]) + " on " + c.name);
  }
}

// Bytes of `shared` (Workgroup) variables a SPIR-V module declares (without padding), so a
// kernel asking for more than the device has is refused instead of reaching the driver.
uint64_t shared_bytes(const std::vector<uint32_t>& w) {
  std::unordered_map<uint32_t, uint64_t> size, constant;
  std::unordered_map<uint32_t, uint32_t> pointee;  // Workgroup pointer type → pointee type
  uint64_t total = 0;
  for (size_t i = 5; i < w.size();) {
    uint32_t n = w[i] >> 16, op = w[i] & 0xffffu;
    if (n == 0 || i + n > w.size()) break;
    const uint32_t* a = &w[i + 1];
    switch (op) {
      case 20:
        size[a[0]] = 4;
        break;  // OpTypeBool
      case 21:
      case 22:
        size[a[0]] = a[1] / 8;
        break;  // OpTypeInt/Float
      case 23:
      case 24:
        size[a[0]] = size[a[1]] * a[2];
        break;  // Vector/Matrix
      case 28:
        size[a[0]] = size[a[1]] * constant[a[2]];
        break;    // OpTypeArray
      case 30: {  // OpTypeStruct
        uint64_t s = 0;
        for (uint32_t m = 1; m + 1 < n; ++m) s += size[a[m]];
        size[a[0]] = s;
        break;
      }
      case 43:
        constant[a[1]] = a[2];
        break;  // OpConstant
      case 32:
        if (a[1] == 4) pointee[a[0]] = a[2];
        break;  // OpTypePointer
      case 59:  // OpVariable
        if (a[2] == 4) total += size[pointee[a[0]]];
        break;
      default:
        break;
    }
    i += n;
  }
  return total;
}

std::mutex g_mutex;
int64_t g_compiles = 0;
std::unordered_map<std::string, std::shared_ptr<const detail::KernelPipeline>>& table() {
  static auto* t =
      new std::unordered_map<std::string, std::shared_ptr<const detail::KernelPipeline>>();
  return *t;
}

}  // namespace

namespace detail {

std::string kernel_source(const KernelSpec& spec, const KernelLaunch& launch,
                          const std::vector<array>& inputs) {
  check_launch(spec, launch, inputs);
  return generate(spec, launch, inputs).source;
}

std::shared_ptr<const KernelPipeline> prepare_kernel(const KernelSpec& spec,
                                                     const KernelLaunch& launch,
                                                     const std::vector<array>& inputs,
                                                     bool verbose) {
  check_launch(spec, launch, inputs);
  Generated g = generate(spec, launch, inputs);
  if (verbose) std::cout << "// ---- kiln kernel '" << spec.name << "'\n" << g.source << std::flush;
  std::lock_guard<std::mutex> lk(g_mutex);
  auto& t = table();
  auto it = t.find(g.source);
  if (it != t.end()) return it->second;
  std::vector<uint32_t> words;
  try {
    words = compile_glsl(g.source);
  } catch (const GpuError& e) {
    std::string msg = e.what();
    for (const char* pre : {"[compile] generated kernel failed to compile: ",
                            "[compile] generated kernel failed to link: "})
      if (msg.rfind(pre, 0) == 0) msg = msg.substr(std::strlen(pre));
    int body = -1, header = -1;
    std::string log = translate_log(spec, msg, body, header);
    throw KernelCompileError(prefix(spec.name) + "GLSL compile error:\n" + log, body, header);
  }
  uint64_t shared = shared_bytes(words);
  uint32_t max_shared = Context::require().caps.max_shared_memory;
  if (shared > max_shared)
    throw std::invalid_argument(prefix(spec.name) + "declares " + std::to_string(shared) +
                                " bytes of shared memory; " + Context::require().name + " allows " +
                                std::to_string(max_shared) + " per workgroup");
  auto kp = std::make_shared<KernelPipeline>();
  kp->pipeline = make_pipeline(words);
  kp->meta = g.meta;
  kp->push_size = g.push_size;
  ++g_compiles;
  t.emplace(g.source, kp);
  return kp;
}

int64_t kernel_compiles() {
  std::lock_guard<std::mutex> lk(g_mutex);
  return g_compiles;
}

}  // namespace detail

namespace {

// Fills `out` with `value` converted to its dtype.
void fill_init(const Buf& b, const array& out, float value) {
  if (out.nbytes() == 0) return;
  Dtype d = out.dtype();
  unsigned char bytes[8] = {};
  kiln::detail::convert(&value, float32, bytes, d, 1);
  uint32_t pattern = 0;
  switch (d.size()) {
    case 1:
      pattern = bytes[0] * 0x01010101u;
      break;
    case 2: {
      uint16_t h;
      std::memcpy(&h, bytes, 2);
      pattern = h | (static_cast<uint32_t>(h) << 16);
      break;
    }
    case 4:
      std::memcpy(&pattern, bytes, 4);
      break;
    default: {
      uint32_t lo, hi;
      std::memcpy(&lo, bytes, 4);
      std::memcpy(&hi, bytes + 4, 4);
      if (lo != hi) {
        // an 8-byte value whose halves differ: upload it and copy
        std::vector<int64_t> host(out.size());
        int64_t v;
        std::memcpy(&v, bytes, 8);
        for (auto& x : host) x = v;
        Encoder::get().copy(constant_buffer(host.data(), out.nbytes()), 0, b, 0, out.nbytes());
        return;
      }
      pattern = lo;
    }
  }
  // allocations are at least 256 bytes in 4-byte multiples (size_class), so rounding is safe
  Encoder::get().fill(b, 0, (out.nbytes() + 3) / 4 * 4, pattern);
}

}  // namespace

}  // namespace gpu

void CustomKernel::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (!pipeline_) pipeline_ = gpu::detail::prepare_kernel(*spec_, launch_, inputs, false);
  const auto& kp = *pipeline_;
  alignas(8) unsigned char pc[gpu::kPushBytes] = {};
  const gpu::Dim3& g = launch_.grid;
  uint32_t grid[3] = {static_cast<uint32_t>(g.x), static_cast<uint32_t>(g.y),
                      static_cast<uint32_t>(g.z)};
  std::memcpy(pc, grid, 12);
  std::vector<gpu::Buf> reads, writes;
  size_t k = 0;
  for (auto& in : inputs) {
    gpu::Buf b = gpu::input(in);
    uint64_t a = b->address();
    std::memcpy(pc + gpu::kBufOffset + 8 * k++, &a, 8);
    reads.push_back(b);
  }
  for (auto& o : outputs) {
    gpu::Buf b = gpu::output(o);
    if (launch_.init_value) gpu::fill_init(b, o, *launch_.init_value);
    uint64_t a = b->address();
    std::memcpy(pc + gpu::kBufOffset + 8 * k++, &a, 8);
    writes.push_back(b);
  }
  // shapes and row-major strides of the arrays whose body names them
  std::vector<int32_t> meta;
  for (size_t i = 0; i < kp.meta.size(); ++i) {
    if (!kp.meta[i]) continue;
    const Shape& sh = i < inputs.size() ? inputs[i].shape() : outputs[i - inputs.size()].shape();
    if (sh.empty()) {
      meta.push_back(1);
      meta.push_back(1);
      continue;
    }
    for (int d : sh) meta.push_back(d);
    int64_t st = 1;
    std::vector<int32_t> strides(sh.size());
    for (size_t d = sh.size(); d-- > 0;) {
      strides[d] = static_cast<int32_t>(st);
      st *= sh[d];
    }
    meta.insert(meta.end(), strides.begin(), strides.end());
  }
  if (!meta.empty()) {
    gpu::Buf mb = gpu::constant_buffer(meta.data(), meta.size() * sizeof(int32_t));
    uint64_t a = mb->address();
    std::memcpy(pc + gpu::kMetaOffset, &a, 8);
    reads.push_back(mb);
  }
  const gpu::Dim3& t = launch_.threadgroup;
  gpu::Grid groups{gpu::div_up(grid[0], t.x), gpu::div_up(grid[1], t.y), gpu::div_up(grid[2], t.z)};
  gpu::Encoder::get().dispatch(kp.pipeline, pc, kp.push_size, groups, reads, writes);
}

}  // namespace kiln
