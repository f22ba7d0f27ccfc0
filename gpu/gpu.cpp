// The backend's entry points (core/backend.h, gpu/gpu.h), shared helpers, the CPU fallback
// and Compiled (evaluated node by node with the static kernels until fused codegen lands).
#include <cstring>
#include <functional>
#include <typeinfo>
#include <unordered_set>

#include "../core/backend.h"
#include "../core/compiled.h"
#include "gpu.h"
#include "fused.h"
#include "kernels.h"
#include "stats_impl.h"

namespace kiln {
namespace gpu {

namespace detail {
KernelStats& stats_mut() {
  static KernelStats s;
  return s;
}
KernelStats kernel_stats() { return stats_mut(); }
void reset_kernel_stats() { stats_mut() = KernelStats(); }

bool available() { return Context::get() != nullptr; }
bool device_memory_mapped() {
  Context* c = Context::get();
  return c && c->mapped;
}

void eval(array& a, std::vector<array>& outputs) {
  Context& c = Context::require();
  std::lock_guard<std::recursive_mutex> lk(c.mutex);
  a.primitive().eval_gpu(a.inputs(), outputs);
}

void finalize(bool wait) {
  Context& c = Context::require();
  std::lock_guard<std::recursive_mutex> lk(c.mutex);
  Encoder::get().flush();
  if (wait) Encoder::get().wait_all();
}

void read_back(const std::vector<array>& outputs) {
  constexpr size_t kMaxBytes = 64;  // scalars and tiny vectors: one extra dispatch in all
  Context& c = Context::require();
  std::lock_guard<std::recursive_mutex> lk(c.mutex);
  Encoder& e = Encoder::get();
  uint64_t rs = e.recording_serial();
  if (c.mapped || rs == 0) return;
  std::vector<Buf> src, dst;
  std::vector<size_t> bytes;
  for (auto& o : outputs) {
    const auto& d = o.data_shared();
    if (!d || !d->device || d->has_host() || d->nbytes() == 0 || d->nbytes() > kMaxBytes) continue;
    auto b = std::dynamic_pointer_cast<Buffer>(d->device);
    if (!b || b->serial != rs || b->mirror) continue;
    b->mirror = Allocator::get().staging(d->nbytes());
    src.push_back(b);
    dst.push_back(b->mirror);
    bytes.push_back(d->nbytes());
  }
  copy_many(src, dst, bytes);
}

void download(DeviceBuffer& db, void* dst, size_t nbytes) {
  Context& c = Context::require();
  std::lock_guard<std::recursive_mutex> lk(c.mutex);
  auto* b = dynamic_cast<Buffer*>(&db);
  if (!b) throw GpuError("[gpu] download of a buffer that is not a Vulkan buffer");
  Encoder& e = Encoder::get();
  if (e.capturing()) throw CaptureAborted("a value was read on the host");
  stats_mut().downloads++;
  if (b->mapped()) {
    e.wait(b->serial);
    std::memcpy(dst, b->mapped(), nbytes);
    return;
  }
  if (b->mirror) {  // copied to host-visible memory by the submission that produced it
    e.wait(b->serial);
    std::memcpy(dst, b->mirror->mapped(), nbytes);
    return;
  }
  // Copy through staging; the copy joins the current command buffer after its producer.
  Buf stg = Allocator::get().staging(nbytes);
  // A shared_ptr that does not own `b`: the array owning it is alive during this call.
  Buf src(std::shared_ptr<Buffer>(), b);
  e.copy(src, 0, stg, 0, nbytes);
  uint64_t s = e.recording_serial();
  e.wait(s);
  std::memcpy(dst, stg->mapped(), nbytes);
}
}  // namespace detail

bool is_available() { return detail::available(); }
std::string device_name() {
  Context* c = Context::get();
  return c ? c->name : "";
}
MemoryStats memory_stats() {
  if (!Context::get()) return {};
  return Allocator::get().stats();
}
void reset_peak_memory() {
  if (Context::get()) Allocator::get().reset_peak();
}
void synchronize() {
  Context* c = Context::get();
  if (!c) return;
  std::lock_guard<std::recursive_mutex> lk(c->mutex);
  Encoder::get().wait_all();
}

// ---------------------------------------------------------------- helpers
Buf input(const array& a) {
  const auto& d = a.data_shared();
  if (!d) throw std::logic_error("[gpu] input array is not evaluated");
  if (d->device) {
    // typeid instead of dynamic_pointer_cast: this runs for every input of every dispatch
    if (typeid(*d->device) != typeid(Buffer))
      throw GpuError("[gpu] array data lives on a foreign device buffer");
    return std::static_pointer_cast<Buffer>(d->device);
  }
  if (Encoder::get().capturing()) throw CaptureAborted("host data was uploaded");
  size_t n = d->nbytes();
  Buf b = Allocator::get().device(n);
  if (n > 0) {
    if (b->mapped()) {
      std::memcpy(b->mapped(), d->host(), n);
    } else {
      Buf stg = Allocator::get().staging(n);
      std::memcpy(stg->mapped(), d->host(), n);
      Encoder::get().copy(stg, 0, b, 0, n);
    }
  }
  detail::stats_mut().uploads++;
  d->device = b;
  return b;
}

Buf output(array& out) {
  Buf b = Allocator::get().device(out.nbytes());
  out.set_data(std::make_shared<Data>(out.nbytes(), b));
  return b;
}

void share(const array& in, array& out) { out.set_data(in.data_shared()); }

const char* dt(Dtype d) {
  switch (d.val()) {
    case Dtype::Val::float32: return "f32";
    case Dtype::Val::float16: return "f16";
    case Dtype::Val::bfloat16: return "bf16";
    case Dtype::Val::int32: return "i32";
    case Dtype::Val::uint32: return "u32";
    case Dtype::Val::int64: return "i64";
    default: return "bool";
  }
}
const char* xt(Dtype d) {
  switch (d.size()) {
    case 1: return "x8";
    case 2: return "x16";
    case 4: return "x32";
    default: return "x64";
  }
}

bool dtype_supported(Dtype d) {
  const auto& caps = Context::require().caps;
  switch (d.val()) {
    case Dtype::Val::bool_: return caps.storage8;
    case Dtype::Val::float16:
    case Dtype::Val::bfloat16: return caps.storage16;
    case Dtype::Val::int64: return caps.int64;
    default: return true;
  }
}
bool all_supported(std::initializer_list<std::reference_wrapper<const array>> arrays) {
  for (const array& a : arrays)
    if (!dtype_supported(a.dtype())) return false;
  return true;
}

void fallback(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
              const std::string& why) {
  if (Encoder::get().capturing()) throw CaptureAborted(p.name() + " runs on the CPU (" + why + ")");
  auto& s = detail::stats_mut();
  s.fallbacks++;
  s.fallback_by_primitive[p.name()]++;
  if (log_enabled()) log("CPU fallback for " + p.name() + ": " + why);
  p.eval_cpu(inputs, outputs);
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t acc = 1;
  int off = static_cast<int>(out.size()) - static_cast<int>(in.size());
  for (int i = static_cast<int>(in.size()) - 1; i >= 0; --i) {
    st[i + off] = in[i] == 1 ? 0 : acc;
    acc *= in[i];
  }
  return st;
}

Shape collapse(const Shape& shape, std::vector<std::vector<int64_t>*> strides) {
  Shape out;
  std::vector<std::vector<int64_t>> st(strides.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    bool merge = !out.empty();
    for (size_t k = 0; merge && k < strides.size(); ++k)
      merge = st[k].back() == (*strides[k])[i] * shape[i];
    if (merge) {
      out.back() *= shape[i];
      for (size_t k = 0; k < strides.size(); ++k) st[k].back() = (*strides[k])[i];
    } else {
      out.push_back(shape[i]);
      for (size_t k = 0; k < strides.size(); ++k) st[k].push_back((*strides[k])[i]);
    }
  }
  for (size_t k = 0; k < strides.size(); ++k) *strides[k] = std::move(st[k]);
  return out;
}

}  // namespace gpu

// ---------------------------------------------------------------- Compiled
// Runs the fused region's nodes one by one with the static kernels (fused codegen is a
// later step); nothing leaves the device.
void CompiledBatch::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (gpu::eval_fused_batch(*this, inputs, outputs)) return;
  for (size_t i = 0; i < parts().size(); ++i) {
    auto outs = part_outputs(i, outputs);
    parts()[i]->eval_gpu(part_inputs(i, inputs), outs);
  }
}

void Compiled::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  // one generated kernel for the whole region (gpu/fused.cpp) when the generator covers it
  if (gpu::eval_fused(*this, inputs, outputs)) return;
  std::vector<array> outs = expand(inputs);
  // topological order of the expanded graph (its leaves are `inputs`)
  std::vector<array> order;
  std::unordered_set<uintptr_t> seen;
  std::function<void(const array&)> visit = [&](const array& a) {
    if (a.is_available() || seen.count(a.id())) return;
    seen.insert(a.id());
    for (auto& in : a.inputs()) visit(in);
    order.push_back(a);
  };
  for (auto& o : outs) visit(o);
  for (auto& a : order) {
    auto os = a.outputs();
    a.primitive().eval_gpu(a.inputs(), os);
  }
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].set_data(outs[i].data_shared());
}

}  // namespace kiln
