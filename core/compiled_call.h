// CompiledCall: a whole compiled function (one cache entry of `compile`) as ONE node of the
// lazy graph, so a GPU backend can record the commands of the step once and replay them on
// later calls (gpu/replay.cpp) instead of rebuilding and re-recording the graph each time.
// compile/ creates it only when the entry can run that way (docs/compile.md, "GPU replay").
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "primitives.h"

namespace kiln {

// A traced tape rebuilt over actual inputs: one new lazy node per tape node, same primitive.
// Shared by compile's node-by-node replay (with shapeless shapes) and CompiledProgram::expand.
struct RebuiltTape {
  std::unordered_map<uintptr_t, array> map;  // tape / placeholder array id → its rebuilt array
  std::vector<array> nodes;                  // new nodes in tape order (first output of each)
  // The rebuilt array of a traced one (a constant of the trace is itself).
  const array& get(const array& a) const {
    auto it = map.find(a.id());
    return it == map.end() ? a : it->second;
  }
};
// `shapes(t, ins)` gives tape node t's output shapes over its rebuilt inputs `ins`.
RebuiltTape rebuild_tape(
    const std::vector<array>& placeholders, const std::vector<array>& actual,
    const std::vector<array>& tape,
    const std::function<std::vector<Shape>(size_t, const std::vector<array>&)>& shapes);

// The traced program of a compile cache entry, shared by every CompiledCall node of it.
struct CompiledProgram {
  std::vector<array> inputs;   // the placeholders the tape reads (a CompiledCall's inputs)
  std::vector<array> tape;     // one array per node, inputs before consumers
  std::vector<array> outputs;  // distinct node outputs (a CompiledCall's outputs)
  // Set by a backend when the program cannot be recorded (a CPU fallback, a host read...);
  // compile then replays it node by node like any other entry.
  std::atomic<bool> unreplayable{false};
  std::string why_unreplayable;
  // Backend state (gpu/replay.cpp: the recorded commands and the memory they use).
  std::shared_ptr<void> recording;
  mutable std::mutex mutex;  // guards why_unreplayable and recording

  struct Expanded {
    std::vector<array> nodes;    // new nodes in tape order (first output of each)
    std::vector<array> outputs;  // one per `outputs`
  };
  // The lazy graph of the tape over `actual` (one array per `inputs`, same shapes).
  Expanded expand(const std::vector<array>& actual) const;
};

class CompiledCall : public Primitive {
 public:
  CompiledCall(Stream s, std::shared_ptr<CompiledProgram> program)
      : Primitive(s), program_(std::move(program)) {}
  const std::shared_ptr<CompiledProgram>& program() const { return program_; }

  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::string name() const override { return "CompiledCall"; }
  bool is_equivalent(const Primitive& o) const override;

  // Evaluates the expanded graph node by node on `device` (the path without replay).
  void eval_nodes(const std::vector<array>& inputs, std::vector<array>& outputs, Device device);

 private:
  std::shared_ptr<CompiledProgram> program_;
};

}  // namespace kiln
