#include "kernels.h"

namespace kiln {

using namespace gpu;

void Sort::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  fallback(*this, inputs, outputs, "no kernel yet");
}

}  // namespace kiln
