// The eval scheduler: topological order, one primitive at a time on its device, detach.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "array.h"
#include "backend.h"
#include "errors.h"
#include "primitives.h"

namespace kiln {

namespace {

// Set of array ids (open addressing, linear probing), kept per thread and cleared by walking
// the slots it used: no allocation per node once it has grown.
class IdSet {
 public:
  bool insert(uintptr_t id) {  // false if already present
    if ((used_.size() + 1) * 2 > slots_.size()) grow();
    size_t i = slot(id);
    if (slots_[i] == id) return false;
    slots_[i] = id;
    used_.push_back(i);
    return true;
  }
  void clear() {
    for (size_t i : used_) slots_[i] = 0;
    used_.clear();
  }

 private:
  size_t slot(uintptr_t id) const {
    size_t mask = slots_.size() - 1;
    size_t i = (id >> 4) * 0x9E3779B97F4A7C15ull >> 20 & mask;
    while (slots_[i] != 0 && slots_[i] != id) i = (i + 1) & mask;
    return i;
  }
  void grow() {
    std::vector<uintptr_t> old;
    old.swap(slots_);
    slots_.assign(std::max<size_t>(64, old.size() * 2), 0);
    used_.clear();
    for (uintptr_t id : old)
      if (id) {
        size_t i = slot(id);
        slots_[i] = id;
        used_.push_back(i);
      }
  }
  std::vector<uintptr_t> slots_;
  std::vector<size_t> used_;
};

// Iterative DFS: returns the unevaluated nodes reachable from outputs, inputs first.
std::vector<array> build_tape(const std::vector<array>& outputs) {
  std::vector<array> tape;
  thread_local IdSet visited;
  visited.clear();
  struct Frame {
    array a;
    size_t next = 0;
  };
  thread_local std::vector<Frame> stack;
  stack.clear();
  std::vector<array> outs;
  for (auto& out : outputs) {
    if (out.is_placeholder()) detail::throw_placeholder("eval");
    if (out.is_available() || !visited.insert(out.id())) continue;
    stack.push_back({out});
    while (!stack.empty()) {
      auto& f = stack.back();
      const auto& ins = f.a.inputs();
      if (f.next < ins.size()) {
        const array& in = ins[f.next++];
        if (in.is_placeholder()) {
          stack.clear();
          detail::throw_placeholder("eval");
        }
        if (!in.is_available() && visited.insert(in.id())) stack.push_back({in});
        continue;
      }
      array a = std::move(f.a);
      stack.pop_back();
      if (!a.has_primitive()) {
        stack.clear();
        throw std::logic_error("[eval] array has neither data nor a primitive");
      }
      a.outputs(outs);
      for (auto& s : outs) visited.insert(s.id());
      tape.push_back(std::move(a));
    }
  }
  return tape;
}

void eval_impl(std::vector<array> outputs, bool async) {
  for (auto& o : outputs)
    if (!o.valid()) throw std::invalid_argument("[eval] empty array handle");
  auto tape = build_tape(outputs);
  bool used_gpu = false;
  std::vector<array> outs;
  for (auto& a : tape) {
    a.outputs(outs);
    Primitive& p = a.primitive();
    if (p.device().type == Device::gpu) {
      gpu::detail::eval(a, outs);
      used_gpu = true;
    } else {
      p.eval_cpu(a.inputs(), outs);
    }
    if (!a.is_tracer())
      for (auto& o : outs) o.detach();
    outs.clear();  // release our references early (keeps the capacity)
    a = array();
  }
  if (used_gpu) {
    if (!async) gpu::detail::read_back(outputs);
    gpu::detail::finalize(!async);
  }
}

}  // namespace

void eval(std::vector<array> outputs) { eval_impl(std::move(outputs), false); }
void async_eval(std::vector<array> outputs) { eval_impl(std::move(outputs), true); }

}  // namespace kiln
