// The command encoder: every dispatch of an eval goes into one command buffer, with a
// global memory barrier only before a dispatch that touches a buffer written (or writes a
// buffer read) since the last barrier. Buffers used by a command buffer are kept alive until
// its fence signals. One submit per eval (or per few thousand dispatches on huge graphs).
#pragma once
#include <vulkan/vulkan.h>

#include <deque>
#include <initializer_list>
#include <memory>
#include <unordered_set>
#include <vector>

#include "memory.h"

namespace kiln::gpu {

using Buf = std::shared_ptr<Buffer>;

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
                std::initializer_list<Buf> reads, std::initializer_list<Buf> writes);
  void dispatch(VkPipeline pipeline, const void* push, uint32_t push_size, Grid grid,
                const std::vector<Buf>& reads, const std::vector<Buf>& writes);
  void copy(const Buf& src, uint64_t src_off, const Buf& dst, uint64_t dst_off, uint64_t bytes);
  // Fills bytes (a multiple of 4) of dst with a 32-bit pattern.
  void fill(const Buf& dst, uint64_t off, uint64_t bytes, uint32_t value);
  // Keeps an object alive until the current command buffer completes.
  void keep(std::shared_ptr<void> p);

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
  std::vector<std::shared_ptr<void>> keep_;
  std::unordered_set<const Buffer*> written_, read_;
  std::deque<InFlight> inflight_;
  std::vector<VkCommandBuffer> free_cbs_;
  std::vector<VkFence> free_fences_;
};

// The pipeline of an embedded shader with specialization constants (id i = spec[i]; id 0 is
// the workgroup size by convention). Cached.
VkPipeline pipeline(const char* shader, std::initializer_list<uint32_t> spec);
// True when the shader was embedded in this build.
bool has_shader(const char* shader);

}  // namespace kiln::gpu
