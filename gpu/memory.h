// GPU memory: large blocks sub-allocated with size classes; freed allocations are cached
// per class and reused; staging memory (host-visible) is a second pool of the same kind.
// Every allocation lies inside one VkBuffer per block and is addressed by its device
// address (shaders use buffer references), so no descriptor sets exist anywhere.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "../core/array.h"
#include "gpu.h"

namespace kiln::gpu {

struct Block;
struct Allocation {
  Block* block = nullptr;
  uint64_t offset = 0;
  uint64_t size = 0;  // the size class actually reserved
};

struct Block {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  uint64_t address = 0;
  char* mapped = nullptr;
  uint64_t size = 0;
  bool dedicated = false;
  uint64_t used = 0;
  std::map<uint64_t, uint64_t> free;  // offset → length, coalesced
};

// Device storage of one array (or a temporary). Returns its memory to the cache on
// destruction; the encoder keeps it alive while submitted work may still use it.
class Buffer : public DeviceBuffer {
 public:
  // pool: 0 device, 1 staging, 2 upload (see Allocator)
  Buffer(Allocation a, size_t nbytes, int pool) : alloc_(a), nbytes_(nbytes), pool_(pool) {}
  ~Buffer() override;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer vk() const { return alloc_.block->buffer; }
  uint64_t offset() const { return alloc_.offset; }
  uint64_t address() const { return alloc_.block->address + alloc_.offset; }
  // Host pointer when the memory is host-visible, else nullptr.
  char* mapped() const { return alloc_.block->mapped ? alloc_.block->mapped + alloc_.offset : nullptr; }
  size_t nbytes() const { return nbytes_; }
  // Serial of the submission that last wrote this buffer (0: written by the host only).
  uint64_t serial = 0;
  // Host-visible copy written by the same submission (gpu::detail::read_back), or null.
  std::shared_ptr<Buffer> mirror;

 private:
  Allocation alloc_;
  size_t nbytes_;
  int pool_;
};

class Allocator {
 public:
  static Allocator& get();
  // Device memory for arrays; throws OutOfMemoryError when it cannot be had.
  std::shared_ptr<Buffer> device(size_t nbytes);
  // Host-visible memory for uploads/downloads.
  std::shared_ptr<Buffer> staging(size_t nbytes);
  // Small host-written data the device reads (argument tables): device-local host-visible
  // memory (the PCIe BAR) where the device has it, else staging memory. Never fails for lack
  // of BAR space: it falls back to staging.
  std::shared_ptr<Buffer> upload(size_t nbytes);
  void release(const Allocation& a, int pool);
  MemoryStats stats() const;
  void reset_peak() { peak_ = active_; }
  // Frees cached memory back to the driver.
  void trim();
  // Called under memory pressure before giving up (the encoder waits for in-flight work).
  std::function<void()> on_pressure;

 private:
  struct Pool {
    uint32_t type_index = 0;
    bool host_visible = false;
    uint64_t block = 0;  // block size (0: the allocator's)
    std::vector<std::unique_ptr<Block>> blocks;
    // freed allocations by size class, reused last-in first-out (no allocation per reuse)
    std::unordered_map<uint64_t, std::vector<Allocation>> cache;
  };
  Allocator();
  // id: the pool (0 device, 1 staging, 2 upload). fallible: nullptr instead of trimming,
  // waiting on in-flight work and throwing OutOfMemoryError.
  std::shared_ptr<Buffer> allocate(Pool& pool, size_t nbytes, int id, bool fallible = false);
  bool try_fresh(Pool& pool, uint64_t cls, Allocation& out);
  Block* new_block(Pool& pool, uint64_t size, bool dedicated);
  void give_back(Pool& pool, const Allocation& a);
  void trim(Pool& pool);

  Pool device_, staging_, upload_;
  bool has_upload_ = false;
  uint64_t block_size_ = 0;
  size_t active_ = 0, peak_ = 0, cached_ = 0;
};

// Size class of a request: at least 256 bytes, 4 classes per power of two.
uint64_t size_class(uint64_t n);

}  // namespace kiln::gpu
