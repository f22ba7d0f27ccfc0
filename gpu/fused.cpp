// Fused-kernel codegen: one GLSL line per node, one thread per output element.
#include "fused.h"

#include <glslang/Public/ResourceLimits.h>
#include <glslang/Public/ShaderLang.h>
#include <glslang/SPIRV/GlslangToSpv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "../core/errors.h"
#include "kernels.h"
#include "pipeline_cache.h"
#include "shader_compiler.h"

namespace kiln::gpu {

namespace {

FusedStats g_stats;
std::mutex g_mutex;        // the kernel table
std::mutex g_stats_mutex;  // counters

constexpr uint32_t kPushBytes = 128;
constexpr int kMaxDims = 4;
constexpr uint32_t kPerThread = 4;  // elements per invocation
// Bump whenever generate() changes what a key's kernel does (keys live on disk).
constexpr int kGeneratorVersion = 3;

// ---------------------------------------------------------------- codegen
struct Gen {
  std::ostringstream body;
  bool ok = true;
  std::string why;
  void fail(const std::string& w) {
    if (ok) why = w;
    ok = false;
  }
};

bool is_half(Dtype d) { return d == float16 || d == bfloat16; }
const char* ctype(Dtype d) {
  if (is_floating(d)) return "float";
  switch (d.val()) {
    case Dtype::Val::int32: return "int";
    case Dtype::Val::uint32: return "uint";
    case Dtype::Val::int64: return "int64_t";
    default: return "uint";  // bool
  }
}
// Rounds a float compute value to the storage precision of a half type (as the CPU does
// after every float16/bfloat16 op).
std::string round_to(Dtype d, const std::string& e) {
  if (d == float16) return "f16_to_f32(f32_to_f16(" + e + "))";
  if (d == bfloat16) return "bf16_to_f32(f32_to_bf16(" + e + "))";
  return e;
}

std::string literal(Dtype d, const void* p) {
  char buf[64];
  if (is_floating(d)) {
    float f;
    kiln::detail::convert(p, d, &f, float32, 1);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    std::snprintf(buf, sizeof buf, "uintBitsToFloat(0x%08xu)", bits);  // NaN/Inf exact
    return buf;
  }
  switch (d.val()) {
    case Dtype::Val::int32: std::snprintf(buf, sizeof buf, "int(%d)", *static_cast<const int32_t*>(p)); break;
    case Dtype::Val::uint32: std::snprintf(buf, sizeof buf, "%uu", *static_cast<const uint32_t*>(p)); break;
    case Dtype::Val::int64: std::snprintf(buf, sizeof buf, "int64_t(%" PRId64 "l)", *static_cast<const int64_t*>(p)); break;
    default: std::snprintf(buf, sizeof buf, "%uu", *static_cast<const uint8_t*>(p) ? 1u : 0u); break;
  }
  return buf;
}

std::string unary_expr(UnaryOp op, Dtype in, const std::string& v, Gen& g) {
  if (is_floating(in)) {
    switch (op) {
      case UnaryOp::Abs: return "abs(" + v + ")";
      case UnaryOp::Negative: return "(-" + v + ")";
      case UnaryOp::Sign: return "(" + v + " > 0.0 ? 1.0 : (" + v + " < 0.0 ? -1.0 : (isnan(" + v + ") ? " + v + " : 0.0)))";
      case UnaryOp::Square: return "(" + v + " * " + v + ")";
      case UnaryOp::Sqrt: return "sqrt(" + v + ")";
      case UnaryOp::Rsqrt: return "(1.0 / sqrt(" + v + "))";
      case UnaryOp::Exp: return "k_exp(" + v + ")";
      case UnaryOp::Expm1: return "k_expm1(" + v + ")";
      case UnaryOp::Log: return "k_log(" + v + ")";
      case UnaryOp::Log1p: return "k_log1p(" + v + ")";
      case UnaryOp::Log2: return "k_log2(" + v + ")";
      case UnaryOp::Sin: return "k_sin(" + v + ")";
      case UnaryOp::Cos: return "k_cos(" + v + ")";
      case UnaryOp::Tan: return "k_tan(" + v + ")";
      case UnaryOp::Tanh: return "k_tanh(" + v + ")";
      case UnaryOp::Sinh: return "k_sinh(" + v + ")";
      case UnaryOp::Cosh: return "k_cosh(" + v + ")";
      case UnaryOp::ArcSin: return "k_asin(" + v + ")";
      case UnaryOp::ArcCos: return "k_acos(" + v + ")";
      case UnaryOp::ArcTan: return "k_atan(" + v + ")";
      case UnaryOp::Sigmoid: return "k_sigmoid(" + v + ")";
      case UnaryOp::Erf: return "k_erf(" + v + ")";
      case UnaryOp::ErfInv: return "k_erfinv(" + v + ")";
      case UnaryOp::Floor: return "floor(" + v + ")";
      case UnaryOp::Ceil: return "ceil(" + v + ")";
      case UnaryOp::Round: return "roundEven(" + v + ")";
      case UnaryOp::Identity: return v;
      case UnaryOp::IsNan: return "(isnan(" + v + ") ? 1u : 0u)";
      case UnaryOp::IsInf: return "(isinf(" + v + ") ? 1u : 0u)";
      case UnaryOp::LogicalNot: return "(" + v + " != 0.0 ? 0u : 1u)";
      default: break;
    }
  } else if (in != int64) {
    std::string z = std::string(ctype(in)) + "(0)";
    switch (op) {
      case UnaryOp::Identity: case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round:
        return v;
      case UnaryOp::Square: return "(" + v + " * " + v + ")";
      case UnaryOp::LogicalNot: return "(" + v + " != " + z + " ? 0u : 1u)";
      case UnaryOp::Negative: if (in == int32) return "(-" + v + ")"; break;
      case UnaryOp::Abs: if (in == int32) return "abs(" + v + ")"; if (in == uint32) return v; break;
      default: break;
    }
  }
  g.fail(std::string("unary ") + unary_op_name(op) + " on " + to_string(in));
  return "0";
}

std::string binary_expr(BinaryOp op, Dtype t, const std::string& a, const std::string& b, Gen& g) {
  auto cmp = [&](const char* o) { return "((" + a + " " + o + " " + b + ") ? 1u : 0u)"; };
  switch (op) {
    case BinaryOp::Equal: return cmp("==");
    case BinaryOp::NotEqual: return cmp("!=");
    case BinaryOp::Less: return cmp("<");
    case BinaryOp::LessEqual: return cmp("<=");
    case BinaryOp::Greater: return cmp(">");
    case BinaryOp::GreaterEqual: return cmp(">=");
    default: break;
  }
  if (is_floating(t)) {
    switch (op) {
      case BinaryOp::Add: return "(" + a + " + " + b + ")";
      case BinaryOp::Subtract: return "(" + a + " - " + b + ")";
      case BinaryOp::Multiply: return "(" + a + " * " + b + ")";
      case BinaryOp::Divide: return "(" + a + " / " + b + ")";
      case BinaryOp::FloorDivide: return "floor(k_div(" + a + ", " + b + "))";
      case BinaryOp::Maximum: return "f_max(" + a + ", " + b + ")";
      case BinaryOp::Minimum: return "f_min(" + a + ", " + b + ")";
      case BinaryOp::Power: return "k_pow(" + a + ", " + b + ")";
      case BinaryOp::Remainder: return "f_rem(" + a + ", " + b + ")";
      case BinaryOp::ArcTan2: return "k_atan2(" + a + ", " + b + ")";
      case BinaryOp::LogAddExp: return "f_logaddexp(" + a + ", " + b + ")";
      case BinaryOp::LogicalAnd: return "((" + a + " != 0.0 && " + b + " != 0.0) ? 1u : 0u)";
      case BinaryOp::LogicalOr: return "((" + a + " != 0.0 || " + b + " != 0.0) ? 1u : 0u)";
      default: break;
    }
  } else if (t != int64) {
    std::string z = std::string(ctype(t)) + "(0)";
    switch (op) {
      case BinaryOp::Add:
        return t == bool_ ? "((" + a + " | " + b + ") != 0u ? 1u : 0u)" : "(" + a + " + " + b + ")";
      case BinaryOp::Multiply:
        return t == bool_ ? "(" + a + " & " + b + ")" : "(" + a + " * " + b + ")";
      case BinaryOp::Subtract: if (t != bool_) return "(" + a + " - " + b + ")"; break;
      case BinaryOp::Maximum: return "max(" + a + ", " + b + ")";
      case BinaryOp::Minimum: return "min(" + a + ", " + b + ")";
      case BinaryOp::LogicalAnd: return "((" + a + " != " + z + " && " + b + " != " + z + ") ? 1u : 0u)";
      case BinaryOp::LogicalOr: return "((" + a + " != " + z + " || " + b + " != " + z + ") ? 1u : 0u)";
      default: break;
    }
  }
  g.fail(std::string("binary ") + binary_op_name(op) + " on " + to_string(t));
  return "0";
}

std::string astype_expr(Dtype from, Dtype to, const std::string& v, Gen& g) {
  if (from == to) return v;
  if (is_floating(to)) {
    if (is_floating(from)) return round_to(to, v);
    return round_to(to, "float(" + v + ")");
  }
  if (to == bool_) {
    if (is_floating(from)) return "(" + v + " != 0.0 ? 1u : 0u)";
    return "(" + v + " != " + ctype(from) + "(0) ? 1u : 0u)";
  }
  if (to == int64 || from == int64) {
    g.fail("astype with int64");
    return "0";
  }
  return std::string(ctype(to)) + "(" + v + ")";
}

const char* kHelpers = R"glsl(
float f_max(float u, float v) { return (isnan(u) || isnan(v)) ? u + v : (u > v ? u : v); }
float f_min(float u, float v) { return (isnan(u) || isnan(v)) ? u + v : (u < v ? u : v); }
float f_rem(float u, float v) {
  float r = k_fmod(u, v);
  if (r != 0.0 && ((r < 0.0) != (v < 0.0))) r += v;
  return r;
}
float f_logaddexp(float u, float v) {
  float m = u > v ? u : v;
  if (isnan(u) || isnan(v)) return u + v;
  if (isinf(m)) return m;
  return m + k_log1p(k_exp(-abs(u - v)));
}
)glsl";

// Per-input access mode: contiguous, scalar (loaded), literal (inlined), broadcast (strided).
enum class Mode : char { c = 'c', s = 's', l = 'l', b = 'b' };

struct Plan {
  std::vector<Mode> modes;
  std::vector<std::string> literals;
  Shape shape;                              // collapsed output shape (broadcast inputs only)
  std::vector<std::vector<int64_t>> bstr;   // strides of the broadcast inputs
  std::string key;
};

// The statements of one region's kernel for workgroup `gidx`: operands are named
// `<pre>in<k>`, `<pre>out<o>`, the element count `<pre>n` (pc. in a single-region kernel,
// locals in a batched one).
void emit_region(std::ostringstream& s, const Compiled& c, const Plan& p,
                 const std::vector<array>& inputs, Gen& g, const std::string& pre) {
  const auto& nodes = c.nodes();
  int nb = 0;
  for (auto m : p.modes) nb += m == Mode::b;
  // kPerThread elements per invocation, strided by the workgroup size (coalesced). All loads
  // of a thread are issued first, then the math and the stores: the loads of its elements are
  // in flight together.
  s << "  uint base = gidx * " << 256 * kPerThread << "u + gl_LocalInvocationID.x;\n";
  for (size_t k = 0; k < inputs.size(); ++k)
    if (p.modes[k] != Mode::l)
      s << "  " << ctype(inputs[k].dtype()) << " x" << k << "_[" << kPerThread << "];\n";
  s << "  for (uint k = 0u; k < " << kPerThread << "u; ++k) {\n"
    << "    uint i = base + k * 256u;\n    if (i >= " << pre << "n) break;\n";
  if (nb) {
    s << "    uint idx[" << kMaxDims << "];\n    { uint r = i;\n";
    s << "      for (int d = " << kMaxDims - 1 << "; d >= 0; --d) { idx[d] = r % pc.shape[d]; r /= pc.shape[d]; } }\n";
  }
  int b = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    std::string T = dt(inputs[k].dtype());
    if (p.modes[k] == Mode::l) continue;
    s << "    x" << k << "_[k] = ";
    switch (p.modes[k]) {
      case Mode::c: s << "ld_" << T << "(" << pre << "in" << k << ", i);\n"; break;
      case Mode::s: s << "ld_" << T << "(" << pre << "in" << k << ", 0u);\n"; break;
      case Mode::b: {
        s << "ld_" << T << "(" << pre << "in" << k << ", uint(";
        for (int d = 0; d < kMaxDims; ++d) s << (d ? " + " : "") << "int(idx[" << d << "]) * pc.st" << b << "[" << d << "]";
        s << "));\n";
        ++b;
        break;
      }
      default: break;
    }
  }
  s << "  }\n  for (uint k = 0u; k < " << kPerThread << "u; ++k) {\n"
    << "  uint i = base + k * 256u;\n  if (i >= " << pre << "n) return;\n";
  for (size_t k = 0; k < inputs.size(); ++k) {
    s << "  " << ctype(inputs[k].dtype()) << " x" << k << " = ";
    if (p.modes[k] == Mode::l) s << p.literals[k] << ";\n";
    else s << "x" << k << "_[k];\n";
  }
  auto arg = [&](int a) { return a >= 0 ? "v" + std::to_string(a) : "x" + std::to_string(-a - 1); };
  auto arg_dtype = [&](int a) { return a >= 0 ? nodes[a].dtype : inputs[-a - 1].dtype(); };
  for (size_t i = 0; i < nodes.size(); ++i) {
    const FusedNode& n = nodes[i];
    std::string e;
    Primitive* pr = n.primitive.get();
    if (auto* u = dynamic_cast<Unary*>(pr)) {
      e = unary_expr(u->op(), arg_dtype(n.args[0]), arg(n.args[0]), g);
      if (is_half(n.dtype)) e = round_to(n.dtype, e);
    } else if (auto* bi = dynamic_cast<Binary*>(pr)) {
      e = binary_expr(bi->op(), arg_dtype(n.args[0]), arg(n.args[0]), arg(n.args[1]), g);
      if (is_half(n.dtype)) e = round_to(n.dtype, e);
    } else if (dynamic_cast<Select*>(pr)) {
      e = "(" + arg(n.args[0]) + " != 0u ? " + arg(n.args[1]) + " : " + arg(n.args[2]) + ")";
    } else if (auto* at = dynamic_cast<AsType*>(pr)) {
      e = astype_expr(arg_dtype(n.args[0]), at->dtype(), arg(n.args[0]), g);
    } else if (pr->kind() == PrimitiveKind::broadcast || dynamic_cast<StopGradient*>(pr)) {
      e = arg(n.args[0]);
    } else {
      g.fail("primitive " + pr->name());
      e = "0";
    }
    s << "  " << ctype(n.dtype) << " v" << i << " = " << e << ";\n";
  }
  for (size_t o = 0; o < c.output_nodes().size(); ++o) {
    int ni = c.output_nodes()[o];
    s << "  st_" << dt(nodes[ni].dtype) << "(" << pre << "out" << o << ", i, v" << ni << ");\n";
  }
  s << "  }\n";
}

const char* kPreamble = "#version 460\n";

std::string generate(const Compiled& c, const Plan& p, const std::vector<array>& inputs,
                     Gen& g) {
  const auto& nodes = c.nodes();
  std::ostringstream s;
  s << kPreamble << detail::kCommonGlsl << "\n" << detail::kMathGlsl << "\n" << kHelpers;
  s << "layout(local_size_x = 256) in;\nlayout(push_constant) uniform PC {\n";
  for (size_t k = 0; k < inputs.size(); ++k) s << "  Buf_" << dt(inputs[k].dtype()) << " in" << k << ";\n";
  for (size_t o = 0; o < c.output_nodes().size(); ++o)
    s << "  Buf_" << dt(nodes[c.output_nodes()[o]].dtype) << " out" << o << ";\n";
  s << "  uint n;\n";
  int nb = 0;
  for (auto m : p.modes) nb += m == Mode::b;
  if (nb) {
    s << "  uint shape[" << kMaxDims << "];\n";
    for (int b = 0; b < nb; ++b) s << "  int st" << b << "[" << kMaxDims << "];\n";
  }
  s << "} pc;\n\nvoid main() {\n  uint gidx = group_index();\n";
  emit_region(s, c, p, inputs, g, "pc.");
  s << "}\n";
  return s.str();
}

}  // namespace

// ---------------------------------------------------------------- SPIR-V: compile and cache
std::vector<uint32_t> compile_glsl(const std::string& src) {
  static std::once_flag once;
  std::call_once(once, [] { glslang::InitializeProcess(); });
  glslang::TShader shader(EShLangCompute);
  const char* str = src.c_str();
  shader.setStrings(&str, 1);
  shader.setEnvInput(glslang::EShSourceGlsl, EShLangCompute, glslang::EShClientVulkan, 100);
  shader.setEnvClient(glslang::EShClientVulkan, glslang::EShTargetVulkan_1_2);
  shader.setEnvTarget(glslang::EShTargetSpv, glslang::EShTargetSpv_1_5);
  EShMessages msg = static_cast<EShMessages>(EShMsgSpvRules | EShMsgVulkanRules);
  if (!shader.parse(GetDefaultResources(), 460, false, msg))
    throw GpuError(std::string("[compile] generated kernel failed to compile: ") +
                   shader.getInfoLog());
  glslang::TProgram prog;
  prog.addShader(&shader);
  if (!prog.link(msg))
    throw GpuError(std::string("[compile] generated kernel failed to link: ") + prog.getInfoLog());
  std::vector<uint32_t> spv;
  glslang::GlslangToSpv(*prog.getIntermediate(EShLangCompute), spv);
  {
    std::lock_guard<std::mutex> lk(g_stats_mutex);
    ++g_stats.glsl_compiles;
  }
  return spv;
}

namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'S', 'P', 'V', '1'};

// File: magic, key length (u32), key, word count (u32), words, checksum (u64 fnv of words).
bool load_disk(const std::string& key, std::vector<uint32_t>& words) {
  std::string dir = cache_dir();
  if (dir.empty()) return false;
  char name[32];
  std::snprintf(name, sizeof name, "/%016" PRIx64 ".spv", fnv1a(key));
  std::ifstream f(dir + name, std::ios::binary);
  if (!f) return false;
  char magic[8];
  uint32_t klen = 0, wn = 0;
  if (!f.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) return false;
  if (!f.read(reinterpret_cast<char*>(&klen), 4) || klen != key.size()) return false;
  std::string k(klen, '\0');
  if (!f.read(k.data(), klen) || k != key) return false;
  if (!f.read(reinterpret_cast<char*>(&wn), 4) || wn == 0 || wn > (16u << 20)) return false;
  std::vector<uint32_t> w(wn);
  uint64_t sum = 0;
  if (!f.read(reinterpret_cast<char*>(w.data()), wn * 4ull) ||
      !f.read(reinterpret_cast<char*>(&sum), 8))
    return false;
  std::string bytes(reinterpret_cast<const char*>(w.data()), wn * 4ull);
  if (sum != fnv1a(bytes) || w[0] != 0x07230203u) return false;  // SPIR-V magic
  words = std::move(w);
  return true;
}

void store_disk(const std::string& key, const std::vector<uint32_t>& words) {
  std::string dir = cache_dir();
  if (dir.empty() || !mkdirs(dir)) return;  // unwritable: persistence is simply off
  char name[32];
  std::snprintf(name, sizeof name, "/%016" PRIx64 ".spv", fnv1a(key));
  std::string path = dir + name, tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) return;
    uint32_t klen = static_cast<uint32_t>(key.size()), wn = static_cast<uint32_t>(words.size());
    std::string bytes(reinterpret_cast<const char*>(words.data()), words.size() * 4);
    uint64_t sum = fnv1a(bytes);
    f.write(kMagic, 8);
    f.write(reinterpret_cast<const char*>(&klen), 4);
    f.write(key.data(), klen);
    f.write(reinterpret_cast<const char*>(&wn), 4);
    f.write(bytes.data(), bytes.size());
    f.write(reinterpret_cast<const char*>(&sum), 8);
    if (!f) {
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
}

void dump_glsl(const std::string& key, const std::string& src) {
  const char* dir = std::getenv("KILN_DUMP_KERNELS");
  if (!dir || !*dir || !mkdirs(dir)) return;
  char name[40];
  std::snprintf(name, sizeof name, "/fused_%016" PRIx64 ".comp", fnv1a(key));
  std::ofstream(std::string(dir) + name) << "// key: " << key << "\n" << src;
}

}  // namespace

VkPipelineLayout fused_layout() {
  static VkPipelineLayout layout = [] {
    VkPushConstantRange r{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
    VkPipelineLayoutCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    ci.pushConstantRangeCount = 1;
    ci.pPushConstantRanges = &r;
    VkPipelineLayout l;
    vk_check(vkCreatePipelineLayout(Context::require().device, &ci, nullptr, &l),
             "vkCreatePipelineLayout");
    return l;
  }();
  return layout;
}


VkPipeline make_pipeline(const std::vector<uint32_t>& words) {
  Context& c = Context::require();
  VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  mi.codeSize = words.size() * 4;
  mi.pCode = words.data();
  VkShaderModule module;
  vk_check(vkCreateShaderModule(c.device, &mi, nullptr, &module), "vkCreateShaderModule");
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.layout = fused_layout();
  VkPipeline p;
  VkResult r = vkCreateComputePipelines(c.device, pipeline_cache(), 1, &ci, nullptr, &p);
  vkDestroyShaderModule(c.device, module, nullptr);
  vk_check(r, "vkCreateComputePipelines");
  return p;
}

namespace {

struct Kernel {
  VkPipeline pipeline = VK_NULL_HANDLE;  // null: the generator cannot do this region
};
std::unordered_map<std::string, Kernel>& kernels() {
  static auto* k = new std::unordered_map<std::string, Kernel>();
  return *k;
}

}  // namespace

FusedStats fused_stats() {
  std::lock_guard<std::mutex> lk(g_stats_mutex);
  return g_stats;
}

namespace {

// The pipeline of a kernel key, generating (`src`) and compiling on a miss of the memory and
// disk caches. Null (cached too) when the generator does not cover the kernel.
VkPipeline kernel_for(const std::string& key, const std::function<std::string(Gen&)>& src) {
  std::lock_guard<std::mutex> lk(g_mutex);
  auto& table = kernels();
  auto it = table.find(key);
  if (it == table.end()) {
    Gen g;
    std::string text = src(g);
    Kernel kern;
    if (g.ok) {
      std::vector<uint32_t> words;
      if (load_disk(key, words)) {
        std::lock_guard<std::mutex> slk(g_stats_mutex);
        ++g_stats.disk_hits;
      } else {
        dump_glsl(key, text);
        words = compile_glsl(text);
        store_disk(key, words);
      }
      kern.pipeline = make_pipeline(words);
    } else if (log_enabled()) {
      log("fused kernel not generated, its nodes run one by one: " + g.why);
    }
    it = table.emplace(key, kern).first;
  }
  return it->second.pipeline;
}

// How a fused kernel reads an operand of a region whose output has `shape`.
Mode access_mode(const array& in, const Shape& shape, std::string& literal_out) {
  if (in.size() == 1) {
    const auto& d = in.data_shared();
    if (d && d->has_host() && !d->device && in.dtype().size() <= 8) {
      literal_out = literal(in.dtype(), d->host());
      return Mode::l;
    }
    return Mode::s;
  }
  return in.shape() == shape ? Mode::c : Mode::b;
}

// The operand modes (and inlined literal values) as part of a kernel key.
void key_modes(std::ostringstream& key, const Plan& p) {
  key << "|modes:";
  for (size_t k = 0; k < p.modes.size(); ++k)
    key << static_cast<char>(p.modes[k]) << (p.modes[k] == Mode::l ? p.literals[k] : "") << ",";
}

}  // namespace

bool eval_fused(const Compiled& c, const std::vector<array>& inputs, std::vector<array>& outputs) {
  const Shape& shape = outputs[0].shape();
  size_t n = outputs[0].size();
  if (n >= (1ull << 32)) return false;
  for (auto& o : outputs)
    if (!dtype_supported(o.dtype())) return false;
  // access plan
  Plan p;
  p.modes.resize(inputs.size());
  p.literals.resize(inputs.size());
  std::vector<std::vector<int64_t>> bstr;
  std::vector<size_t> bidx;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const array& in = inputs[k];
    if (!dtype_supported(in.dtype())) return false;
    p.modes[k] = access_mode(in, shape, p.literals[k]);
    if (p.modes[k] == Mode::b) {
      bstr.push_back(broadcast_strides(in.shape(), shape));
      bidx.push_back(k);
    }
  }
  Shape cshape;
  if (!bstr.empty()) {
    std::vector<std::vector<int64_t>*> ptrs;
    for (auto& s : bstr) ptrs.push_back(&s);
    cshape = collapse(shape, ptrs);
    if (static_cast<int>(cshape.size()) > kMaxDims) return false;
  }
  size_t push = 8 * (inputs.size() + outputs.size()) + 4 + (bstr.empty() ? 0 : 4 * kMaxDims * (1 + bstr.size()));
  if (push > kPushBytes) return false;

  std::ostringstream key;
  // the generator's version is part of the key: a changed generator never loads stale SPIR-V
  key << "fused-v" << kGeneratorVersion << "|" << c.kernel_key();
  key_modes(key, p);
  VkPipeline pipe = kernel_for(key.str(), [&](Gen& g) { return generate(c, p, inputs, g); });
  {
    std::lock_guard<std::mutex> lk(g_stats_mutex);
    if (!pipe) {
      ++g_stats.fallbacks;
      return false;
    }
    ++g_stats.dispatches;
  }

  // push constants, laid out as the generated block
  alignas(8) unsigned char pc[kPushBytes] = {};
  size_t off = 0;
  std::vector<Buf> reads, writes;
  for (auto& in : inputs) {
    Buf b = input(in);
    uint64_t a = b->address();
    std::memcpy(pc + off, &a, 8);
    off += 8;
    reads.push_back(b);
  }
  for (auto& o : outputs) {
    Buf b = output(o);
    uint64_t a = b->address();
    std::memcpy(pc + off, &a, 8);
    off += 8;
    writes.push_back(b);
  }
  uint32_t nn = static_cast<uint32_t>(n);
  std::memcpy(pc + off, &nn, 4);
  off += 4;
  if (!bstr.empty()) {
    int pad = kMaxDims - static_cast<int>(cshape.size());
    for (int d = 0; d < kMaxDims; ++d) {
      uint32_t v = d < pad ? 1u : static_cast<uint32_t>(cshape[d - pad]);
      std::memcpy(pc + off, &v, 4);
      off += 4;
    }
    for (auto& s : bstr) {
      for (int d = 0; d < kMaxDims; ++d) {
        int32_t v = d < pad ? 0 : static_cast<int32_t>(s[d - pad]);
        std::memcpy(pc + off, &v, 4);
        off += 4;
      }
    }
  }
  Encoder::get().dispatch(pipe, pc, static_cast<uint32_t>(off), grid_1d(div_up(n, 256 * kPerThread)),
                                  reads, writes);
  return true;
}

}  // namespace kiln::gpu

// ---------------------------------------------------------------- batched regions
namespace kiln::gpu {

bool eval_fused_batch(const CompiledBatch& batch, const std::vector<array>& inputs,
                      std::vector<array>& outputs) {
  const auto& parts = batch.parts();
  std::vector<Plan> plans(parts.size());
  std::vector<std::vector<array>> ins(parts.size()), outs(parts.size());
  std::ostringstream key;
  key << "batch-v" << kGeneratorVersion;
  uint64_t groups = 0;
  std::vector<uint64_t> ends;
  for (size_t i = 0; i < parts.size(); ++i) {
    ins[i] = batch.part_inputs(i, inputs);
    outs[i] = batch.part_outputs(i, outputs);
    const Shape& shape = outs[i][0].shape();
    size_t n = outs[i][0].size();
    if (n >= (1ull << 31)) return false;
    for (auto& o : outs[i])
      if (!dtype_supported(o.dtype())) return false;
    Plan& p = plans[i];
    p.modes.resize(ins[i].size());
    p.literals.resize(ins[i].size());
    for (size_t k = 0; k < ins[i].size(); ++k) {
      const array& in = ins[i][k];
      if (!dtype_supported(in.dtype())) return false;
      p.modes[k] = access_mode(in, shape, p.literals[k]);
      if (p.modes[k] == Mode::b) return false;  // broadcast operands: the parts run one by one
    }
    key << "|" << parts[i]->kernel_key();
    key_modes(key, p);
    groups += (n + 256 * kPerThread - 1) / (256 * kPerThread);
    ends.push_back(groups);
  }
  // table per part: group end, n, input addresses, output addresses (u64 each)
  std::vector<size_t> toff;
  size_t words = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    toff.push_back(words);
    words += 2 + ins[i].size() + outs[i].size();
  }
  VkPipeline pipe = kernel_for(key.str(), [&](Gen& g) {
    std::ostringstream s;
    s << kPreamble << detail::kCommonGlsl << "\n" << detail::kMathGlsl << "\n" << kHelpers;
    s << "layout(local_size_x = 256) in;\nlayout(push_constant) uniform PC {\n  Buf_u64 table;\n} pc;\n\n";
    for (size_t i = 0; i < parts.size(); ++i) {
      s << "void part" << i << "(uint gidx) {\n";
      s << "  uint n = uint(pc.table.v[" << toff[i] + 1 << "]);\n";
      size_t w = toff[i] + 2;
      for (size_t k = 0; k < ins[i].size(); ++k, ++w) {
        std::string T = dt(ins[i][k].dtype());
        if (plans[i].modes[k] != Mode::l)
          s << "  Buf_" << T << " in" << k << " = Buf_" << T << "(pc.table.v[" << w << "]);\n";
      }
      for (size_t o = 0; o < outs[i].size(); ++o, ++w) {
        std::string T = dt(outs[i][o].dtype());
        s << "  Buf_" << T << " out" << o << " = Buf_" << T << "(pc.table.v[" << w << "]);\n";
      }
      emit_region(s, *parts[i], plans[i], ins[i], g, "");
      s << "}\n\n";
    }
    s << "void main() {\n  uint g = group_index();\n  uint begin = 0u;\n";
    for (size_t i = 0; i < parts.size(); ++i) {
      s << "  { uint end = uint(pc.table.v[" << toff[i] << "]);\n"
        << "    if (g < end) { part" << i << "(g - begin); return; }\n    begin = end; }\n";
    }
    s << "}\n";
    return s.str();
  });
  if (!pipe) return false;
  {
    std::lock_guard<std::mutex> lk(g_stats_mutex);
    ++g_stats.dispatches;
  }
  std::vector<uint64_t> table(words, 0);
  std::vector<Buf> reads, writes;
  for (size_t i = 0; i < parts.size(); ++i) {
    size_t w = toff[i];
    table[w++] = ends[i];
    table[w++] = outs[i][0].size();
    for (size_t k = 0; k < ins[i].size(); ++k, ++w) {
      if (plans[i].modes[k] == Mode::l) continue;
      Buf b = input(ins[i][k]);
      table[w] = b->address();
      reads.push_back(b);
    }
    for (size_t o = 0; o < outs[i].size(); ++o, ++w) {
      Buf b = output(outs[i][o]);
      table[w] = b->address();
      writes.push_back(b);
    }
  }
  if (groups == 0) return true;
  Buf t = argument_table(table);
  reads.push_back(t);
  uint64_t addr = t->address();
  Encoder::get().dispatch(pipe, &addr, sizeof(addr), grid_1d(groups), reads, writes);
  return true;
}

}  // namespace kiln::gpu
