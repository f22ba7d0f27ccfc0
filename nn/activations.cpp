#include "activations.h"

#include <cmath>
#include <sstream>

#include "../core/ops.h"

namespace kiln::nn {

namespace {
// A scalar in x's floating dtype (integer inputs compute in float32).
array scalar(float v, const array& x) {
  return array(v, is_floating(x.dtype()) ? x.dtype() : float32);
}
}  // namespace

array relu(const array& x) { return maximum(x, zeros({}, x.dtype())); }

array leaky_relu(const array& x, float negative_slope) { return maximum(x * negative_slope, x); }

array elu(const array& x, float alpha) { return where(x > 0.f, x, expm1(x) * alpha); }

array relu6(const array& x) {
  return minimum(maximum(x, zeros({}, x.dtype())), array(6, x.dtype()));
}

array gelu(const array& x) {
  return x * (1.f + erf(x * scalar(static_cast<float>(M_SQRT1_2), x))) * 0.5f;
}

array gelu_approx(const array& x) {
  const float c = static_cast<float>(std::sqrt(2.0 / M_PI));
  return x * 0.5f * (1.f + kiln::tanh((x + x * x * x * 0.044715f) * c));
}

array gelu_fast_approx(const array& x) { return x * kiln::sigmoid(x * 1.702f); }

array silu(const array& x) { return x * kiln::sigmoid(x); }
array sigmoid(const array& x) { return kiln::sigmoid(x); }
array tanh(const array& x) { return kiln::tanh(x); }

array softplus(const array& x) { return logaddexp(x, zeros({}, x.dtype())); }

array softmax(const array& x, int axis) { return kiln::softmax(x, axis, /*precise=*/true); }
array log_softmax(const array& x, int axis) { return kiln::log_softmax(x, axis); }

std::string LeakyReLU::describe() const {
  std::ostringstream os;
  os << "LeakyReLU(negative_slope=" << negative_slope_ << ")";
  return os.str();
}

std::string ELU::describe() const {
  std::ostringstream os;
  os << "ELU(alpha=" << alpha_ << ")";
  return os.str();
}

array GELU::operator()(const array& x) {
  switch (approx_) {
    case Approx::tanh:
      return gelu_approx(x);
    case Approx::fast:
      return gelu_fast_approx(x);
    default:
      return gelu(x);
  }
}

std::string GELU::describe() const {
  const char* a = approx_ == Approx::tanh ? "tanh" : approx_ == Approx::fast ? "fast" : "none";
  return std::string("GELU(approx=") + a + ")";
}

}  // namespace kiln::nn
