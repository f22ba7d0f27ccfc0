// The compile pipeline's internal representation and its named passes. Each pass is a free
// function over a Graph; CompileMode switches them off for bisecting.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/array.h"
#include "../core/primitives.h"

namespace kiln::compile_detail {

// A traced graph: inputs are placeholders, outputs are tracer arrays over them.
struct Graph {
  std::vector<array> inputs;
  std::vector<array> outputs;
  // One array per node (its first output), inputs before consumers. Built by build_tape().
  std::vector<array> tape;
};

// Topological order of the nodes reachable from g.outputs (iterative, no recursion).
void build_tape(Graph& g);
// Evaluates sub-graphs that do not depend on the inputs: they are constants of the trace.
void fold_constants(Graph& g);
// Merges equal scalar constants, drops StopGradient/identity no-ops, and merges equivalent
// nodes (common subexpressions).
void simplify(Graph& g);
// Groups chains of elementwise nodes into Compiled primitives; a member also used outside its
// group becomes an extra output.
void fuse(Graph& g);
// Matmul(swapaxes(x, -1, -2), y) → Matmul with a transpose flag over x (no transpose copy).
void fold_transposes(Graph& g);
// GPU: the elementwise sinks of the graph (regions whose values are only function outputs — the
// parameter and optimizer-state updates of a training step) become one CompiledBatch, run as
// one dispatch (a multi-tensor update).
void batch_updates(Graph& g);

struct FuseLimits {
  int max_nodes = 96;
  int max_inputs = 24;
  int max_outputs = 12;
};
FuseLimits& fuse_limits();

// Rebuilds a graph node by node through `map` (old id → new array): `make` decides each node.
// `get` maps an old array to its rebuilt value.
using GetFn = std::function<array(const array&)>;
using NodeFn =
    std::function<std::vector<array>(const array& node, std::vector<array> inputs, const GetFn& get)>;
void rebuild(Graph& g, const NodeFn& make);

bool log_enabled(const char* subsystem);

}  // namespace kiln::compile_detail
