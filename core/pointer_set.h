// A set of pointers for hot paths (eval's visited set, the GPU encoder's hazard sets): open
// addressing with linear probing, load ≤ 1/2, cleared by walking the slots it used. It
// allocates only when it grows, so a set that is cleared and refilled (once per eval, once
// per barrier) costs no heap allocation per element. Empty after a move, then usable again.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln::detail {

class PointerSet {
 public:
  // False when p was already present. p must not be null.
  bool insert(const void* p) {
    if (slots_.empty()) slots_.assign(64, nullptr);
    size_t i = slot(p);
    if (slots_[i]) return false;
    if (2 * (used_.size() + 1) > slots_.size()) {
      grow();
      i = slot(p);
    }
    slots_[i] = p;
    used_.push_back(i);
    return true;
  }
  bool contains(const void* p) const { return !slots_.empty() && slots_[slot(p)] == p; }
  void clear() {
    for (size_t u : used_) slots_[u] = nullptr;
    used_.clear();
  }

 private:
  size_t slot(const void* p) const {
    size_t mask = slots_.size() - 1;
    size_t i = (reinterpret_cast<uintptr_t>(p) >> 4) * 0x9E3779B97F4A7C15ull >> 32 & mask;
    while (slots_[i] && slots_[i] != p) i = (i + 1) & mask;
    return i;
  }
  void grow() {
    std::vector<const void*> old;
    old.reserve(used_.size());
    for (size_t u : used_) old.push_back(slots_[u]);
    slots_.assign(slots_.size() * 2, nullptr);
    used_.clear();
    for (const void* o : old) {
      size_t i = slot(o);
      slots_[i] = o;
      used_.push_back(i);
    }
  }
  std::vector<const void*> slots_;
  std::vector<size_t> used_;  // occupied slot indices, for clear()
};

}  // namespace kiln::detail
