// Replay of compiled steps. The first GPU call of a compile cache entry records the whole
// program (every dispatch, copy and barrier of its nodes, fused kernels included) into a
// secondary command buffer over fixed memory: one slot per input, and every intermediate and
// result allocated once and owned by the recording. Every call (the first included) then
// records only: copies of the actual inputs into the slots, the captured commands, and copies
// of the results into fresh output arrays. Nothing is re-recorded, no graph is rebuilt, and
// consecutive steps queue without host waits.
//
// Recording is abandoned (and the program marked unreplayable, so compile rebuilds its graph
// on every call as before) when any node needs the host: a CPU fallback, a download, an
// upload of host data, a submit (see CaptureAborted).
#include <cstring>

#include "../core/compiled_call.h"
#include "kernels.h"
#include "stats_impl.h"

namespace kiln {
namespace gpu {
namespace {

struct Recording {
  Encoder::Captured cap;
  std::vector<Buf> slots;    // one per program input
  std::vector<Buf> results;  // one per program output
  Recording() = default;
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;
  ~Recording() {
    // The last owner is the program or a retired submission: nothing pending uses cap.cb.
    Context* c = Context::get();
    if (!c || !cap.cb) return;
    std::lock_guard<std::recursive_mutex> lk(c->mutex);
    Encoder::get().free_captured(cap.cb);
  }
};

std::shared_ptr<Recording> record(CompiledProgram& p, const std::vector<array>& inputs) {
  Encoder& e = Encoder::get();
  // Constants of the trace get their device copies now (an upload cannot be captured).
  for (auto& node : p.tape)
    for (auto& in : node.inputs())
      if (!in.is_placeholder() && in.is_available()) input(in);
  auto rec = std::make_shared<Recording>();
  std::vector<array> slot_arrays;
  for (auto& in : inputs) {
    Buf b = Allocator::get().device(in.nbytes());
    rec->slots.push_back(b);
    slot_arrays.push_back(array(in.shape(), in.dtype(), std::make_shared<Data>(in.nbytes(), b)));
  }
  e.begin_capture();
  try {
    auto ex = p.expand(slot_arrays);
    for (auto& n : ex.nodes) {
      if (n.primitive().device() != Device::gpu)
        throw CaptureAborted(n.primitive().name() + " is placed on the CPU");
      auto os = n.outputs();
      n.primitive().eval_gpu(n.inputs(), os);
    }
    for (size_t i = 0; i < ex.outputs.size(); ++i) {
      const auto& d = ex.outputs[i].data_shared();
      Buf r = d ? std::dynamic_pointer_cast<Buffer>(d->device) : nullptr;
      if (!r) throw CaptureAborted("output " + std::to_string(i) + " is not on the device");
      rec->results.push_back(r);
    }
    rec->cap = e.end_capture();
  } catch (const CaptureAborted& err) {
    e.abort_capture();
    std::lock_guard<std::mutex> lk(p.mutex);
    p.why_unreplayable = err.what();
    p.unreplayable = true;
    detail::stats_mut().replay_aborts++;
    if (log_enabled()) log(std::string("compiled step not replayable: ") + err.what());
    return nullptr;
  } catch (...) {
    e.abort_capture();
    throw;
  }
  detail::stats_mut().recordings++;
  if (log_enabled())
    log("recorded a compiled step: " + std::to_string(rec->cap.dispatches) + " dispatches, " +
        std::to_string(rec->cap.barriers) + " barriers, " + std::to_string(p.tape.size()) +
        " nodes");
  return rec;
}

// Records the program for replay if needed and queues one execution. False when the program
// cannot be replayed (nothing was recorded into the current command buffer then).
bool run_recorded(CompiledProgram& p, const std::vector<array>& inputs,
                  std::vector<array>& outputs) {
  if (p.unreplayable) return false;
  auto rec = std::static_pointer_cast<Recording>(p.recording);
  if (!rec) {
    rec = record(p, inputs);
    if (!rec) return false;
    p.recording = rec;
  }
  Encoder& e = Encoder::get();
  for (size_t i = 0; i < inputs.size(); ++i) {
    Buf src = input(inputs[i]);
    e.copy(src, 0, rec->slots[i], 0, inputs[i].nbytes());
  }
  e.keep(rec);  // the captured commands and their memory live until this submission retires
  e.execute(rec->cap);
  for (size_t i = 0; i < outputs.size(); ++i) {
    Buf dst = output(outputs[i]);
    e.copy(rec->results[i], 0, dst, 0, outputs[i].nbytes());
  }
  detail::stats_mut().replays++;
  return true;
}

}  // namespace
}  // namespace gpu

void CompiledCall::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (gpu::run_recorded(*program(), inputs, outputs)) return;
  eval_nodes(inputs, outputs, Device::gpu);
}

}  // namespace kiln
