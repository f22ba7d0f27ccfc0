// kiln::compile: the per-function cache, tracing with placeholders, state capture, replay.
#include "compile.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "../core/compiled.h"
#include "../core/compiled_call.h"
#include "../core/errors.h"
#include "../core/primitives.h"
#include "compile_info.h"
#include "passes.h"

namespace kiln {

using compile_detail::Graph;

namespace {

std::atomic<CompileMode>& mode_slot() {
  static std::atomic<CompileMode> m{[] {
    const char* e = std::getenv("KILN_DISABLE_COMPILE");
    return (e && *e && std::string(e) != "0") ? CompileMode::disabled : CompileMode::enabled;
  }()};
  return m;
}

std::atomic<int64_t> g_trace_count{0};

struct Signature {
  Device device = Device::cpu;
  bool shapeless = false;
  size_t n_inputs = 0;
  size_t n_captured = 0;
  std::vector<int> ndims;
  std::vector<Dtype> dtypes;
  std::vector<Shape> shapes;  // empty entries when shapeless
  bool matches(const Signature& o) const {
    return device == o.device && shapeless == o.shapeless && n_inputs == o.n_inputs &&
           n_captured == o.n_captured && ndims == o.ndims && dtypes == o.dtypes &&
           shapes == o.shapes;
  }
};

std::string describe_change(const Signature& old, const Signature& now) {
  std::ostringstream os;
  if (old.device != now.device) return "the default device changed";
  if (old.n_inputs != now.n_inputs)
    return "the number of inputs changed from " + std::to_string(old.n_inputs) + " to " +
           std::to_string(now.n_inputs);
  if (old.n_captured != now.n_captured)
    return "the number of captured state arrays changed from " + std::to_string(old.n_captured) +
           " to " + std::to_string(now.n_captured);
  for (size_t i = 0; i < now.dtypes.size(); ++i) {
    std::string what = i < now.n_inputs ? "argument " + std::to_string(i)
                                        : "captured array " + std::to_string(i - now.n_inputs);
    if (old.dtypes[i] != now.dtypes[i])
      return what + " changed dtype from " + to_string(old.dtypes[i]) + " to " +
             to_string(now.dtypes[i]);
    if (old.ndims[i] != now.ndims[i])
      return what + " changed ndim from " + std::to_string(old.ndims[i]) + " to " +
             std::to_string(now.ndims[i]);
    if (!now.shapes.empty() && old.shapes[i] != now.shapes[i])
      return what + " changed shape from " + detail::shape_str(old.shapes[i]) + " to " +
             detail::shape_str(now.shapes[i]);
  }
  return "a new signature";
}

struct CacheEntry {
  Signature sig;
  Graph graph;          // inputs: placeholders (args then captured); outputs: fun outs then captured outs
  size_t n_fun_outputs = 0;
  std::vector<size_t> captured_out_counts;
  std::vector<std::vector<Shape>> out_shapes;  // per tape node
  // The whole entry as one CompiledCall node (GPU replay), when it qualifies.
  std::shared_ptr<CompiledProgram> program;
  std::vector<size_t> program_inputs;  // index into graph.inputs of each program input
  int64_t calls = 0;
};

// Steps whose inputs and outputs together exceed this are not replayed: replay copies them
// into and out of the recording's fixed memory, which costs more than re-recording a few
// large kernels.
constexpr size_t kReplayMaxBytes = size_t(64) << 20;

bool replay_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("KILN_GPU_REPLAY");
    return !(e && std::string(e) == "0");
  }();
  return on;
}

// Builds the CompiledProgram of an entry if it can run as one recorded GPU step.
void make_program(CacheEntry& e) {
  const Graph& g = e.graph;
  if (e.sig.device != Device::gpu || e.sig.shapeless || !replay_enabled()) return;
  if (g.tape.size() < 2) return;
  std::unordered_set<uintptr_t> produced, read;
  for (auto& node : g.tape) {
    if (node.primitive().device() != Device::gpu) return;
    for (auto& o : node.outputs()) produced.insert(o.id());
    for (auto& in : node.inputs()) read.insert(in.id());
  }
  auto prog = std::make_shared<CompiledProgram>();
  size_t bytes = 0;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (read.count(g.inputs[i].id())) {
      prog->inputs.push_back(g.inputs[i]);
      e.program_inputs.push_back(i);
      bytes += g.inputs[i].nbytes();
    }
  std::unordered_set<uintptr_t> seen;
  for (auto& o : g.outputs)
    if (produced.count(o.id()) && seen.insert(o.id()).second) {
      prog->outputs.push_back(o);
      bytes += o.nbytes();
    }
  if (prog->outputs.empty() || bytes > kReplayMaxBytes) {
    e.program_inputs.clear();
    return;
  }
  prog->tape = g.tape;
  e.program = std::move(prog);
}

}  // namespace

struct CompiledFunctionImpl {
  VectorFn fun;
  CompileOptions opts;
  uint64_t id;
  std::mutex mutex;
  std::vector<std::unique_ptr<CacheEntry>> cache;
  int64_t traces = 0;
  std::string last_reason;
  std::vector<std::string> last_tape_names;
  std::vector<std::string> last_kernel_keys;
  const CacheEntry* last_entry = nullptr;

  std::vector<array> call(const std::vector<array>& args);
  std::unique_ptr<CacheEntry> trace(const std::vector<array>& args,
                                    const std::vector<array>& captured, const Signature& sig);
  std::vector<array> replay(const CacheEntry& e, const std::vector<array>& args,
                            const std::vector<array>& captured);
  // The entry as one CompiledCall node over the actual arguments.
  std::vector<array> call_program(const CacheEntry& e, const std::vector<array>& args,
                                  const std::vector<array>& captured);
};

namespace {

std::vector<array> gather_state(const std::vector<Stateful*>& states,
                                std::vector<size_t>* counts = nullptr) {
  std::vector<array> out;
  for (auto* s : states) {
    if (!s) throw std::invalid_argument("[compile] a captured Stateful pointer is null");
    auto a = s->state_arrays();
    if (counts) counts->push_back(a.size());
    out.insert(out.end(), a.begin(), a.end());
  }
  return out;
}

void scatter_state(const std::vector<Stateful*>& states, const std::vector<size_t>& counts,
                   const std::vector<array>& arrays, size_t offset) {
  for (size_t i = 0; i < states.size(); ++i) {
    std::vector<array> part(arrays.begin() + offset, arrays.begin() + offset + counts[i]);
    states[i]->set_state_arrays(part);
    offset += counts[i];
  }
}

}  // namespace

std::unique_ptr<CacheEntry> CompiledFunctionImpl::trace(const std::vector<array>& args,
                                                        const std::vector<array>& captured,
                                                        const Signature& sig) {
  auto entry = std::make_unique<CacheEntry>();
  entry->sig = sig;
  std::vector<array> ph_args, ph_cap;
  for (auto& a : args) ph_args.push_back(array::placeholder(a.shape(), a.dtype()));
  for (auto& a : captured) ph_cap.push_back(array::placeholder(a.shape(), a.dtype()));

  // swap captured inputs for placeholders while tracing; restore them whatever happens
  std::vector<size_t> in_counts;
  for (auto* s : opts.inputs) in_counts.push_back(s->state_arrays().size());
  scatter_state(opts.inputs, in_counts, ph_cap, 0);
  std::vector<array> outs, cap_outs;
  // Put the real arrays back into captured-input states. States that are also captured outputs
  // are overwritten after the call anyway, and their structure may have grown during the trace
  // (an optimizer creating its moments), so they are only restored when the trace fails.
  auto restore = [&](bool all) {
    size_t off = 0;
    for (size_t i = 0; i < opts.inputs.size(); ++i) {
      auto* st = opts.inputs[i];
      bool is_out =
          std::find(opts.outputs.begin(), opts.outputs.end(), st) != opts.outputs.end();
      if (all || !is_out) {
        std::vector<array> part(captured.begin() + off, captured.begin() + off + in_counts[i]);
        try {
          st->set_state_arrays(part);
        } catch (const std::exception&) {
          if (!all) throw;  // a failing trace reports its own error
        }
      }
      off += in_counts[i];
    }
  };
  try {
    outs = fun(ph_args);
    cap_outs = gather_state(opts.outputs, &entry->captured_out_counts);
  } catch (...) {
    restore(true);
    throw;
  }
  restore(false);

  // reject arrays that are both arguments and read from the closure
  std::unordered_set<uintptr_t> arg_ids;
  for (auto& a : args) arg_ids.insert(a.id());
  for (auto& a : captured) arg_ids.insert(a.id());

  Graph& g = entry->graph;
  g.inputs = ph_args;
  g.inputs.insert(g.inputs.end(), ph_cap.begin(), ph_cap.end());
  entry->n_fun_outputs = outs.size();
  g.outputs = outs;
  g.outputs.insert(g.outputs.end(), cap_outs.begin(), cap_outs.end());
  for (auto& o : g.outputs)
    if (!o.valid()) throw std::invalid_argument("[compile] the function returned an empty array");
  compile_detail::build_tape(g);
  for (auto& node : g.tape)
    for (auto& in : node.inputs())
      if (arg_ids.count(in.id()))
        throw std::invalid_argument(
            "[compile] the function reads an array from its closure that is also passed to it "
            "as an argument (or captured as state); pass it only as an argument");
  for (auto& o : g.outputs)
    if (!o.has_primitive() && arg_ids.count(o.id()))
      throw std::invalid_argument(
          "[compile] the function returns an array from its closure that is also passed to it "
          "as an argument; return the argument instead");

  compile_detail::fold_constants(g);
  CompileMode m = mode_slot().load();
  if (m != CompileMode::no_simplify) {
    compile_detail::simplify(g);
    compile_detail::fold_transposes(g);
  }
  if (m == CompileMode::enabled) {
    compile_detail::fuse(g);
    if (!sig.shapeless) compile_detail::batch_updates(g);
  }

  for (auto& node : g.tape) {
    std::vector<Shape> shapes;
    for (auto& o : node.outputs()) shapes.push_back(o.shape());
    entry->out_shapes.push_back(std::move(shapes));
  }
  if (m == CompileMode::enabled) make_program(*entry);
  last_tape_names.clear();
  last_kernel_keys.clear();
  for (auto& node : g.tape) {
    last_tape_names.push_back(node.primitive().name());
    if (auto* c = dynamic_cast<Compiled*>(&node.primitive()))
      last_kernel_keys.push_back(c->kernel_key());
  }
  return entry;
}

std::vector<array> CompiledFunctionImpl::replay(const CacheEntry& e,
                                                const std::vector<array>& args,
                                                const std::vector<array>& captured) {
  const Graph& g = e.graph;
  std::vector<array> actual(args);
  actual.insert(actual.end(), captured.begin(), captured.end());
  auto r = rebuild_tape(g.inputs, actual, g.tape, [&](size_t t, const std::vector<array>& ins) {
    // shapeless entries infer a node's shapes again when its inputs' shapes changed
    if (e.sig.shapeless) {
      const auto& traced = g.tape[t].inputs();
      for (size_t i = 0; i < ins.size(); ++i) {
        if (ins[i].shape() == traced[i].shape()) continue;
        try {
          return g.tape[t].primitive().output_shapes(ins);
        } catch (const std::invalid_argument& err) {
          throw std::invalid_argument(std::string(err.what()) +
                                      " (while replaying a shapeless compiled function)");
        }
      }
    }
    return e.out_shapes[t];
  });
  std::vector<array> result;
  for (auto& o : g.outputs) result.push_back(r.get(o));
  return result;
}

std::vector<array> CompiledFunctionImpl::call_program(const CacheEntry& e,
                                                      const std::vector<array>& args,
                                                      const std::vector<array>& captured) {
  const Graph& g = e.graph;
  const CompiledProgram& prog = *e.program;
  size_t na = args.size();
  auto actual = [&](size_t i) -> const array& { return i < na ? args[i] : captured[i - na]; };
  std::vector<array> ins;
  ins.reserve(e.program_inputs.size());
  for (size_t i : e.program_inputs) ins.push_back(actual(i));
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : prog.outputs) {
    shapes.push_back(o.shape());
    dtypes.push_back(o.dtype());
  }
  auto prim = std::make_shared<CompiledCall>(g.tape.front().primitive().stream(), e.program);
  std::vector<array> outs;
  if (shapes.size() == 1) outs.push_back(array(shapes[0], dtypes[0], prim, std::move(ins)));
  else outs = array::make_arrays(std::move(shapes), std::move(dtypes), prim, ins);
  std::unordered_map<uintptr_t, const array*> map;
  for (size_t i = 0; i < outs.size(); ++i) map.emplace(prog.outputs[i].id(), &outs[i]);
  for (size_t i = 0; i < g.inputs.size(); ++i) map.emplace(g.inputs[i].id(), &actual(i));
  std::vector<array> result;
  result.reserve(g.outputs.size());
  for (auto& o : g.outputs) {
    auto it = map.find(o.id());
    result.push_back(it == map.end() ? o : *it->second);  // else a constant of the trace
  }
  return result;
}

std::vector<array> CompiledFunctionImpl::call(const std::vector<array>& args) {
  for (auto& a : args)
    if (!a.valid()) throw std::invalid_argument("[compile] an argument is an empty array handle");
  // Under a transform (tracer inputs) or when disabled, run the function itself: the outer
  // transform or compile then sees (and optimises) the whole graph.
  bool tracer = false;
  for (auto& a : args) tracer = tracer || a.is_tracer();
  if (mode_slot().load() == CompileMode::disabled || tracer) return fun(args);

  std::vector<array> captured = gather_state(opts.inputs);
  for (auto& a : captured)
    if (!a.valid()) throw std::invalid_argument("[compile] captured state holds an empty array");
  Signature sig;
  sig.device = default_device();
  sig.shapeless = opts.shapeless;
  sig.n_inputs = args.size();
  sig.n_captured = captured.size();
  for (const std::vector<array>* v : std::initializer_list<const std::vector<array>*>{&args, &captured})
    for (auto& a : *v) {
      sig.ndims.push_back(a.ndim());
      sig.dtypes.push_back(a.dtype());
      if (!opts.shapeless) sig.shapes.push_back(a.shape());
    }

  std::unique_lock<std::mutex> lock(mutex);
  CacheEntry* entry = nullptr;
  for (auto& e : cache)
    if (e->sig.matches(sig)) {
      entry = e.get();
      break;
    }
  if (!entry) {
    std::string reason = cache.empty() ? "first call" : describe_change(cache.back()->sig, sig);
    last_reason = reason;
    if (compile_detail::log_enabled("compile"))
      std::cerr << "[kiln compile] function #" << id << ": tracing (" << reason << ")\n";
    auto fresh = trace(args, captured, sig);
    ++traces;
    ++g_trace_count;
    cache.push_back(std::move(fresh));
    entry = cache.back().get();
  }
  std::vector<array> result;
  // An entry is recorded for replay on its second call: entries called once (an optimizer's
  // first step, before its moments exist) never pay for a recording.
  last_entry = entry;
  if (++entry->calls >= 2 && entry->program && !entry->program->unreplayable) {
    result = call_program(*entry, args, captured);
  } else {
    result = replay(*entry, args, captured);
  }
  lock.unlock();
  std::vector<array> fun_outs(result.begin(), result.begin() + entry->n_fun_outputs);
  if (!opts.outputs.empty()) {
    std::vector<array> cap(result.begin() + entry->n_fun_outputs, result.end());
    scatter_state(opts.outputs, entry->captured_out_counts, cap, 0);
  }
  return fun_outs;
}

namespace {
struct CompiledCallable {
  std::shared_ptr<CompiledFunctionImpl> impl;
  std::vector<array> operator()(const std::vector<array>& args) const { return impl->call(args); }
};
}  // namespace

VectorFn compile(VectorFn fun, CompileOptions options) {
  if (!fun) throw std::invalid_argument("[compile] the function is empty");
  static std::atomic<uint64_t> next_id{1};
  auto impl = std::make_shared<CompiledFunctionImpl>();
  impl->fun = std::move(fun);
  impl->opts = std::move(options);
  impl->id = next_id++;
  return CompiledCallable{impl};
}

void set_compile_mode(CompileMode mode) { mode_slot() = mode; }
CompileMode compile_mode() { return mode_slot().load(); }
void disable_compile() { mode_slot() = CompileMode::disabled; }
void enable_compile() { mode_slot() = CompileMode::enabled; }

namespace detail {
CompileInfo compile_info(const VectorFn& fn) {
  auto* c = fn.target<CompiledCallable>();
  if (!c) throw std::invalid_argument("[compile_info] the function does not come from kiln::compile");
  std::lock_guard<std::mutex> lk(c->impl->mutex);
  CompileInfo info;
  info.traces = c->impl->traces;
  info.cache_entries = static_cast<int64_t>(c->impl->cache.size());
  info.last_reason = c->impl->last_reason;
  info.tape = c->impl->last_tape_names;
  info.kernel_keys = c->impl->last_kernel_keys;
  info.replay = "off";
  if (const CacheEntry* e = c->impl->last_entry; e && e->program) {
    const CompiledProgram& p = *e->program;
    std::lock_guard<std::mutex> plk(p.mutex);
    if (p.unreplayable) info.replay = "not replayable: " + p.why_unreplayable;
    else if (p.recording) info.replay = "recorded";
    else info.replay = "pending";
  }
  return info;
}
int64_t total_traces() { return g_trace_count.load(); }
}  // namespace detail

}  // namespace kiln
