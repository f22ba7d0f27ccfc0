// nn: Module mechanics, every layer's forward against independently computed values,
// initializers, losses, value_and_grad.
#include <gtest/gtest.h>
#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <cmath>
#include <numeric>

namespace kx = kiln;
namespace nn = kiln::nn;
using kx::array;

namespace {

void expect_close(array a, const std::vector<float>& expected, float tol = 1e-5f) {
  auto v = a.to_vector<float>();
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_NEAR(v[i], expected[i], tol * std::max(1.f, std::abs(expected[i]))) << "at " << i;
}

std::vector<float> iota_vals(size_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * scale + offset);
  return v;
}

struct MLP : nn::Module {
  nn::Linear& l1 = register_module("l1", nn::Linear(4, 8));
  nn::Linear& l2 = register_module("l2", nn::Linear(8, 3));
  array operator()(const array& x) override { return l2(nn::relu(l1(x))); }
  std::string name() const override { return "MLP"; }
};

}  // namespace

// ------------------------------------------------------------------ Module mechanics
TEST(Module, LinearParametersAndInit) {
  kx::random::seed(1);
  nn::Linear l(3, 2);
  auto p = l.parameters();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p.at("weight").shape(), kx::Shape({2, 3}));
  EXPECT_EQ(p.at("bias").shape(), kx::Shape({2}));
  float lim = 1.f / std::sqrt(3.f);
  for (float w : p.at("weight").to_vector<float>()) EXPECT_LE(std::abs(w), lim);
  for (float b : p.at("bias").to_vector<float>()) EXPECT_LE(std::abs(b), lim);
  nn::Linear nb(3, 2, false);
  EXPECT_EQ(nb.parameters().size(), 1u);
  EXPECT_EQ(l.num_parameters(), 8u);
}

TEST(Module, LinearForward) {
  nn::Linear l(3, 2);
  l.update(
      {{"weight", array({1.f, 2.f, 3.f, -1.f, 0.f, 1.f}, {2, 3})}, {"bias", array({0.5f, -0.5f})}});
  array x({1.f, 1.f, 1.f, 2.f, -1.f, 0.f}, {2, 3});
  // row 0: [6.5, -0.5], row 1: [0.5, -2.5]
  expect_close(l(x), {6.5f, -0.5f, 0.5f, -2.5f});
  EXPECT_THROW(l(array({1.f, 2.f})), std::invalid_argument);
}

TEST(Module, SequentialNamesAndForward) {
  nn::Sequential s(nn::Linear(2, 3), nn::ReLU(), nn::Linear(3, 1));
  auto p = s.parameters();
  std::vector<std::string> keys;
  for (auto& [k, v] : p) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"layers.0.bias", "layers.0.weight", "layers.2.bias",
                                            "layers.2.weight"}));
  array x({0.3f, -0.7f}, {1, 2});
  auto& l0 = dynamic_cast<nn::Linear&>(s[0]);
  auto& l2 = dynamic_cast<nn::Linear&>(s[2]);
  array ref = l2(nn::relu(l0(x)));
  EXPECT_TRUE(kx::array_equal(s(x), ref).item<bool>());
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.children().size(), 3u);
  EXPECT_EQ(s.children()[1].first, "layers.1");
}

TEST(Module, UserModuleNestedPaths) {
  MLP m;
  auto p = m.parameters();
  EXPECT_TRUE(p.count("l1.weight") && p.count("l1.bias") && p.count("l2.weight"));
  EXPECT_EQ(m.num_parameters(), 4u * 8 + 8 + 8 * 3 + 3);
  auto mods = m.named_modules();
  ASSERT_EQ(mods.size(), 3u);
  EXPECT_EQ(mods[0].first, "");
  EXPECT_EQ(mods[2].first, "l2");
  array x = kx::ones({2, 4});
  EXPECT_EQ(m(x).shape(), kx::Shape({2, 3}));
  std::string s = m.summary();
  EXPECT_NE(s.find("Linear(input_dims=4, output_dims=8, bias=true)"), std::string::npos);
  EXPECT_NE(s.find("total parameters: 67"), std::string::npos);
  std::ostringstream os;
  os << m;
  EXPECT_NE(os.str().find("(l2): Linear"), std::string::npos);
}

TEST(Module, UpdateValidates) {
  nn::Linear l(2, 2);
  EXPECT_THROW(l.update({{"nope", kx::zeros({2})}}), std::invalid_argument);
  EXPECT_THROW(l.update({{"bias", kx::zeros({3})}}), std::invalid_argument);
  EXPECT_NO_THROW(l.update({{"nope", kx::zeros({2})}}, /*strict=*/false));
  l.update({{"bias", kx::ones({2})}});
  expect_close(l.parameters().at("bias"), {1.f, 1.f});
}

TEST(Module, FreezeUnfreeze) {
  MLP m;
  EXPECT_EQ(m.trainable_parameters().size(), 4u);
  m.freeze();
  EXPECT_TRUE(m.trainable_parameters().empty());
  EXPECT_EQ(m.parameters().size(), 4u);
  m.unfreeze({"l1"});  // a module path
  auto t = m.trainable_parameters();
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.count("l1.weight") && t.count("l1.bias"));
  m.unfreeze();
  m.freeze({"bias"});  // a local name, everywhere
  t = m.trainable_parameters();
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.count("l1.weight") && t.count("l2.weight"));
  m.unfreeze();
  m.freeze({"l2.weight"});  // a full path
  EXPECT_EQ(m.trainable_parameters().size(), 3u);
  EXPECT_EQ(m.num_parameters(true), 67u - 24u);
  m.unfreeze();
  m.freeze({}, /*recurse=*/false);  // the root has no own parameters
  EXPECT_EQ(m.trainable_parameters().size(), 4u);
}

TEST(Module, TrainEvalRecursive) {
  nn::Sequential s(nn::Linear(2, 2), nn::Dropout(0.5f));
  EXPECT_TRUE(s.training());
  s.eval();
  EXPECT_FALSE(s.training());
  EXPECT_FALSE(s[1].training());
  s.train();
  EXPECT_TRUE(s[1].training());
}

TEST(Module, StatefulRoundTrip) {
  MLP m;
  auto st = m.state_arrays();
  ASSERT_EQ(st.size(), 4u);
  auto p = m.parameters();
  size_t i = 0;
  for (auto& [k, v] : p) EXPECT_TRUE(st[i++].is_same(v)) << k;
  std::vector<array> repl;
  for (auto& a : st) repl.push_back(kx::zeros_like(a));
  m.set_state_arrays(repl);
  for (auto& [k, v] : m.parameters()) EXPECT_EQ(kx::sum(kx::abs(v)).item<float>(), 0.f) << k;
  EXPECT_THROW(m.set_state_arrays({kx::zeros({1})}), std::invalid_argument);
}

TEST(Module, SingleInputForwardMissing) {
  struct Bare : nn::Module {};
  Bare b;
  EXPECT_THROW(b(kx::zeros({1})), std::invalid_argument);
}

// ------------------------------------------------------------------ activations
TEST(Activations, AgainstFormulas) {
  std::vector<float> xs{-3.f, -1.f, -0.5f, 0.f, 0.5f, 1.f, 3.f};
  array x(xs, {7});
  auto ref = [&](auto f) {
    std::vector<float> r;
    for (float v : xs) r.push_back(static_cast<float>(f(static_cast<double>(v))));
    return r;
  };
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  expect_close(nn::relu(x), ref([](double v) { return v > 0 ? v : 0.0; }));
  expect_close(nn::leaky_relu(x), ref([](double v) { return v > 0 ? v : 0.01 * v; }));
  expect_close(nn::leaky_relu(x, 0.2f), ref([](double v) { return v > 0 ? v : 0.2 * v; }));
  expect_close(nn::elu(x), ref([](double v) { return v > 0 ? v : std::expm1(v); }));
  expect_close(nn::elu(x, 0.5f), ref([](double v) { return v > 0 ? v : 0.5 * std::expm1(v); }));
  expect_close(nn::relu6(x * 3.f),
               ref([](double v) { return std::min(std::max(3 * v, 0.0), 6.0); }));
  expect_close(nn::gelu(x),
               ref([](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }));
  expect_close(nn::gelu_approx(x), ref([](double v) {
                 return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
               }));
  expect_close(nn::gelu_fast_approx(x), ref([&](double v) { return v * sig(1.702 * v); }));
  expect_close(nn::silu(x), ref([&](double v) { return v * sig(v); }));
  expect_close(nn::sigmoid(x), ref(sig));
  expect_close(nn::tanh(x), ref([](double v) { return std::tanh(v); }));
  expect_close(nn::softplus(x), ref([](double v) { return std::log1p(std::exp(v)); }));
  // Layers agree with the functions.
  EXPECT_TRUE(kx::allclose(nn::GELU()(x), nn::gelu(x)).item<bool>());
  EXPECT_TRUE(kx::allclose(nn::GELU(nn::GELU::Approx::tanh)(x), nn::gelu_approx(x)).item<bool>());
  EXPECT_TRUE(
      kx::allclose(nn::GELU(nn::GELU::Approx::fast)(x), nn::gelu_fast_approx(x)).item<bool>());
  EXPECT_TRUE(kx::allclose(nn::SiLU()(x), nn::silu(x)).item<bool>());
  EXPECT_TRUE(kx::allclose(nn::LeakyReLU(0.2f)(x), nn::leaky_relu(x, 0.2f)).item<bool>());
  EXPECT_TRUE(kx::allclose(nn::ELU()(x), nn::elu(x)).item<bool>());
  EXPECT_TRUE(kx::allclose(nn::Tanh()(x), nn::tanh(x)).item<bool>());
  EXPECT_TRUE(kx::allclose(nn::Sigmoid()(x), nn::sigmoid(x)).item<bool>());
  EXPECT_TRUE(kx::allclose(nn::ReLU()(x), nn::relu(x)).item<bool>());
}

TEST(Activations, Softmax) {
  array x({1.f, 2.f, 3.f, -1.f, 0.f, 1.f}, {2, 3});
  double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0);
  double s = e1 + e2 + e3;
  std::vector<float> row{static_cast<float>(e1 / s), static_cast<float>(e2 / s),
                         static_cast<float>(e3 / s)};
  expect_close(nn::Softmax()(x), {row[0], row[1], row[2], row[0], row[1], row[2]});
  expect_close(
      nn::softmax(x, 0),
      {static_cast<float>(1 / (1 + std::exp(-2.0))), static_cast<float>(1 / (1 + std::exp(-2.0))),
       static_cast<float>(1 / (1 + std::exp(-2.0))), static_cast<float>(1 / (1 + std::exp(2.0))),
       static_cast<float>(1 / (1 + std::exp(2.0))), static_cast<float>(1 / (1 + std::exp(2.0)))});
}

// ------------------------------------------------------------------ Dropout
TEST(Dropout, EvalIsIdentityAndTrainingScales) {
  kx::random::seed(3);
  nn::Dropout d(0.25f);
  array x = kx::ones({4000});
  d.eval();
  EXPECT_TRUE(d(x).is_same(x));
  d.train();
  auto v = d(x).to_vector<float>();
  int zeros = 0;
  for (float e : v) {
    if (e == 0.f)
      ++zeros;
    else
      EXPECT_FLOAT_EQ(e, 1.f / 0.75f);
  }
  EXPECT_NEAR(zeros / 4000.0, 0.25, 0.03);
  // The global key advances: two calls draw different masks.
  EXPECT_FALSE(kx::array_equal(d(x), d(x)).item<bool>());
  nn::Dropout d0(0.f);
  EXPECT_TRUE(d0(x).is_same(x));
  EXPECT_THROW(nn::Dropout(1.f), std::invalid_argument);
  EXPECT_THROW(nn::Dropout(-0.1f), std::invalid_argument);
}

TEST(Dropout, CompiledCapturingRandomState) {
  kx::set_default_device(kx::Device::cpu);
  nn::Dropout d(0.5f);
  array x = kx::ones({64});
  kx::random::seed(5);
  array e1 = d(x);
  kx::eval(e1);
  array e2 = d(x);
  kx::eval(e2);
  kx::random::seed(5);
  auto f = kx::compile([&](const array& a) { return d(a); },
                       {.inputs = {&kx::random::state()}, .outputs = {&kx::random::state()}});
  array c1 = f(x);
  kx::eval(c1);
  array c2 = f(x);
  // Fresh masks per call, the same stream as eager.
  EXPECT_TRUE(kx::array_equal(c1, e1).item<bool>());
  EXPECT_TRUE(kx::array_equal(c2, e2).item<bool>());
  EXPECT_FALSE(kx::array_equal(c1, c2).item<bool>());
}

// ------------------------------------------------------------------ normalisation
TEST(Norm, LayerNorm) {
  nn::LayerNorm ln(3);
  array x({1.f, 2.f, 4.f, -1.f, -1.f, 2.f}, {2, 3});
  auto ref = [](std::vector<double> r, double eps) {
    double m = (r[0] + r[1] + r[2]) / 3, v = 0;
    for (double e : r) v += (e - m) * (e - m);
    v /= 3;
    std::vector<float> o;
    for (double e : r) o.push_back(static_cast<float>((e - m) / std::sqrt(v + eps)));
    return o;
  };
  auto r0 = ref({1, 2, 4}, 1e-5), r1 = ref({-1, -1, 2}, 1e-5);
  std::vector<float> expect(r0);
  expect.insert(expect.end(), r1.begin(), r1.end());
  expect_close(ln(x), expect);
  ln.update({{"weight", array({2.f, 1.f, 0.f})}, {"bias", array({0.f, 1.f, 3.f})}});
  expect_close(ln(x), {2 * r0[0], r0[1] + 1, 3.f, 2 * r1[0], r1[1] + 1, 3.f});
  nn::LayerNorm plain(3, 1e-5f, /*affine=*/false);
  EXPECT_TRUE(plain.parameters().empty());
  expect_close(plain(x), expect);
  EXPECT_THROW(ln(kx::ones({2, 4})), std::invalid_argument);
}

TEST(Norm, RMSNorm) {
  nn::RMSNorm n(2, 1e-5f);
  array x({3.f, 4.f, -1.f, 1.f}, {2, 2});
  double r0 = 1 / std::sqrt(12.5 + 1e-5), r1 = 1 / std::sqrt(1.0 + 1e-5);
  expect_close(n(x), {static_cast<float>(3 * r0), static_cast<float>(4 * r0),
                      static_cast<float>(-r1), static_cast<float>(r1)});
}

TEST(Norm, BatchNormTrainingEvalAndState) {
  nn::BatchNorm bn(2);
  auto t = bn.trainable_parameters();
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(bn.parameters().size(), 4u);
  bn.unfreeze();
  EXPECT_EQ(bn.trainable_parameters().size(), 2u);  // running stats stay non-trainable
  array x({1.f, 10.f, 3.f, 20.f, 5.f, 30.f, 7.f, 40.f}, {4, 2});
  // feature 0: mean 4, var 5; feature 1: mean 25, var 125
  array y = bn(x);
  auto nrm = [](double v, double m, double var) {
    return static_cast<float>((v - m) / std::sqrt(var + 1e-5));
  };
  expect_close(y, {nrm(1, 4, 5), nrm(10, 25, 125), nrm(3, 4, 5), nrm(20, 25, 125), nrm(5, 4, 5),
                   nrm(30, 25, 125), nrm(7, 4, 5), nrm(40, 25, 125)});
  auto p = bn.parameters();
  expect_close(p.at("running_mean"), {0.4f, 2.5f});
  expect_close(p.at("running_var"), {0.9f + 0.5f, 0.9f + 12.5f});
  bn.eval();
  array z = bn(x);
  expect_close(z, {nrm(1, 0.4, 1.4), nrm(10, 2.5, 13.4), nrm(3, 0.4, 1.4), nrm(20, 2.5, 13.4),
                   nrm(5, 0.4, 1.4), nrm(30, 2.5, 13.4), nrm(7, 0.4, 1.4), nrm(40, 2.5, 13.4)});
  // eval mode leaves the running stats alone
  expect_close(bn.parameters().at("running_mean"), {0.4f, 2.5f});
  // 4-D input (N, H, W, C) reduces over N, H, W.
  nn::BatchNorm bn4(3);
  array x4 = array(iota_vals(2 * 2 * 2 * 3, 0.7f, 0.1f), {2, 2, 2, 3});
  array y4 = bn4(x4);
  expect_close(kx::mean(y4, {0, 1, 2}), {0.f, 0.f, 0.f}, 1e-5f);
  EXPECT_THROW(bn(kx::ones({4})), std::invalid_argument);
}

// ------------------------------------------------------------------ Embedding
TEST(Embedding, LookupAndAsLinear) {
  nn::Embedding e(4, 3);
  array w({0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f, 11.f}, {4, 3});
  e.update({{"weight", w}});
  array idx({3, 0, 3, 1}, {2, 2});
  array y = e(idx);
  EXPECT_EQ(y.shape(), kx::Shape({2, 2, 3}));
  expect_close(y, {9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5});
  expect_close(e.as_linear(array({1.f, 0.f, -1.f}, {1, 3})), {-2.f, -2.f, -2.f, -2.f});
  EXPECT_THROW(e(array({1.f})), std::invalid_argument);
}

// ------------------------------------------------------------------ convolution / pooling
namespace {
// Naive NHWC conv2d with stride/padding/dilation/groups on float vectors.
std::vector<float> naive_conv2d(const std::vector<float>& x, int N, int H, int W, int C,
                                const std::vector<float>& w, int O, int KH, int KW, int sh, int sw,
                                int ph, int pw, int dh, int dw, int groups, int& Ho, int& Wo) {
  Ho = (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1;
  Wo = (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1;
  int cg = C / groups, og = O / groups;
  std::vector<float> y(static_cast<size_t>(N) * Ho * Wo * O, 0.f);
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < Ho; ++i)
      for (int j = 0; j < Wo; ++j)
        for (int o = 0; o < O; ++o) {
          int g = o / og;
          double acc = 0;
          for (int a = 0; a < KH; ++a)
            for (int b = 0; b < KW; ++b)
              for (int c = 0; c < cg; ++c) {
                int hi = i * sh + a * dh - ph, wi = j * sw + b * dw - pw;
                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                acc += x[((static_cast<size_t>(n) * H + hi) * W + wi) * C + g * cg + c] *
                       w[((static_cast<size_t>(o) * KH + a) * KW + b) * cg + c];
              }
          y[((static_cast<size_t>(n) * Ho + i) * Wo + j) * O + o] = static_cast<float>(acc);
        }
  return y;
}
}  // namespace

TEST(Conv, Conv2dMatchesNaive) {
  struct Case {
    int N, H, W, C, O, K, s, p, d, g;
  };
  for (Case c : {Case{1, 5, 5, 2, 3, 3, 1, 0, 1, 1}, Case{2, 6, 5, 4, 4, 3, 2, 1, 1, 2},
                 Case{1, 7, 7, 3, 2, 2, 1, 2, 2, 1}}) {
    auto xv = iota_vals(static_cast<size_t>(c.N) * c.H * c.W * c.C, 0.37f, 0.2f);
    auto wv = iota_vals(static_cast<size_t>(c.O) * c.K * c.K * (c.C / c.g), 0.53f, 1.1f);
    int Ho, Wo;
    auto ref = naive_conv2d(xv, c.N, c.H, c.W, c.C, wv, c.O, c.K, c.K, c.s, c.s, c.p, c.p, c.d, c.d,
                            c.g, Ho, Wo);
    nn::Conv2d conv(c.C, c.O, c.K, c.s, c.p, c.d, c.g);
    conv.update({{"weight", array(wv, {c.O, c.K, c.K, c.C / c.g})}, {"bias", kx::zeros({c.O})}});
    array y = conv(array(xv, {c.N, c.H, c.W, c.C}));
    EXPECT_EQ(y.shape(), kx::Shape({c.N, Ho, Wo, c.O}));
    expect_close(y, ref, 1e-4f);
  }
}

TEST(Conv, Conv1dMatchesNaiveAndBias) {
  int N = 2, L = 9, C = 2, O = 3, K = 3;
  auto xv = iota_vals(N * L * C, 0.41f, 0.3f);
  auto wv = iota_vals(O * K * C, 0.29f, 0.7f);
  int Ho, Wo;
  // A 1-D conv is a 2-D conv with H = 1.
  auto ref = naive_conv2d(xv, N, 1, L, C, wv, O, 1, K, 1, 2, 0, 1, 1, 2, 1, Ho, Wo);
  nn::Conv1d conv(C, O, K, /*stride=*/2, /*padding=*/1, /*dilation=*/2);
  conv.update({{"weight", array(wv, {O, K, C})}, {"bias", array({1.f, 2.f, 3.f})}});
  array y = conv(array(xv, {N, L, C}));
  ASSERT_EQ(y.shape(), kx::Shape({N, Wo, O}));
  for (size_t i = 0; i < ref.size(); ++i) ref[i] += static_cast<float>(i % O + 1);
  expect_close(y, ref, 1e-4f);
  nn::Conv1d fresh(4, 6, 3);
  EXPECT_EQ(fresh.parameters().at("weight").shape(), kx::Shape({6, 3, 4}));
  for (float w : fresh.parameters().at("weight").to_vector<float>())
    EXPECT_LE(std::abs(w), std::sqrt(1.f / 12));
  EXPECT_EQ(kx::sum(kx::abs(fresh.parameters().at("bias"))).item<float>(), 0.f);
  EXPECT_THROW(conv(kx::ones({2, 9, 3})), std::invalid_argument);
}

TEST(Pool, MaxAndAvg2d) {
  // (1, 4, 4, 1) = 0..15
  std::vector<float> xv(16);
  std::iota(xv.begin(), xv.end(), 0.f);
  array x(xv, {1, 4, 4, 1});
  expect_close(nn::MaxPool2d(2)(x), {5, 7, 13, 15});
  expect_close(nn::AvgPool2d(2)(x), {2.5f, 4.5f, 10.5f, 12.5f});
  // stride 1, window 3: 2x2 output
  expect_close(nn::MaxPool2d(3, 1)(x), {10, 11, 14, 15});
  // padding 1 with a 2x2 window, stride 2: max over padded (-inf) cells
  expect_close(nn::MaxPool2d(2, 2, 1)(x), {0, 2, 3, 8, 10, 11, 12, 14, 15});
  expect_close(nn::AvgPool2d(2, 2, 1)(x), {0, 0.75f, 0.75f, 3, 7.5f, 4.5f, 3, 6.75f, 3.75f});
  array x1(std::vector<float>{1, 5, 2, 8, 3, 0}, {1, 6, 1});
  expect_close(nn::MaxPool1d(2)(x1), {5, 8, 3});
  expect_close(nn::AvgPool1d(3, 3)(x1), {8.f / 3, 11.f / 3});
}

// ------------------------------------------------------------------ attention
TEST(Attention, MatchesNaive) {
  kx::random::seed(5);
  int B = 2, L = 3, S = 4, D = 4, H = 2, hd = D / H;
  nn::MultiHeadAttention mha(D, H);
  EXPECT_EQ(mha.parameters().size(), 4u);  // bias = false by default
  array q = array(iota_vals(B * L * D, 0.3f, 0.1f), {B, L, D});
  array kv = array(iota_vals(B * S * D, 0.7f, 0.4f), {B, S, D});
  array mask = kx::astype(kx::array({1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1}, {L, S}), kx::bool_);
  array y = mha(q, kv, kv, mask);
  ASSERT_EQ(y.shape(), kx::Shape({B, L, D}));
  // Reference with plain loops.
  auto P = mha.parameters();
  auto Wq = P.at("query_proj.weight").to_vector<float>();
  auto Wk = P.at("key_proj.weight").to_vector<float>();
  auto Wv = P.at("value_proj.weight").to_vector<float>();
  auto Wo = P.at("out_proj.weight").to_vector<float>();
  auto qv = q.to_vector<float>(), kvv = kv.to_vector<float>();
  auto mv = mask.to_vector<bool>();
  auto proj = [&](const std::vector<float>& in, int rows, const std::vector<float>& W) {
    std::vector<double> out(static_cast<size_t>(rows) * D, 0);
    for (int r = 0; r < rows; ++r)
      for (int o = 0; o < D; ++o)
        for (int i = 0; i < D; ++i) out[r * D + o] += in[r * D + i] * W[o * D + i];
    return out;
  };
  auto Q = proj(qv, B * L, Wq), K = proj(kvv, B * S, Wk), V = proj(kvv, B * S, Wv);
  std::vector<float> concat(B * L * D);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < L; ++i) {
        std::vector<double> sc(S);
        double mx = -1e300;
        for (int j = 0; j < S; ++j) {
          double s = 0;
          for (int d = 0; d < hd; ++d)
            s += Q[(b * L + i) * D + h * hd + d] * K[(b * S + j) * D + h * hd + d];
          s /= std::sqrt(static_cast<double>(hd));
          sc[j] = mv[i * S + j] ? s : -1e300;
          if (mv[i * S + j]) mx = std::max(mx, s);
        }
        double z = 0;
        for (int j = 0; j < S; ++j) z += mv[i * S + j] ? std::exp(sc[j] - mx) : 0;
        for (int d = 0; d < hd; ++d) {
          double acc = 0;
          for (int j = 0; j < S; ++j)
            if (mv[i * S + j]) acc += std::exp(sc[j] - mx) / z * V[(b * S + j) * D + h * hd + d];
          concat[(b * L + i) * D + h * hd + d] = static_cast<float>(acc);
        }
      }
  auto ref = proj(concat, B * L, Wo);
  expect_close(y, std::vector<float>(ref.begin(), ref.end()), 1e-4f);
  // (L, D) input works and equals the batched form.
  array y0 = mha(kx::take(q, 0, 0), kx::take(kv, 0, 0), kx::take(kv, 0, 0), mask);
  EXPECT_TRUE(kx::allclose(y0, kx::take(y, 0, 0), 1e-5, 1e-6).item<bool>());
  EXPECT_THROW(nn::MultiHeadAttention(5, 2), std::invalid_argument);
}

TEST(Attention, CausalMaskAndEncoderLayer) {
  array m = nn::create_additive_causal_mask(3);
  expect_close(m, {0, -1e9f, -1e9f, 0, 0, -1e9f, 0, 0, 0});
  kx::random::seed(9);
  nn::TransformerEncoderLayer layer(8, 2, 16);
  auto p = layer.parameters();
  EXPECT_TRUE(p.count("attention.query_proj.weight") && p.count("ln1.weight") &&
              p.count("linear1.weight") && p.count("linear2.bias"));
  EXPECT_EQ(p.at("linear1.weight").shape(), kx::Shape({16, 8}));
  array x = array(iota_vals(2 * 3 * 8, 0.31f, 0.5f), {2, 3, 8});
  array y = layer(x, m);
  EXPECT_EQ(y.shape(), x.shape());
  // Causality: changing the last token leaves the earlier outputs unchanged.
  array x2 = kx::slice_update(x, kx::ones({2, 1, 8}), {0, 2, 0}, {2, 3, 8});
  array y2 = layer(x2, m);
  EXPECT_TRUE(kx::allclose(kx::slice(y, {0, 0, 0}, {2, 2, 8}), kx::slice(y2, {0, 0, 0}, {2, 2, 8}),
                           1e-5, 1e-6)
                  .item<bool>());
  EXPECT_FALSE(kx::allclose(kx::slice(y, {0, 2, 0}, {2, 3, 8}), kx::slice(y2, {0, 2, 0}, {2, 3, 8}))
                   .item<bool>());
  // Pre-norm residual structure: with zeroed linear2 and out_proj the layer is the identity.
  layer.update({{"linear2.weight", kx::zeros({8, 16})},
                {"linear2.bias", kx::zeros({8})},
                {"attention.out_proj.weight", kx::zeros({8, 8})}});
  EXPECT_TRUE(kx::allclose(layer(x, m), x).item<bool>());
  nn::TransformerEncoder enc(2, 8, 2);
  EXPECT_TRUE(enc.parameters().count("layers.1.linear2.weight"));
  EXPECT_EQ(enc(x).shape(), x.shape());
}

// ------------------------------------------------------------------ init
TEST(Init, Initializers) {
  kx::random::seed(11);
  array a = kx::zeros({64, 48});
  expect_close(nn::init::constant(0.5f)(a), std::vector<float>(64 * 48, 0.5f));
  auto stats = [](array v) {
    auto x = v.to_vector<float>();
    double m = 0, s = 0, mx = 0;
    for (float e : x) m += e, mx = std::max(mx, std::abs(static_cast<double>(e)));
    m /= x.size();
    for (float e : x) s += (e - m) * (e - m);
    return std::tuple<double, double, double>{m, std::sqrt(s / x.size()), mx};
  };
  auto [m1, s1, x1] = stats(nn::init::normal(2.f, 0.5f)(a));
  EXPECT_NEAR(m1, 2.0, 0.05);
  EXPECT_NEAR(s1, 0.5, 0.03);
  auto u = nn::init::uniform(-2.f, 1.f)(a).to_vector<float>();
  for (float e : u) EXPECT_TRUE(e >= -2.f && e < 1.f);
  // fan_in = 48, fan_out = 64
  double glim = std::sqrt(6.0 / 112);
  auto [m2, s2, x2] = stats(nn::init::glorot_uniform()(a));
  EXPECT_LE(x2, glim);
  EXPECT_NEAR(s2, glim / std::sqrt(3.0), 0.01);
  auto [m3, s3, x3] = stats(nn::init::glorot_normal()(a, 2.f));
  EXPECT_NEAR(s3, 2 * std::sqrt(2.0 / 112), 0.01);
  auto [m4, s4, x4] = stats(nn::init::he_uniform()(a));
  EXPECT_LE(x4, std::sqrt(3.0 / 48));
  auto [m5, s5, x5] = stats(nn::init::he_normal()(a, nn::init::FanMode::fan_out));
  EXPECT_NEAR(s5, 1 / std::sqrt(64.0), 0.01);
  // receptive field: (out=8, 3, 3, in=4): fan_in = 36, fan_out = 72
  auto f = nn::init::fan_in_fan_out({8, 3, 3, 4});
  EXPECT_EQ(f, (std::pair<int, int>{36, 72}));
  expect_close(nn::init::identity()(kx::zeros({2, 2})), {1, 0, 0, 1});
  EXPECT_THROW(nn::init::identity()(kx::zeros({2, 3})), std::invalid_argument);
  EXPECT_THROW(nn::init::glorot_uniform()(kx::zeros({3})), std::invalid_argument);
}

// ------------------------------------------------------------------ losses
namespace L = kiln::nn::losses;

TEST(Losses, BinaryCrossEntropy) {
  array logits({0.105361f, 0.223144f, 1.20397f, 0.916291f});
  array targets({0, 0, 1, 1});
  expect_close(L::binary_cross_entropy(logits, targets), {0.5392455f});
  expect_close(L::binary_cross_entropy(logits, targets,
                                       {.with_logits = true, .reduction = L::Reduction::mean}),
               {0.5392455f});
  array probs({0.1f, 0.1f, 0.4f, 0.4f});
  expect_close(L::binary_cross_entropy(probs, targets, {.with_logits = false}), {0.5108256f});
  // Extreme logits stay finite; probability 0/1 clip at 100.
  array big({100.f, -100.f});
  expect_close(L::binary_cross_entropy(big, array({0.f, 1.f}), {.reduction = L::Reduction::none}),
               {100.f, 100.f});
  expect_close(L::binary_cross_entropy(array({0.f, 1.f}), array({1.f, 0.f}),
                                       {.with_logits = false, .reduction = L::Reduction::sum}),
               {200.f});
  expect_close(L::binary_cross_entropy(probs, targets,
                                       {.with_logits = false,
                                        .reduction = L::Reduction::none,
                                        .weights = array({0.f, 0.f, 0.f, 2.f})}),
               {0, 0, 0, static_cast<float>(-2 * std::log(0.4))});
  EXPECT_THROW(L::binary_cross_entropy(logits, array({0, 1})), std::invalid_argument);
}

TEST(Losses, CrossEntropy) {
  array logits({2.f, -1.f, -1.f, 2.f}, {2, 2});
  expect_close(L::cross_entropy(logits, array({0, 1})), {0.04858735f, 0.04858735f});
  expect_close(L::cross_entropy(logits, array({0.9f, 0.1f, 0.1f, 0.9f}, {2, 2})),
               {0.34858735f, 0.34858735f});
  array l3({1.f, 2.f, 0.5f, 0.f, -1.f, 3.f}, {2, 3});
  expect_close(L::cross_entropy(l3, array({1, 2}), {.label_smoothing = 0.1f}),
               {0.5477021f, 0.2992172f});
  expect_close(L::cross_entropy(l3, array({1, 2}),
                                {.label_smoothing = 0.1f, .reduction = L::Reduction::mean}),
               {(0.5477021f + 0.2992172f) / 2});
  // class axis 0
  expect_close(L::cross_entropy(kx::transpose(logits), array({0, 1}), {.axis = 0}),
               {0.04858735f, 0.04858735f});
  // Large logits are stable.
  expect_close(L::cross_entropy(array({1000.f, 0.f}, {1, 2}), array({1})), {1000.f});
  EXPECT_THROW(L::cross_entropy(logits, array({0, 1, 1})), std::invalid_argument);
  EXPECT_THROW(L::cross_entropy(logits, array({0.f, 1.f})), std::invalid_argument);
}

TEST(Losses, Regression) {
  array p({1.f, 2.f, -1.5f, 0.3f}), t({0.5f, 2.f, 1.f, -0.2f});
  expect_close(L::mse_loss(p, t), {1.6875f});
  expect_close(L::mse_loss(p, t, L::Reduction::sum), {6.75f});
  expect_close(L::l1_loss(p, t), {0.875f});
  expect_close(L::l1_loss(p, t, L::Reduction::none), {0.5f, 0.f, 2.5f, 0.5f});
  expect_close(L::huber_loss(p, t), {0.125f, 0.f, 2.f, 0.125f});
  expect_close(L::huber_loss(p, t, 0.5f), {0.125f, 0.f, 1.125f, 0.125f});
  expect_close(L::smooth_l1_loss(p, t), {0.5625f});
  expect_close(L::smooth_l1_loss(p, t, 2.f, L::Reduction::none), {0.0625f, 0.f, 1.5f, 0.0625f});
}

TEST(Losses, NllAndKl) {
  array lp = kx::log(array({0.2f, 0.3f, 0.5f, 0.6f, 0.3f, 0.1f}, {2, 3}));
  array lq = kx::log(array({0.1f, 0.6f, 0.3f, 0.3f, 0.3f, 0.4f}, {2, 3}));
  expect_close(L::nll_loss(lp, array({2, 0})), {0.6931472f, 0.5108256f});
  expect_close(L::nll_loss(lp, array({2, 0}), -1, L::Reduction::mean),
               {(0.6931472f + 0.5108256f) / 2});
  expect_close(L::kl_div_loss(lp, lq), {0.1933259f, 0.3465736f});
  EXPECT_THROW(L::nll_loss(lp, array({0.f, 1.f})), std::invalid_argument);
}

// ------------------------------------------------------------------ gradients (checker)
#include <algorithm>
#include <random>

#include "grad_check.h"

namespace {

using kiln::testing::check_grads;
using kiln::testing::GradCheckOptions;

// The gradients of m(x) w.r.t. x (when floating) and every trainable parameter of m.
::testing::AssertionResult check_module(nn::Module& m, const array& x,
                                        const std::function<void()>& before = {},
                                        GradCheckOptions o = {}) {
  auto params = m.trainable_parameters();
  std::vector<std::string> keys;
  // Integer inputs (indices) are held fixed through the closure.
  bool diff_x = kx::is_floating(x.dtype());
  size_t off = diff_x ? 1 : 0;
  std::vector<array> primals;
  if (diff_x) primals.push_back(x);
  for (auto& [k, v] : params) {
    keys.push_back(k);
    primals.push_back(v);
  }
  kx::VectorFn f = [&](const std::vector<array>& a) {
    nn::Params p;
    for (size_t i = 0; i < keys.size(); ++i) p.emplace(keys[i], a[i + off]);
    m.update(p);
    if (before) before();
    return std::vector<array>{m(diff_x ? a[0] : x)};
  };
  auto r = check_grads(f, primals, o);
  m.update(params);
  return r;
}

// Distinct values 0.1 apart in a fixed shuffled order (no ties for max pooling).
array spread(const kx::Shape& shape) {
  size_t n = 1;
  for (int d : shape) n *= d;
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 0.1f * static_cast<float>(i) - 0.05f * n;
  std::mt19937 rng(7);
  std::shuffle(v.begin(), v.end(), rng);
  return array(v, shape);
}

}  // namespace

TEST(Grads, LinearAndActivations) {
  kx::random::seed(21);
  array x = array(iota_vals(3 * 4, 0.9f, 0.3f), {3, 4});
  nn::Linear lin(4, 5);
  EXPECT_TRUE(check_module(lin, x));
  nn::Linear nob(4, 2, false);
  EXPECT_TRUE(check_module(nob, x));
  nn::Sequential mlp(nn::Linear(4, 6), nn::GELU(), nn::Linear(6, 6), nn::SiLU(), nn::Linear(6, 6),
                     nn::Tanh(), nn::Linear(6, 6), nn::Sigmoid(), nn::Linear(6, 6),
                     nn::GELU(nn::GELU::Approx::tanh), nn::Linear(6, 6),
                     nn::GELU(nn::GELU::Approx::fast), nn::Linear(6, 3), nn::Softmax());
  EXPECT_TRUE(check_module(mlp, x));
  // Piecewise activations away from their kinks.
  array xs({-2.f, -0.7f, -0.3f, 0.4f, 0.9f, 2.5f});
  for (nn::Module* m :
       std::initializer_list<nn::Module*>{new nn::ReLU(), new nn::LeakyReLU(0.1f),
                                          new nn::ELU(0.7f), new nn::ReLU6(), new nn::Softplus()}) {
    EXPECT_TRUE(check_module(*m, xs * 2.f)) << m->name();
    delete m;
  }
}

TEST(Grads, Norms) {
  kx::random::seed(22);
  array x = array(iota_vals(4 * 5, 0.77f, 0.1f), {4, 5}) * 2.f;
  nn::LayerNorm ln(5);
  ln.update({{"weight", array(iota_vals(5, 1.3f, 0.2f), {5})},
             {"bias", array(iota_vals(5, 0.4f, 0.f), {5})}});
  EXPECT_TRUE(check_module(ln, x));
  nn::RMSNorm rms(5);
  rms.update({{"weight", array(iota_vals(5, 1.1f, 0.5f), {5})}});
  EXPECT_TRUE(check_module(rms, x));
  nn::BatchNorm bn(5);
  EXPECT_TRUE(check_module(bn, x));
  bn.eval();
  EXPECT_TRUE(check_module(bn, x));
  nn::BatchNorm bn3(3);
  EXPECT_TRUE(check_module(bn3, array(iota_vals(2 * 4 * 3, 0.61f, 0.3f), {2, 4, 3})));
}

TEST(Grads, EmbeddingAndDropout) {
  kx::random::seed(23);
  nn::Embedding e(6, 3);
  EXPECT_TRUE(check_module(e, array({1, 4, 4, 0}, {2, 2})));  // index input held fixed
  nn::Dropout d(0.3f);
  array x = array(iota_vals(20, 0.5f, 0.f), {4, 5});
  // Re-seeding before each call fixes the mask, so the function is deterministic.
  EXPECT_TRUE(check_module(d, x, [] { kx::random::seed(99); }));
  d.eval();
  EXPECT_TRUE(check_module(d, x));
}

TEST(Grads, ConvAndPool) {
  kx::random::seed(24);
  nn::Conv1d c1(2, 3, 3, /*stride=*/2, /*padding=*/1);
  EXPECT_TRUE(check_module(c1, array(iota_vals(2 * 7 * 2, 0.37f, 0.2f), {2, 7, 2})));
  nn::Conv2d c2(4, 4, 3, /*stride=*/2, /*padding=*/1, /*dilation=*/1, /*groups=*/2);
  EXPECT_TRUE(check_module(c2, array(iota_vals(1 * 5 * 5 * 4, 0.29f, 0.1f), {1, 5, 5, 4})));
  nn::Conv2d c3(2, 3, {2, 3}, {1, 1}, {0, 1}, {2, 1});
  EXPECT_TRUE(check_module(c3, array(iota_vals(1 * 5 * 4 * 2, 0.43f, 0.6f), {1, 5, 4, 2})));
  array xp = spread({2, 4, 4, 2});
  nn::MaxPool2d mp(2);
  EXPECT_TRUE(check_module(mp, xp));
  nn::AvgPool2d ap(3, 1, 1);
  EXPECT_TRUE(check_module(ap, xp));
  nn::MaxPool1d mp1(3, 2, 1);
  EXPECT_TRUE(check_module(mp1, spread({2, 7, 1})));
  nn::AvgPool1d ap1(2);
  EXPECT_TRUE(check_module(ap1, spread({2, 6, 3})));
}

TEST(Grads, AttentionAndTransformer) {
  kx::random::seed(25);
  array x = array(iota_vals(2 * 3 * 4, 0.53f, 0.2f), {2, 3, 4});
  nn::MultiHeadAttention mha(4, 2, true);
  EXPECT_TRUE(check_module(mha, x));
  nn::TransformerEncoderLayer enc(4, 2, 8, 0.f, nn::gelu);
  EXPECT_TRUE(check_module(enc, x));
  nn::TransformerEncoderLayer post(4, 2, 8, 0.f, nn::silu, /*norm_first=*/false);
  EXPECT_TRUE(check_module(post, x));
}

TEST(Grads, Losses) {
  namespace L = kiln::nn::losses;
  array logits = array(iota_vals(3 * 4, 0.7f, 0.3f), {3, 4}) * 3.f;
  array idx({2, 0, 3});
  array probs = kx::softmax(array(iota_vals(12, 0.2f, 1.f), {3, 4}), -1);
  auto f2 = [](auto fn) {
    return [fn](const std::vector<array>& a) { return std::vector<array>{fn(a[0], a[1])}; };
  };
  EXPECT_TRUE(check_grads(
      [&](const array& z) { return L::cross_entropy(z, idx, {.label_smoothing = 0.2f}); }, logits));
  EXPECT_TRUE(check_grads(f2([](const array& z, const array& t) {
                            return L::cross_entropy(z, t, {.reduction = L::Reduction::mean});
                          }),
                          {logits, probs}));
  array bl = kx::flatten(logits),
        bt = array(std::vector<float>{0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0}, {12});
  EXPECT_TRUE(check_grads([&](const array& z) { return L::binary_cross_entropy(z, bt); }, bl));
  array bp = kx::sigmoid(bl);
  EXPECT_TRUE(check_grads(
      [&](const array& p) {
        return L::binary_cross_entropy(p, bt,
                                       {.with_logits = false, .reduction = L::Reduction::sum});
      },
      bp, {.eps = 1e-3}));
  array p = array({1.f, 2.f, -1.5f, 0.3f, 0.8f, -2.f}),
        t = array({0.5f, 2.3f, 1.f, -0.2f, 0.6f, -0.5f});
  EXPECT_TRUE(
      check_grads(f2([](const array& a, const array& b) { return L::mse_loss(a, b); }), {p, t}));
  EXPECT_TRUE(
      check_grads(f2([](const array& a, const array& b) { return L::l1_loss(a, b); }), {p, t}));
  EXPECT_TRUE(check_grads(f2([](const array& a, const array& b) {
                            return L::huber_loss(a, b, 1.f, L::Reduction::sum);
                          }),
                          {p, t}));
  EXPECT_TRUE(check_grads(
      f2([](const array& a, const array& b) { return L::smooth_l1_loss(a, b); }), {p, t}));
  array lp = kx::log_softmax(logits, -1), lq = kx::log(probs);
  EXPECT_TRUE(check_grads([&](const array& z) { return L::nll_loss(z, idx); }, lp));
  EXPECT_TRUE(check_grads(f2([](const array& a, const array& b) {
                            return L::kl_div_loss(a, b, -1, L::Reduction::mean);
                          }),
                          {lp, lq}));
}

// ------------------------------------------------------------------ nn::value_and_grad
TEST(ValueAndGrad, MatchesManualGradAndRespectsFreeze) {
  kx::random::seed(31);
  MLP m;
  array x = array(iota_vals(5 * 4, 0.41f, 0.1f), {5, 4});
  array y({0, 2, 1, 1, 0});
  auto loss_fn = [](MLP& model, const array& xx, const array& yy) {
    return nn::losses::cross_entropy(model(xx), yy, {.reduction = nn::losses::Reduction::mean});
  };
  auto lg = nn::value_and_grad(m, loss_fn);
  auto before = m.parameters();
  auto [loss, grads] = lg(m, x, y);
  EXPECT_EQ(grads.size(), 4u);
  // Parameters are the originals again (not tracers).
  for (auto& [k, v] : m.parameters()) EXPECT_TRUE(v.is_same(before.at(k))) << k;
  // Against kiln::value_and_grad of the same function of explicit arrays.
  auto P = m.parameters();
  auto manual = kx::value_and_grad(
      [&](const std::vector<array>& a) {
        array h = nn::relu(kx::matmul(x, kx::transpose(a[0])) + a[1]);
        array z = kx::matmul(h, kx::transpose(a[2])) + a[3];
        return std::vector<array>{
            nn::losses::cross_entropy(z, y, {.reduction = nn::losses::Reduction::mean})};
      },
      {0, 1, 2, 3})({P.at("l1.weight"), P.at("l1.bias"), P.at("l2.weight"), P.at("l2.bias")});
  EXPECT_NEAR(loss.item<float>(), manual.first[0].item<float>(), 1e-6);
  EXPECT_TRUE(kx::allclose(grads.at("l1.weight"), manual.second[0], 1e-5, 1e-6).item<bool>());
  EXPECT_TRUE(kx::allclose(grads.at("l2.bias"), manual.second[3], 1e-5, 1e-6).item<bool>());
  // Frozen parameters get no gradient; an optimizer then leaves them alone.
  m.freeze({"l1"});
  auto [loss2, g2] = lg(m, x, y);
  EXPECT_EQ(g2.size(), 2u);
  EXPECT_TRUE(g2.count("l2.weight") && g2.count("l2.bias"));
  EXPECT_NEAR(loss2.item<float>(), loss.item<float>(), 1e-6);
  auto frozen_before = m.parameters();
  kiln::optim::Adam opt(0.1f);
  opt.update(m, g2);
  auto after = m.parameters();
  EXPECT_TRUE(after.at("l1.weight").is_same(frozen_before.at("l1.weight")));
  EXPECT_TRUE(after.at("l1.bias").is_same(frozen_before.at("l1.bias")));
  EXPECT_FALSE(kx::array_equal(after.at("l2.weight"), frozen_before.at("l2.weight")).item<bool>());
  m.freeze();
  EXPECT_THROW(lg(m, x, y), std::invalid_argument);
}

TEST(ValueAndGrad, BatchNormStateSurvives) {
  kx::random::seed(32);
  nn::Sequential s(nn::Linear(3, 4), nn::BatchNorm(4), nn::Linear(4, 1));
  array x = array(iota_vals(6 * 3, 0.8f, 0.2f), {6, 3});
  auto lg = nn::value_and_grad(s, [&](const array& xx) { return kx::sum(s(xx)); });
  auto [loss, grads] = lg(x);
  EXPECT_EQ(grads.size(), 6u);  // no gradients for the running statistics
  array rm = s.parameters().at("layers.1.running_mean");
  auto v = rm.to_vector<float>();  // evaluable after the transform
  float total = 0;
  for (float e : v) total += std::abs(e);
  EXPECT_GT(total, 0.f);
  kx::eval(loss);
}
