// The GPU path of linalg::qr (gpu/qr.cpp). Declared apart from kernels.h so that linalg/
// needs no Vulkan headers.
#pragma once
#include <vector>

#include "../core/array.h"
#include "../core/primitives.h"

namespace kiln::gpu {

// Evaluates a QR primitive (outputs Q (..., m, k), R (..., k, n)) on the device when the
// input is float32 with n ≤ m and n ≤ 256 and the device has float64 arithmetic: two
// CholeskyQR passes with float64 Gram matrices, Householder signs (see gpu/qr.cpp).
// Otherwise the CPU (Eigen) evaluates it, counted as a fallback.
void eval_qr(Primitive& qr, const std::vector<array>& inputs, std::vector<array>& outputs);

}  // namespace kiln::gpu
