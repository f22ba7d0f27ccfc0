// Introspection of compiled functions (tests, benchmarks, debugging).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../autograd/transforms.h"

namespace kiln::detail {

struct CompileInfo {
  int64_t traces = 0;         // how many times the function was traced
  int64_t cache_entries = 0;  // signatures cached
  std::string last_reason;    // why the last trace happened
  std::vector<std::string> tape;         // primitive names of the last traced tape, in order
  std::vector<std::string> kernel_keys;  // kernel keys of its fused regions
  // GPU replay of the most recently used cache entry (docs/gpu.md): "off" (not a GPU entry, or
  // KILN_GPU_REPLAY=0, shapeless, too large...), "pending" (recorded on its next GPU
  // evaluation), "recorded", or "not replayable: <reason>".
  std::string replay;
};

// Info of a function returned by kiln::compile (vector form).
CompileInfo compile_info(const VectorFn& fn);
// Traces performed by all compiled functions of the process.
int64_t total_traces();

}  // namespace kiln::detail
