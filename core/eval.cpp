// The eval scheduler: topological order, one primitive at a time on its device, detach.
#include <cstdint>
#include <vector>

#include "array.h"
#include "backend.h"
#include "errors.h"
#include "pointer_set.h"
#include "primitives.h"

namespace kiln {

namespace {

// Iterative DFS: returns the unevaluated nodes reachable from outputs, inputs first.
std::vector<array> build_tape(const std::vector<array>& outputs) {
  std::vector<array> tape;
  thread_local detail::PointerSet visited;  // array descriptors
  visited.clear();
  auto visit = [](const array& x) {  // false if seen before
    return visited.insert(reinterpret_cast<const void*>(x.id()));
  };
  struct Frame {
    array a;
    size_t next = 0;
  };
  thread_local std::vector<Frame> stack;
  stack.clear();
  std::vector<array> outs;
  for (auto& out : outputs) {
    if (out.is_placeholder()) detail::throw_placeholder("eval");
    if (out.is_available() || !visit(out)) continue;
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
        if (!in.is_available() && visit(in)) stack.push_back({in});
        continue;
      }
      array a = std::move(f.a);
      stack.pop_back();
      if (!a.has_primitive()) {
        stack.clear();
        throw std::logic_error("[eval] array has neither data nor a primitive");
      }
      a.outputs(outs);
      for (auto& s : outs) visit(s);
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
