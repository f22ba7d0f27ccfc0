// Transforms through a fused region: expand it back into its primitives and differentiate
// that (fused regions only appear in compiled graphs, so this is rare).
#include "../core/compiled.h"
#include "compile.h"
#include "../core/ops.h"

namespace kiln {

std::vector<array> Compiled::vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>&) {
  auto res = kiln::vjp([this](const std::vector<array>& in) { return expand(in); }, primals,
                       cotangents);
  std::vector<array> out;
  for (int a : argnums) out.push_back(res.second[a]);
  return out;
}

std::vector<array> Compiled::jvp(const std::vector<array>& primals,
                                 const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) {
  std::vector<array> full;
  for (auto& p : primals) full.push_back(zeros_like(p));
  for (size_t i = 0; i < argnums.size(); ++i) full[argnums[i]] = tangents[i];
  return kiln::jvp([this](const std::vector<array>& in) { return expand(in); }, primals, full)
      .second;
}

}  // namespace kiln
