#include "kernels.h"

namespace kiln {

using namespace gpu;

void Gather::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  fallback(*this, inputs, outputs, "no kernel yet");
}

void ScatterAdd::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  fallback(*this, inputs, outputs, "no kernel yet");
}

void GatherAxis::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  fallback(*this, inputs, outputs, "no kernel yet");
}

void ScatterAxis::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  fallback(*this, inputs, outputs, "no kernel yet");
}

}  // namespace kiln
