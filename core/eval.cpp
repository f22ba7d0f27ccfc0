// The eval scheduler: topological order, one primitive at a time on its device, detach.
#include <unordered_set>

#include "array.h"
#include "backend.h"
#include "errors.h"
#include "primitives.h"

namespace kiln {

namespace {

// Iterative DFS: returns the unevaluated nodes reachable from outputs, inputs first.
std::vector<array> build_tape(const std::vector<array>& outputs) {
  std::vector<array> tape;
  std::unordered_set<uintptr_t> visited;
  struct Frame {
    array a;
    size_t next = 0;
  };
  std::vector<Frame> stack;
  for (auto& out : outputs) {
    if (out.is_placeholder()) detail::throw_placeholder("eval");
    if (out.is_available() || visited.count(out.id())) continue;
    stack.push_back({out});
    visited.insert(out.id());
    while (!stack.empty()) {
      auto& f = stack.back();
      const auto& ins = f.a.inputs();
      if (f.next < ins.size()) {
        array in = ins[f.next++];
        if (in.is_placeholder()) detail::throw_placeholder("eval");
        if (!in.is_available() && !visited.count(in.id())) {
          visited.insert(in.id());
          stack.push_back({in});
        }
        continue;
      }
      array a = f.a;
      stack.pop_back();
      if (!a.has_primitive())
        throw std::logic_error("[eval] array has neither data nor a primitive");
      for (auto& s : a.siblings()) visited.insert(s.id());
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
  for (auto& a : tape) {
    auto outs = a.outputs();
    Primitive& p = a.primitive();
    if (p.device().type == Device::gpu) {
      gpu::detail::eval(a, outs);
      used_gpu = true;
    } else {
      p.eval_cpu(a.inputs(), outs);
    }
    if (!a.is_tracer())
      for (auto& o : outs) o.detach();
    a = array();  // release our reference early
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
