#include "encoder.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "context.h"
#include "pipeline_cache.h"
#include "profile.h"
#include "shaders.h"
#include "stats_impl.h"

namespace kiln::gpu {

namespace {
// KILN_GPU_EARLY_SUBMIT: dispatches between early-submit checks (default 8; 0 turns them off).
uint32_t early_submit_every() {
  static const uint32_t every = [] {
    const char* e = std::getenv("KILN_GPU_EARLY_SUBMIT");
    if (!e || !*e) return 8u;
    char* end = nullptr;
    long v = std::strtol(e, &end, 10);
    if (*end != '\0' || v < 0 || v > 4096)
      throw std::invalid_argument(
          std::string("[gpu] KILN_GPU_EARLY_SUBMIT must be an integer in [0, 4096], got '") + e +
          "'");
    return static_cast<uint32_t>(v);
  }();
  return every;
}
constexpr uint32_t kMaxCommands = 4096;  // per command buffer before an intermediate submit
constexpr uint32_t kPushBytes = 128;

VkPipelineLayout pipeline_layout() {
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
}  // namespace

Grid grid_1d(uint64_t groups) {
  Context& c = Context::require();
  uint64_t maxx = std::min<uint32_t>(c.caps.max_workgroup_count[0], 65535u);
  if (groups == 0) return {0, 1, 1};
  if (groups <= maxx) return {static_cast<uint32_t>(groups), 1, 1};
  uint64_t y = (groups + maxx - 1) / maxx;
  if (y > c.caps.max_workgroup_count[1])
    throw GpuError("[gpu] dispatch of " + std::to_string(groups) + " workgroups is too large");
  // Shaders compute the linear group as y * num_x + x and skip groups past the end.
  return {static_cast<uint32_t>(maxx), static_cast<uint32_t>(y), 1};
}

Encoder& Encoder::get() {
  static Encoder* e = new Encoder();  // never destroyed: see Context
  return *e;
}

Encoder::Encoder() {
  Context& c = Context::require();
  VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  ci.queueFamilyIndex = c.queue_family;
  vk_check(vkCreateCommandPool(c.device, &ci, nullptr, &pool_), "vkCreateCommandPool");
  Allocator::get().on_pressure = [this] {
    if (capturing_) return;  // cannot submit while capturing: the request may fail instead
    log("memory pressure: waiting for submitted work");
    flush();
    wait_all();
  };
}

VkCommandBuffer Encoder::allocate_cb(VkCommandBufferLevel level) {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = level;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  vk_check(vkAllocateCommandBuffers(Context::require().device, &ai, &cb),
           "vkAllocateCommandBuffers");
  return cb;
}

void Encoder::begin() {
  if (recording_ || capturing_) return;
  uint32_t every = early_submit_every();  // throws on a bad KILN_GPU_EARLY_SUBMIT: first
  if (free_cbs_.empty()) free_cbs_.push_back(allocate_cb(VK_COMMAND_BUFFER_LEVEL_PRIMARY));
  cb_ = free_cbs_.back();
  free_cbs_.pop_back();
  if (keep_.capacity() == 0 && !free_keeps_.empty()) {
    keep_ = std::move(free_keeps_.back());
    free_keeps_.pop_back();
  }
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vk_check(vkBeginCommandBuffer(cb_, &bi), "vkBeginCommandBuffer");
  if (profile::enabled()) profile::begin(cb_);
  recording_ = true;
  serial_ += 1;
  commands_ = 0;
  dispatched_ = 0;
  early_ = every;
  bound_ = VK_NULL_HANDLE;
  written_.clear();
  read_.clear();
  // Work submitted earlier may still write buffers this command buffer reads.
  if (!inflight_.empty()) barrier();
}

void Encoder::barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  VkPipelineStageFlags st = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vkCmdPipelineBarrier(cb_, st, st, 0, 1, &mb, 0, nullptr, 0, nullptr);
  written_.clear();
  read_.clear();
  if (capturing_) capture_barriers_++;
  else detail::stats_mut().barriers++;
}

void Encoder::barrier_for(std::initializer_list<const Buf*> reads,
                          std::initializer_list<const Buf*> writes) {
  bool need = false;
  for (auto* r : reads) need = need || written_.contains(r->get());
  for (auto* w : writes) need = need || written_.contains(w->get()) || read_.contains(w->get());
  if (need) barrier();
  for (auto* r : reads) read_.insert(r->get());
  for (auto* w : writes) {
    written_.insert(w->get());
    (*w)->serial = serial_;
  }
}

void Encoder::dispatch(VkPipeline pipeline, const void* push, uint32_t push_size, Grid grid,
                       const Buf* reads, size_t n_reads, const Buf* writes, size_t n_writes) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
  begin();
  for (size_t i = 0; i < n_reads; ++i) keep_.push_back(reads[i]);
  for (size_t i = 0; i < n_writes; ++i) keep_.push_back(writes[i]);
  bool need = false;
  for (size_t i = 0; i < n_reads; ++i) need = need || written_.contains(reads[i].get());
  for (size_t i = 0; i < n_writes; ++i)
    need = need || written_.contains(writes[i].get()) || read_.contains(writes[i].get());
  if (need) barrier();
  for (size_t i = 0; i < n_reads; ++i) read_.insert(reads[i].get());
  for (size_t i = 0; i < n_writes; ++i) {
    written_.insert(writes[i].get());
    writes[i]->serial = serial_;
  }
  // a chain of one kernel (e.g. 100 dependent multiplies) binds its pipeline once
  if (pipeline != bound_) {
    vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    bound_ = pipeline;
  }
  if (push_size) vkCmdPushConstants(cb_, pipeline_layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
  vkCmdDispatch(cb_, grid.x, grid.y, grid.z);
  if (profile::enabled() && !capturing_) profile::after(cb_, pipeline, nullptr);
  if (capturing_) capture_dispatches_++;
  else detail::stats_mut().dispatches++;
  if (capturing_) {
    ++commands_;
    return;
  }
  ++dispatched_;
  if (++commands_ >= kMaxCommands) {
    flush();
  } else if (dispatched_ >= early_ && early_ > 0) {
    retire();
    if (inflight_.size() <= 1) {  // the device is about to run dry: give it what is recorded
      flush();
    } else {  // two submissions still queued: look again N dispatches later
      early_ = dispatched_ + early_submit_every();
    }
  }
}

void Encoder::copy(const Buf& src, uint64_t src_off, const Buf& dst, uint64_t dst_off,
                   uint64_t bytes) {
  if (bytes == 0) return;
  begin();
  keep_.push_back(src);
  keep_.push_back(dst);
  barrier_for({&src}, {&dst});
  VkBufferCopy region{src->offset() + src_off, dst->offset() + dst_off, bytes};
  vkCmdCopyBuffer(cb_, src->vk(), dst->vk(), 1, &region);
  if (profile::enabled() && !capturing_) profile::after(cb_, VK_NULL_HANDLE, "copy");
  if (++commands_ >= kMaxCommands && !capturing_) flush();
}

void Encoder::fill(const Buf& dst, uint64_t off, uint64_t bytes, uint32_t value) {
  if (bytes == 0) return;
  begin();
  keep_.push_back(dst);
  barrier_for({}, {&dst});
  vkCmdFillBuffer(cb_, dst->vk(), dst->offset() + off, bytes, value);
  if (profile::enabled() && !capturing_) profile::after(cb_, VK_NULL_HANDLE, "fill");
  if (++commands_ >= kMaxCommands && !capturing_) flush();
}

void Encoder::keep(std::shared_ptr<void> p) {
  begin();
  keep_.push_back(std::move(p));
}

void Encoder::flush() {
  if (capturing_) throw CaptureAborted("a submit was needed");
  if (!recording_) return;
  Context& c = Context::require();
  // Make everything written visible to the host (downloads read mapped memory).
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  vk_check(vkEndCommandBuffer(cb_), "vkEndCommandBuffer");
  VkFence fence;
  if (free_fences_.empty()) {
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vk_check(vkCreateFence(c.device, &fi, nullptr, &fence), "vkCreateFence");
  } else {
    fence = free_fences_.back();
    free_fences_.pop_back();
  }
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb_;
  VkResult r = vkQueueSubmit(c.queue, 1, &si, fence);
  recording_ = false;
  inflight_.push_back({serial_, fence, cb_, std::move(keep_)});
  keep_.clear();
  cb_ = VK_NULL_HANDLE;
  detail::stats_mut().submits++;
  vk_check(r, "vkQueueSubmit");
  if (profile::enabled()) {  // the query pool is reused by the next command buffer
    vk_check(vkWaitForFences(c.device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    profile::collect();
  }
  retire();
}

void Encoder::retire() {
  Context& c = Context::require();
  while (!inflight_.empty()) {
    auto& f = inflight_.front();
    if (vkGetFenceStatus(c.device, f.fence) != VK_SUCCESS) break;
    completed_ = f.serial;
    vkResetFences(c.device, 1, &f.fence);
    free_fences_.push_back(f.fence);
    vkResetCommandBuffer(f.cb, 0);
    free_cbs_.push_back(f.cb);
    auto keep = std::move(f.keep);
    inflight_.pop_front();
    keep.clear();  // may return buffers to the allocator
    if (free_keeps_.size() < 4) free_keeps_.push_back(std::move(keep));  // reused by begin()
  }
}

namespace {
// Polls the fence for up to 2 ms before blocking: a blocked thread is woken tens of µs after
// the device finishes, which a training loop reading its loss every step pays every step.
// Not on CPU devices (lavapipe), whose work needs the cores the poll would take.
void wait_fence(VkDevice device, VkFence fence) {
  auto t0 = std::chrono::steady_clock::now();
  bool poll = Context::require().type != VK_PHYSICAL_DEVICE_TYPE_CPU;
  while (poll && std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2)) {
    VkResult r = vkGetFenceStatus(device, fence);
    if (r == VK_SUCCESS) return;
    if (r != VK_NOT_READY) vk_check(r, "vkGetFenceStatus");
  }
  vk_check(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
}
}  // namespace

void Encoder::wait(uint64_t serial) {
  if (capturing_) throw CaptureAborted("the host waited for the device");
  if (serial == 0 || serial <= completed_) return;
  if (recording_ && serial >= serial_) flush();
  Context& c = Context::require();
  while (!inflight_.empty() && inflight_.front().serial <= serial) {
    wait_fence(c.device, inflight_.front().fence);
    retire();
  }
}

void Encoder::wait_all() {
  flush();
  wait(serial_);
}

// ---------------------------------------------------------------- capture
void Encoder::begin_capture() {
  if (capturing_) throw std::logic_error("[gpu] nested command capture");
  Context& c = Context::require();
  VkCommandBuffer cb = allocate_cb(VK_COMMAND_BUFFER_LEVEL_SECONDARY);
  VkCommandBufferInheritanceInfo inh{VK_STRUCTURE_TYPE_COMMAND_BUFFER_INHERITANCE_INFO};
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT;
  bi.pInheritanceInfo = &inh;
  VkResult r = vkBeginCommandBuffer(cb, &bi);
  if (r != VK_SUCCESS) {
    vkFreeCommandBuffers(c.device, pool_, 1, &cb);
    vk_check(r, "vkBeginCommandBuffer");
  }
  saved_ = {cb_, recording_, commands_, std::move(keep_), std::move(written_), std::move(read_)};
  keep_.clear();
  written_.clear();
  read_.clear();
  cb_ = cb;
  commands_ = 0;
  capture_dispatches_ = capture_barriers_ = 0;
  capturing_ = true;
  saved_bound_ = bound_;
  bound_ = VK_NULL_HANDLE;
}

void Encoder::restore_primary() {
  cb_ = saved_.cb;
  recording_ = saved_.recording;
  commands_ = saved_.commands;
  keep_ = std::move(saved_.keep);
  written_ = std::move(saved_.written);
  read_ = std::move(saved_.read);
  saved_ = {};
  capturing_ = false;
  bound_ = saved_bound_;
}

Encoder::Captured Encoder::end_capture() {
  if (!capturing_) throw std::logic_error("[gpu] end_capture without begin_capture");
  Captured c{cb_, std::move(keep_), capture_dispatches_, capture_barriers_};
  VkResult r = vkEndCommandBuffer(cb_);
  restore_primary();
  if (r != VK_SUCCESS) {
    free_captured(c.cb);
    vk_check(r, "vkEndCommandBuffer");
  }
  return c;
}

void Encoder::abort_capture() {
  if (!capturing_) return;
  VkCommandBuffer cb = cb_;
  restore_primary();  // drops what the abandoned commands kept
  vkEndCommandBuffer(cb);
  free_captured(cb);
}

void Encoder::upload_now(const Buf& dst, const void* data, size_t bytes) {
  if (bytes == 0) return;
  if (dst->mapped()) {
    std::memcpy(dst->mapped(), data, bytes);
    return;
  }
  Context& c = Context::require();
  Buf stg = Allocator::get().staging(bytes);
  std::memcpy(stg->mapped(), data, bytes);
  VkCommandBuffer cb = allocate_cb(VK_COMMAND_BUFFER_LEVEL_PRIMARY);
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VkFence fence = VK_NULL_HANDLE;
  VkResult r = vkBeginCommandBuffer(cb, &bi);
  if (r == VK_SUCCESS) {
    VkBufferCopy region{stg->offset(), dst->offset(), bytes};
    vkCmdCopyBuffer(cb, stg->vk(), dst->vk(), 1, &region);
    // visible to every command submitted later (the barrier's second scope)
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                         1, &mb, 0, nullptr, 0, nullptr);
    r = vkEndCommandBuffer(cb);
  }
  if (r == VK_SUCCESS) {
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    r = vkCreateFence(c.device, &fi, nullptr, &fence);
  }
  if (r == VK_SUCCESS) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    r = vkQueueSubmit(c.queue, 1, &si, fence);
    if (r == VK_SUCCESS) r = vkWaitForFences(c.device, 1, &fence, VK_TRUE, UINT64_MAX);
  }
  if (fence) vkDestroyFence(c.device, fence, nullptr);
  vkFreeCommandBuffers(c.device, pool_, 1, &cb);
  vk_check(r, "upload");
}

Buf constant_buffer(const void* data, size_t bytes) {
  Encoder& e = Encoder::get();
  if (!e.capturing()) {
    Buf t = Allocator::get().upload(bytes);
    if (bytes) std::memcpy(t->mapped(), data, bytes);
    return t;
  }
  Buf t = Allocator::get().device(bytes);
  e.upload_now(t, data, bytes);
  return t;
}

void Encoder::free_captured(VkCommandBuffer cb) {
  if (cb) vkFreeCommandBuffers(Context::require().device, pool_, 1, &cb);
}

void Encoder::execute(const Captured& c) {
  if (capturing_) throw std::logic_error("[gpu] executing captured commands inside a capture");
  begin();
  barrier();
  vkCmdExecuteCommands(cb_, 1, &c.cb);
  bound_ = VK_NULL_HANDLE;  // the secondary's bindings leave the primary's state undefined
  if (profile::enabled()) profile::after(cb_, VK_NULL_HANDLE, "replayed step");
  barrier();
  auto& s = detail::stats_mut();
  s.dispatches += c.dispatches;
  s.barriers += c.barriers;
  commands_ += c.dispatches;
  if (commands_ >= kMaxCommands) flush();
}

// ---------------------------------------------------------------- pipelines
namespace {
// Looked up with a string_view (no allocation per dispatch).
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
};
struct PipelineCache {
  std::unordered_map<std::string, VkPipeline, KeyHash, std::equal_to<>> pipelines;
  std::unordered_map<std::string_view, VkShaderModule> modules;
};
PipelineCache& cache() {
  static PipelineCache* c = new PipelineCache();
  return *c;
}
}  // namespace

bool has_shader(const char* shader) { return find_shader(shader) != nullptr; }

VkPipeline pipeline(const char* shader, std::initializer_list<uint32_t> spec) {
  auto& pc = cache();
  // key "shader:spec0:spec1..." formatted into a stack buffer
  char buf[256];
  size_t n = std::strlen(shader);
  auto too_long = [&] {
    return std::logic_error(std::string("[gpu] pipeline key too long: ") + shader);
  };
  if (n >= sizeof(buf)) throw too_long();
  std::memcpy(buf, shader, n);
  for (uint32_t s : spec) {
    char digits[11];
    int d = 0;
    do digits[d++] = static_cast<char>('0' + s % 10); while ((s /= 10) != 0);
    if (n + d + 1 > sizeof(buf)) throw too_long();
    buf[n++] = ':';
    while (d > 0) buf[n++] = digits[--d];
  }
  std::string_view key(buf, n);
  auto it = pc.pipelines.find(key);
  if (it != pc.pipelines.end()) return it->second;
  Context& c = Context::require();
  const ShaderCode* code = find_shader(shader);
  if (!code) throw GpuError(std::string("[gpu] shader '") + shader + "' is not embedded");
  auto mit = pc.modules.find(code->name);
  VkShaderModule module;
  if (mit == pc.modules.end()) {
    VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = code->size_bytes;
    mi.pCode = code->words;
    vk_check(vkCreateShaderModule(c.device, &mi, nullptr, &module), "vkCreateShaderModule");
    pc.modules.emplace(code->name, module);
  } else {
    module = mit->second;
  }
  std::vector<VkSpecializationMapEntry> entries;
  std::vector<uint32_t> data(spec);
  for (uint32_t i = 0; i < data.size(); ++i) entries.push_back({i, i * 4, 4});
  VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), data.size() * 4,
                          data.data()};
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = entries.empty() ? nullptr : &si;
  ci.layout = pipeline_layout();
  VkPipeline p;
  vk_check(vkCreateComputePipelines(c.device, pipeline_cache(), 1, &ci, nullptr, &p),
           "vkCreateComputePipelines");
  pc.pipelines.emplace(std::string(key), p);
  profile::name_pipeline(p, std::string(key));
  log("pipeline " + std::string(key));
  return p;
}

}  // namespace kiln::gpu
