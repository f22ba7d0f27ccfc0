// Activation functions (functional forms and layers), as in mlx.nn. Compositions of ops, so
// compile fuses them and autograd differentiates them.
#pragma once
#include "module.h"

namespace kiln::nn {

// max(x, 0)
array relu(const array& x);
// max(x, negative_slope * x). Default negative_slope = 0.01.
array leaky_relu(const array& x, float negative_slope = 0.01f);
// x if x > 0 else alpha * (exp(x) - 1). Default alpha = 1.
array elu(const array& x, float alpha = 1.f);
// min(max(x, 0), 6)
array relu6(const array& x);
// Exact GELU: x * (1 + erf(x / sqrt(2))) / 2.
array gelu(const array& x);
// The tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (MLX gelu_approx).
array gelu_approx(const array& x);
// The sigmoid approximation x * sigmoid(1.702 x) (MLX gelu_fast_approx).
array gelu_fast_approx(const array& x);
// x * sigmoid(x)
array silu(const array& x);
array sigmoid(const array& x);
array tanh(const array& x);
// log(1 + exp(x)), computed stably.
array softplus(const array& x);
// Softmax along axis (default the last).
array softmax(const array& x, int axis = -1);
array log_softmax(const array& x, int axis = -1);

class ReLU : public Module {
 public:
  array operator()(const array& x) override { return relu(x); }
  std::string name() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(float negative_slope = 0.01f) : negative_slope_(negative_slope) {}
  array operator()(const array& x) override { return leaky_relu(x, negative_slope_); }
  std::string name() const override { return "LeakyReLU"; }
  std::string describe() const override;

 private:
  float negative_slope_;
};

class ELU : public Module {
 public:
  explicit ELU(float alpha = 1.f) : alpha_(alpha) {}
  array operator()(const array& x) override { return elu(x, alpha_); }
  std::string name() const override { return "ELU"; }
  std::string describe() const override;

 private:
  float alpha_;
};

class ReLU6 : public Module {
 public:
  array operator()(const array& x) override { return relu6(x); }
  std::string name() const override { return "ReLU6"; }
};

// GELU. Approx::none is the exact form (MLX default), Approx::tanh (MLX "precise"/"tanh")
// the tanh approximation, Approx::fast the sigmoid approximation.
class GELU : public Module {
 public:
  enum class Approx { none, tanh, fast };
  explicit GELU(Approx approx = Approx::none) : approx_(approx) {}
  array operator()(const array& x) override;
  std::string name() const override { return "GELU"; }
  std::string describe() const override;

 private:
  Approx approx_;
};

class SiLU : public Module {
 public:
  array operator()(const array& x) override { return silu(x); }
  std::string name() const override { return "SiLU"; }
};

class Tanh : public Module {
 public:
  array operator()(const array& x) override { return nn::tanh(x); }
  std::string name() const override { return "Tanh"; }
};

class Sigmoid : public Module {
 public:
  array operator()(const array& x) override { return nn::sigmoid(x); }
  std::string name() const override { return "Sigmoid"; }
};

class Softplus : public Module {
 public:
  array operator()(const array& x) override { return softplus(x); }
  std::string name() const override { return "Softplus"; }
};

// Softmax over the last axis (MLX's nn.Softmax).
class Softmax : public Module {
 public:
  array operator()(const array& x) override { return nn::softmax(x, -1); }
  std::string name() const override { return "Softmax"; }
};

}  // namespace kiln::nn
