// Replay of compiled steps. The second GPU call of a compile cache entry records the whole
// program (every dispatch, copy and barrier of its nodes, fused kernels included) into a
// secondary command buffer over fixed memory: one slot per input, and every intermediate and
// result allocated once and owned by the recording. That call and every later one then
// records only: copies of the actual inputs into the slots, the captured commands, and copies
// of the results into fresh output arrays. Nothing is re-recorded, no graph is rebuilt, and
// consecutive steps queue without host waits.
//
// Recording is abandoned (and the program marked unreplayable, so compile rebuilds its graph
// on every call as before) when any node needs the host: a CPU fallback, a download, an
// upload of host data, a submit (see CaptureAborted).
#include <algorithm>
#include <atomic>
#include <cstring>

#include "../core/compiled_call.h"
#include "kernels.h"
#include "stats_impl.h"

namespace kiln {
namespace gpu {
namespace {

// Device memory held by all live recordings: new recordings stop (their steps run node by
// node) once it would exceed min(4 GiB, heap / 4), so a function called with many shapes
// (one cache entry, hence one recording, per shape) cannot pin the device's memory.
std::atomic<size_t> g_recorded_bytes{0};

struct Recording {
  Encoder::Captured cap;
  std::vector<Buf> slots;    // one per program input
  std::vector<Buf> results;  // one per program output
  size_t bytes = 0;          // device memory it holds (counted in g_recorded_bytes)
  Recording() = default;
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;
  ~Recording() {
    g_recorded_bytes -= bytes;
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
  // The recording keeps every intermediate for good (no reuse inside it): a step whose
  // intermediates exceed this runs node by node instead, so memory stays bounded.
  const size_t heap = Context::require().caps.device_heap;
  const size_t limit = std::min<size_t>(size_t(1) << 30, heap / 8);
  const size_t total_limit = std::min<size_t>(size_t(4) << 30, heap / 4);
  const size_t active0 = Allocator::get().stats().active;
  size_t held_total = 0;
  e.begin_capture();
  try {
    auto ex = p.expand(slot_arrays);
    for (auto& n : ex.nodes) {
      if (n.primitive().device() != Device::gpu)
        throw CaptureAborted(n.primitive().name() + " is placed on the CPU");
      auto os = n.outputs();
      n.primitive().eval_gpu(n.inputs(), os);
      size_t now = Allocator::get().stats().active;
      size_t held = now > active0 ? now - active0 : 0;
      if (held > limit)
        throw CaptureAborted("its intermediates would hold " + std::to_string(held >> 20) +
                             " MiB (limit " + std::to_string(limit >> 20) + " MiB)");
      if (held + g_recorded_bytes.load() > total_limit)
        throw CaptureAborted("recordings already hold " + std::to_string(g_recorded_bytes >> 20) +
                             " MiB (limit " + std::to_string(total_limit >> 20) + " MiB in all)");
      held_total = held;
    }
    for (size_t i = 0; i < ex.outputs.size(); ++i) {
      const auto& d = ex.outputs[i].data_shared();
      Buf r = d ? std::dynamic_pointer_cast<Buffer>(d->device) : nullptr;
      if (!r) throw CaptureAborted("output " + std::to_string(i) + " is not on the device");
      rec->results.push_back(r);
    }
    rec->cap = e.end_capture();
    size_t slots = 0;
    for (auto& b : rec->slots) slots += b->nbytes();
    rec->bytes = held_total + slots;  // counted only once the recording exists
    g_recorded_bytes += rec->bytes;
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

}  // namespace

// dst[i] = src[i] for every pair, as ONE dispatch of shaders/copy_many.comp (a copy command
// per array costs ~2-4 µs of device time each on a discrete GPU; a step has dozens). The table
// of addresses is an argument_table, kept alive by the command buffer.
void copy_many(const std::vector<Buf>& src, const std::vector<Buf>& dst,
               const std::vector<size_t>& bytes) {
  Encoder& e = Encoder::get();
  std::vector<uint64_t> table;
  std::vector<Buf> reads, writes;
  uint64_t most = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    if (bytes[i] == 0) continue;
    uint64_t units = (bytes[i] + 15) / 16;  // within the allocations (sizes are 256-multiples)
    bool aligned = src[i]->address() % 16 == 0 && dst[i]->address() % 16 == 0;
    if (!aligned || !Context::require().caps.int64) {
      e.copy(src[i], 0, dst[i], 0, bytes[i]);
      continue;
    }
    table.insert(table.end(), {src[i]->address(), dst[i]->address(), units});
    reads.push_back(src[i]);
    writes.push_back(dst[i]);
    most = std::max(most, units);
  }
  if (table.empty()) return;
  Buf t = argument_table(table);
  reads.push_back(t);
  struct PC {
    uint64_t table;
    uint32_t count;
  } pc{t->address(), static_cast<uint32_t>(writes.size())};
  Grid g{div_up(most, kWorkgroup * 4), static_cast<uint32_t>(writes.size()), 1};
  e.dispatch(pipeline("copy_many", {kWorkgroup}), &pc, sizeof(pc), g, reads, writes);
}

namespace {

// Records the program for replay if needed and queues one execution. False when the program
// cannot be replayed (nothing was recorded into the current command buffer then).
bool run_recorded(CompiledProgram& p, const std::vector<array>& inputs,
                  std::vector<array>& outputs) {
  if (p.unreplayable) return false;
  std::shared_ptr<Recording> rec;
  {
    std::lock_guard<std::mutex> lk(p.mutex);
    rec = std::static_pointer_cast<Recording>(p.recording);
  }
  if (!rec) {
    rec = record(p, inputs);
    if (!rec) return false;
    std::lock_guard<std::mutex> lk(p.mutex);
    p.recording = rec;
  }
  Encoder& e = Encoder::get();
  std::vector<Buf> bufs;
  std::vector<size_t> bytes;
  for (auto& in : inputs) {
    bufs.push_back(input(in));
    bytes.push_back(in.nbytes());
  }
  copy_many(bufs, rec->slots, bytes);
  e.keep(rec);  // the captured commands and their memory live until this submission retires
  e.execute(rec->cap);
  bufs.clear();
  bytes.clear();
  for (auto& out : outputs) {
    bufs.push_back(output(out));
    bytes.push_back(out.nbytes());
  }
  copy_many(rec->results, bufs, bytes);
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
