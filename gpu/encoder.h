// The command encoder: every dispatch of an eval goes into one command buffer, with a
// global memory barrier only before a dispatch that touches a buffer written (or writes a
// buffer read) since the last barrier. Buffers used by a command buffer are kept alive until
// its fence signals. One submit per eval (or per few thousand dispatches on huge graphs).
#pragma once
#include <vulkan/vulkan.h>

#include <deque>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <vector>

#include "../core/pointer_set.h"
#include "memory.h"

namespace kiln::gpu {

using Buf = std::shared_ptr<Buffer>;

// The buffers touched since the last barrier (see core/pointer_set.h: no allocation per
// dispatch once grown).
using BufferSet = kiln::detail::PointerSet;

// Small host data a kernel reads (argument tables, shapes): upload (BAR) or staging memory
// normally; device memory written once when recording a replayable step (gpu/replay.cpp).
Buf constant_buffer(const void* data, size_t bytes);
inline Buf argument_table(const std::vector<uint64_t>& words) {
  return constant_buffer(words.data(), words.size() * sizeof(uint64_t));
}

// Thrown while capturing (see Encoder::begin_capture) when the work being recorded needs the
// host: a submit, a wait, a download, an upload or a CPU fallback. The capture is then
// abandoned and the work runs the normal way.
struct CaptureAborted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Grid {
  uint32_t x = 1, y = 1, z = 1;
};
// A grid of `groups` workgroups laid out in x then y (x ≤ the device's limit, 65535 at least).
Grid grid_1d(uint64_t groups);

class Encoder {
 public:
  static Encoder& get();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  void dispatch(VkPipeline pipeline, const void* push, uint32_t push_size, Grid grid,
                std::initializer_list<Buf> reads, std::initializer_list<Buf> writes) {
    dispatch(pipeline, push, push_size, grid, reads.begin(), reads.size(), writes.begin(),
             writes.size());
  }
  void dispatch(VkPipeline pipeline, const void* push, uint32_t push_size, Grid grid,
                const std::vector<Buf>& reads, const std::vector<Buf>& writes) {
    dispatch(pipeline, push, push_size, grid, reads.data(), reads.size(), writes.data(),
             writes.size());
  }
  void dispatch(VkPipeline pipeline, const void* push, uint32_t push_size, Grid grid,
                const Buf* reads, size_t n_reads, const Buf* writes, size_t n_writes);
  void copy(const Buf& src, uint64_t src_off, const Buf& dst, uint64_t dst_off, uint64_t bytes);
  // Fills bytes (a multiple of 4) of dst with a 32-bit pattern.
  void fill(const Buf& dst, uint64_t off, uint64_t bytes, uint32_t value);
  // Keeps an object alive until the current command buffer completes.
  void keep(std::shared_ptr<void> p);

  // ---- capture: recording into a reusable secondary command buffer (gpu/replay.cpp)
  struct Captured {
    VkCommandBuffer cb = VK_NULL_HANDLE;
    std::vector<std::shared_ptr<void>> keep;  // every buffer the commands touch
    uint32_t dispatches = 0, barriers = 0;
  };
  // Until end_capture/abort_capture, dispatches, copies and fills go into a fresh secondary
  // command buffer (simultaneous use: it may be pending several times) with its own hazard
  // tracking; flush()/wait() throw CaptureAborted. The primary being recorded is untouched.
  void begin_capture();
  Captured end_capture();
  void abort_capture();
  bool capturing() const { return capturing_; }
  // Records a full barrier, the captured commands, and a full barrier.
  void execute(const Captured& c);
  // Frees a captured command buffer no pending submission uses any more.
  void free_captured(VkCommandBuffer cb);
  // Writes `bytes` of host data into `dst` now (memcpy when mapped, else a copy submitted and
  // waited for on its own), visible to every later command: for data a captured command
  // buffer reads on every replay (argument tables), which must not stay in host memory.
  void upload_now(const Buf& dst, const void* data, size_t bytes);

  // Serial of the command buffer being recorded (0 if none).
  uint64_t recording_serial() const { return recording_ ? serial_ : 0; }
  // Submits the command buffer being recorded (no wait).
  void flush();
  // Waits until the submission with this serial (and all before it) completed.
  void wait(uint64_t serial);
  void wait_all();
  // Releases resources of completed submissions.
  void retire();

 private:
  Encoder();
  void begin();
  VkCommandBuffer allocate_cb(VkCommandBufferLevel level);
  void barrier_for(std::initializer_list<const Buf*> reads, std::initializer_list<const Buf*> writes);
  void barrier();

  struct InFlight {
    uint64_t serial;
    VkFence fence;
    VkCommandBuffer cb;
    std::vector<std::shared_ptr<void>> keep;
  };
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  bool recording_ = false;
  uint64_t serial_ = 0;     // last serial handed out
  uint64_t completed_ = 0;  // every serial ≤ this has completed
  uint32_t commands_ = 0;
  // Early submits keep the device fed while the host records a long eval: every N dispatches
  // (KILN_GPU_EARLY_SUBMIT, default 8, 0 = off), what is recorded is submitted if at most one
  // earlier submission is still running (else the device has work queued and recording goes
  // on, so chunks grow by themselves while the device is the slower side). Measured on an H200
  // with 100 dependent tiny ops (host 2.4 µs, device 1.9 µs per op): ~340 µs against 388-554
  // µs for "submit only when idle, doubling the chunk each time" (bench/RESULTS.md).
  uint32_t early_ = 8;  // set by begin() from KILN_GPU_EARLY_SUBMIT
  uint32_t dispatched_ = 0;  // dispatches recorded into this command buffer (not replays)
  // Pipeline bound in the command buffer being recorded (saved while capturing).
  VkPipeline bound_ = VK_NULL_HANDLE, saved_bound_ = VK_NULL_HANDLE;
  std::vector<std::shared_ptr<void>> keep_;
  std::vector<std::vector<std::shared_ptr<void>>> free_keeps_;  // emptied keep lists, capacity kept
  BufferSet written_, read_;
  std::deque<InFlight> inflight_;
  std::vector<VkCommandBuffer> free_cbs_;
  // capture state, and the primary's state saved while capturing
  bool capturing_ = false;
  uint32_t capture_dispatches_ = 0, capture_barriers_ = 0;
  struct Saved {
    VkCommandBuffer cb;
    bool recording;
    uint32_t commands;
    std::vector<std::shared_ptr<void>> keep;
    BufferSet written, read;
  } saved_{};
  void restore_primary();
  std::vector<VkFence> free_fences_;
};

// The pipeline of an embedded shader with specialization constants (id i = spec[i]; id 0 is
// the workgroup size by convention). Cached.
VkPipeline pipeline(const char* shader, std::initializer_list<uint32_t> spec);
// True when the shader was embedded in this build.
bool has_shader(const char* shader);

}  // namespace kiln::gpu
