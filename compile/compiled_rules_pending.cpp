// TEMPORARY until autograd/transforms.cpp lands: transforms through fused regions throw.
#include "../core/compiled.h"
#include "../core/errors.h"
namespace kiln {
std::vector<array> Compiled::vjp(const std::vector<array>&, const std::vector<array>&,
                                 const std::vector<int>&, const std::vector<array>&) {
  throw TransformError("[vjp] not implemented for Compiled yet");
}
std::vector<array> Compiled::jvp(const std::vector<array>&, const std::vector<array>&,
                                 const std::vector<int>&) {
  throw TransformError("[jvp] not implemented for Compiled yet");
}
}  // namespace kiln
