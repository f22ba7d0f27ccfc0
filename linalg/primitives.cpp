// Construction-side methods of the linalg primitives, their (absent) derivative rules and
// their GPU path.
#include "primitives.h"

#include "../core/errors.h"
#include "../gpu/qr.h"

namespace kiln::linalg {

namespace {
[[noreturn]] void not_differentiable(const std::string& transform, const std::string& op) {
  throw TransformError("[" + transform + "] " + op +
                       " is not differentiable; wrap its input in stop_gradient to use it "
                       "inside a differentiated function");
}

// (..., m, n) -> {(..., m, k), (..., k, n)} or with a middle (..., k) for the SVD.
Shape with_last(const Shape& in, std::initializer_list<int> last) {
  Shape s(in.begin(), in.end() - 2);
  s.insert(s.end(), last.begin(), last.end());
  return s;
}
}  // namespace

std::vector<array> QR::vjp(const std::vector<array>&, const std::vector<array>&,
                           const std::vector<int>&, const std::vector<array>&) {
  not_differentiable("vjp", "linalg::qr");
}
std::vector<array> QR::jvp(const std::vector<array>&, const std::vector<array>&,
                           const std::vector<int>&) {
  not_differentiable("jvp", "linalg::qr");
}
bool QR::is_equivalent(const Primitive& o) const { return typeid(o) == typeid(QR); }
std::vector<Shape> QR::output_shapes(const std::vector<array>& inputs) {
  const Shape& in = inputs[0].shape();
  int m = in[in.size() - 2], n = in.back(), k = std::min(m, n);
  return {with_last(in, {m, k}), with_last(in, {k, n})};
}

std::vector<array> SVD::vjp(const std::vector<array>&, const std::vector<array>&,
                            const std::vector<int>&, const std::vector<array>&) {
  not_differentiable("vjp", "linalg::svd");
}
std::vector<array> SVD::jvp(const std::vector<array>&, const std::vector<array>&,
                            const std::vector<int>&) {
  not_differentiable("jvp", "linalg::svd");
}
bool SVD::is_equivalent(const Primitive& o) const { return typeid(o) == typeid(SVD); }
std::vector<Shape> SVD::output_shapes(const std::vector<array>& inputs) {
  const Shape& in = inputs[0].shape();
  int m = in[in.size() - 2], n = in.back(), k = std::min(m, n);
  return {with_last(in, {m, k}), with_last(in, {k}), with_last(in, {k, n})};
}

// QR: Vulkan kernels for tall-skinny float32 matrices (gpu/qr.cpp), else the CPU.
void QR::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  gpu::eval_qr(*this, inputs, outputs);
}
// SVD: no Vulkan kernels; the decomposition runs on the host. Reading an input's host
// pointer downloads it (waiting for the work that produces it); the outputs hold host
// data that the GPU backend uploads when a later GPU primitive reads them.
void SVD::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_cpu(inputs, outputs);
}

}  // namespace kiln::linalg
