#include "memory.h"

#include <algorithm>

#include "../core/errors.h"
#include "context.h"

namespace kiln::gpu {

namespace {
constexpr uint64_t kAlign = 256;
}

uint64_t size_class(uint64_t n) {
  if (n <= kAlign) return kAlign;
  uint64_t p = 1;
  while (p * 2 <= n) p *= 2;  // p = 2^floor(log2 n)
  uint64_t step = std::max<uint64_t>(kAlign, p / 4);
  return (n + step - 1) / step * step;
}

Buffer::~Buffer() { Allocator::get().release(alloc_, pool_); }

Allocator& Allocator::get() {
  static Allocator* a = new Allocator();  // never destroyed: see Context
  return *a;
}

Allocator::Allocator() {
  Context& c = Context::require();
  device_.type_index = c.device_type_index;
  device_.host_visible = c.mapped;
  staging_.type_index = c.staging_type_index;
  staging_.host_visible = true;
  if (c.upload_type_index >= 0) {
    has_upload_ = true;
    upload_.type_index = static_cast<uint32_t>(c.upload_type_index);
    upload_.host_visible = true;
    upload_.block = 4ull << 20;  // the BAR heap may be as small as 256 MiB
  }
  block_size_ = std::min<uint64_t>(256ull << 20, c.caps.max_allocation);
  block_size_ = std::min<uint64_t>(block_size_, std::max<uint64_t>(c.caps.device_heap / 8, 16ull << 20));
}

std::shared_ptr<Buffer> Allocator::device(size_t nbytes) { return allocate(device_, nbytes, 0); }
std::shared_ptr<Buffer> Allocator::staging(size_t nbytes) { return allocate(staging_, nbytes, 1); }

std::shared_ptr<Buffer> Allocator::upload(size_t nbytes) {
  // small tables only, and never under pressure: the BAR heap may be tiny
  if (has_upload_ && size_class(nbytes) <= upload_.block / 4)
    if (auto b = allocate(upload_, nbytes, 2, /*fallible=*/true)) return b;
  return staging(nbytes);
}

MemoryStats Allocator::stats() const { return {active_, peak_, cached_}; }

Block* Allocator::new_block(Pool& pool, uint64_t size, bool dedicated) {
  Context& c = Context::require();
  auto b = std::make_unique<Block>();
  b->size = size;
  b->dedicated = dedicated;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
              VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  if (vkCreateBuffer(c.device, &bci, nullptr, &b->buffer) != VK_SUCCESS) return nullptr;
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(c.device, b->buffer, &req);
  if (!(req.memoryTypeBits & (1u << pool.type_index))) {
    vkDestroyBuffer(c.device, b->buffer, nullptr);
    throw GpuError("[gpu] buffers cannot live in the chosen memory type");
  }
  VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
  flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &flags};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = pool.type_index;
  if (vkAllocateMemory(c.device, &mai, nullptr, &b->memory) != VK_SUCCESS) {
    vkDestroyBuffer(c.device, b->buffer, nullptr);
    return nullptr;
  }
  vk_check(vkBindBufferMemory(c.device, b->buffer, b->memory, 0), "vkBindBufferMemory");
  VkBufferDeviceAddressInfo ai{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  ai.buffer = b->buffer;
  b->address = vkGetBufferDeviceAddress(c.device, &ai);
  if (pool.host_visible) {
    void* p = nullptr;
    vk_check(vkMapMemory(c.device, b->memory, 0, VK_WHOLE_SIZE, 0, &p), "vkMapMemory");
    b->mapped = static_cast<char*>(p);
  }
  b->free[0] = size;
  pool.blocks.push_back(std::move(b));
  log("new " + std::string(&pool == &staging_ ? "staging" : &pool == &upload_ ? "upload" : "device") +
      " block of " + std::to_string(size >> 10) + " KiB" + (dedicated ? " (dedicated)" : ""));
  return pool.blocks.back().get();
}

bool Allocator::try_fresh(Pool& pool, uint64_t cls, Allocation& out) {
  uint64_t block_size = pool.block ? pool.block : block_size_;
  if (cls > block_size / 4) {
    Block* b = new_block(pool, cls, true);
    if (!b) return false;
    b->free.clear();
    b->used = cls;
    out = {b, 0, cls};
    return true;
  }
  auto take = [&](Block* b) -> bool {
    for (auto it = b->free.begin(); it != b->free.end(); ++it) {
      if (it->second < cls) continue;
      uint64_t off = it->first, len = it->second;
      b->free.erase(it);
      if (len > cls) b->free[off + cls] = len - cls;
      b->used += cls;
      out = {b, off, cls};
      return true;
    }
    return false;
  };
  for (auto& b : pool.blocks)
    if (!b->dedicated && b->size - b->used >= cls && take(b.get())) return true;
  Block* b = new_block(pool, block_size, false);
  return b && take(b);
}

std::shared_ptr<Buffer> Allocator::allocate(Pool& pool, size_t nbytes, int id, bool fallible) {
  bool staging = id == 1;
  std::lock_guard<std::recursive_mutex> lk(Context::require().mutex);
  uint64_t cls = size_class(nbytes);
  Context& c = Context::require();
  auto oom = [&](const std::string& why) {
    return OutOfMemoryError("[gpu] out of memory: cannot allocate " + std::to_string(nbytes) +
                            " bytes" + (staging ? " of staging memory" : "") + " (" + why +
                            "; active " + std::to_string(active_) + ", cached " +
                            std::to_string(cached_) + ", heap " +
                            std::to_string(c.caps.device_heap) + " bytes)");
  };
  if (cls > c.caps.max_allocation) throw oom("larger than the device's maximum allocation");
  Allocation a;
  auto it = pool.cache.find(cls);
  if (it != pool.cache.end() && !it->second.empty()) {
    a = it->second.back();
    it->second.pop_back();
    cached_ -= cls;
  } else if (!try_fresh(pool, cls, a)) {
    if (fallible) return nullptr;
    trim();
    if (!try_fresh(pool, cls, a)) {
      if (on_pressure) on_pressure();
      trim();
      if (!try_fresh(pool, cls, a)) throw oom("the driver refused");
    }
  }
  active_ += cls;
  peak_ = std::max(peak_, active_);
  return std::make_shared<Buffer>(a, nbytes, id);
}

void Allocator::release(const Allocation& a, int pool) {
  std::lock_guard<std::recursive_mutex> lk(Context::require().mutex);
  active_ -= a.size;
  (pool == 1 ? staging_ : pool == 2 ? upload_ : device_).cache[a.size].push_back(a);
  cached_ += a.size;
}

void Allocator::give_back(Pool& pool, const Allocation& a) {
  Block* b = a.block;
  b->used -= a.size;
  if (b->dedicated) return;
  auto it = b->free.emplace(a.offset, a.size).first;
  auto next = std::next(it);
  if (next != b->free.end() && it->first + it->second == next->first) {
    it->second += next->second;
    b->free.erase(next);
  }
  if (it != b->free.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second == it->first) {
      prev->second += it->second;
      b->free.erase(it);
    }
  }
}

void Allocator::trim(Pool& pool) {
  Context& c = Context::require();
  for (auto& [cls, list] : pool.cache)
    for (auto& a : list) {
      give_back(pool, a);
      cached_ -= cls;
    }
  pool.cache.clear();
  auto& bl = pool.blocks;
  for (auto it = bl.begin(); it != bl.end();) {
    if ((*it)->used == 0) {
      if ((*it)->mapped) vkUnmapMemory(c.device, (*it)->memory);
      vkDestroyBuffer(c.device, (*it)->buffer, nullptr);
      vkFreeMemory(c.device, (*it)->memory, nullptr);
      it = bl.erase(it);
    } else {
      ++it;
    }
  }
}

void Allocator::trim() {
  std::lock_guard<std::recursive_mutex> lk(Context::require().mutex);
  trim(device_);
  trim(staging_);
  trim(upload_);
}

}  // namespace kiln::gpu
