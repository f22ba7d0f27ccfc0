// Fused kernels: GLSL generated from a Compiled region's tape, compiled in-process by the
// glslang library, cached in memory and on disk ($KILN_CACHE_DIR) by a key of structure and
// dtypes (never shapes).
#pragma once
#include <cstdint>
#include <vector>

#include "../core/compiled.h"

namespace kiln::gpu {

// Records one dispatch computing every output of `c`. Returns false (recording nothing) when
// the region uses an op/dtype the generator does not cover or does not fit the push-constant
// budget; the caller then runs the region node by node.
bool eval_fused(const Compiled& c, const std::vector<array>& inputs, std::vector<array>& outputs);
// Records ONE dispatch computing every part of `b` (each part over its own index range; the
// operand addresses in a small host-visible table). False when a part has broadcast operands
// or the generator does not cover it: the parts then run one by one.
bool eval_fused_batch(const CompiledBatch& b, const std::vector<array>& inputs,
                      std::vector<array>& outputs);

struct FusedStats {
  int64_t glsl_compiles = 0;  // GLSL → SPIR-V compilations in this process
  int64_t disk_hits = 0;      // kernels loaded from the disk cache
  int64_t dispatches = 0;     // fused dispatches recorded
  int64_t fallbacks = 0;      // regions run node by node
};
FusedStats fused_stats();

}  // namespace kiln::gpu
