// optim: every optimizer's update rule against a scalar reference for 3 steps, state layout,
// schedules, clip_grad_norm, and updates of a Module.
#include <gtest/gtest.h>
#include <kiln/compile/compile_info.h>
#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <cmath>
#include <functional>
#include <memory>

namespace kx = kiln;
namespace nn = kiln::nn;
namespace optim = kiln::optim;
using kx::array;

namespace {

const std::vector<float> kW0{0.5f, -1.5f, 2.f};
const std::vector<std::vector<float>> kGrads{
    {0.1f, -0.2f, 0.3f}, {-0.4f, 0.5f, 0.25f}, {0.3f, 0.1f, -0.6f}};

// Runs 3 steps of `opt` on w from kW0 with kGrads and compares with `ref`, a per-element
// scalar reference (w, g, t (1-based), state) -> new w.
void check_three_steps(optim::Optimizer& opt,
                       const std::function<double(double, double, int, std::vector<double>&)>& ref,
                       double tol = 1e-6) {
  nn::Params params{{"w", array(kW0, {3})}};
  std::vector<double> w(kW0.begin(), kW0.end());
  std::vector<std::vector<double>> state(3, std::vector<double>(4, 0.0));
  for (int t = 1; t <= 3; ++t) {
    nn::Params grads{{"w", array(kGrads[t - 1], {3})}};
    params = opt.apply_gradients(grads, params);
    for (int i = 0; i < 3; ++i) w[i] = ref(w[i], kGrads[t - 1][i], t, state[i]);
    auto got = params.at("w").to_vector<float>();
    for (int i = 0; i < 3; ++i)
      EXPECT_NEAR(got[i], w[i], tol * std::max(1.0, std::abs(w[i]))) << "step " << t << " i " << i;
  }
  EXPECT_EQ(opt.step().item<int>(), 3);
}

// Per-element optimizer state of the reference (sized up front: references stay valid).
double& slot(std::vector<double>& s, size_t i) { return s.at(i); }

}  // namespace

TEST(SGD, Plain) {
  optim::SGD opt(0.1f);
  check_three_steps(opt, [](double w, double g, int, auto&) { return w - 0.1 * g; });
}

TEST(SGD, WeightDecay) {
  optim::SGD opt(0.1f, 0.f, 0.01f);
  check_three_steps(opt, [](double w, double g, int, auto&) { return w - 0.1 * (g + 0.01 * w); });
}

TEST(SGD, MomentumDampening) {
  optim::SGD opt(0.1f, 0.9f, 0.f, 0.2f);
  check_three_steps(opt, [](double w, double g, int, auto& s) {
    double& v = slot(s, 0);
    v = 0.9 * v + 0.8 * g;
    return w - 0.1 * v;
  });
}

TEST(SGD, Nesterov) {
  optim::SGD opt(0.05f, 0.8f, 0.1f, 0.f, true);
  check_three_steps(opt, [](double w, double g, int, auto& s) {
    g += 0.1 * w;
    double& v = slot(s, 0);
    v = 0.8 * v + g;
    return w - 0.05 * (g + 0.8 * v);
  });
  EXPECT_THROW(optim::SGD(0.1f, 0.f, 0.f, 0.f, true), std::invalid_argument);
  EXPECT_THROW(optim::SGD(0.1f, 0.9f, 0.f, 0.1f, true), std::invalid_argument);
}

TEST(Adam, NoBiasCorrection) {
  optim::Adam opt(0.01f);  // MLX default: no bias correction
  check_three_steps(opt, [](double w, double g, int, auto& s) {
    double &m = slot(s, 0), &v = slot(s, 1);
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    return w - 0.01 * m / (std::sqrt(v) + 1e-8);
  });
}

TEST(Adam, BiasCorrection) {
  optim::Adam opt(0.01f, {0.8f, 0.99f}, 1e-6f, true);
  check_three_steps(
      opt,
      [](double w, double g, int t, auto& s) {
        double &m = slot(s, 0), &v = slot(s, 1);
        m = 0.8 * m + 0.2 * g;
        v = 0.99 * v + 0.01 * g * g;
        double mh = m / (1 - std::pow(0.8, t)),
               vh = std::sqrt(v) / std::sqrt(1 - std::pow(0.99, t));
        return w - 0.01 * mh / (vh + 1e-6);
      },
      2e-6);
}

TEST(AdamW, DefaultWeightDecay) {
  optim::AdamW opt(0.01f);  // weight_decay 0.01
  check_three_steps(opt, [](double w, double g, int, auto& s) {
    double &m = slot(s, 0), &v = slot(s, 1);
    w *= 1 - 0.01 * 0.01;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    return w - 0.01 * m / (std::sqrt(v) + 1e-8);
  });
}

TEST(AdamW, BiasCorrectionAndDecay) {
  optim::AdamW opt(0.02f, {0.9f, 0.999f}, 1e-8f, 0.1f, true);
  check_three_steps(
      opt,
      [](double w, double g, int t, auto& s) {
        double &m = slot(s, 0), &v = slot(s, 1);
        w *= 1 - 0.02 * 0.1;
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        double mh = m / (1 - std::pow(0.9, t)),
               vh = std::sqrt(v) / std::sqrt(1 - std::pow(0.999, t));
        return w - 0.02 * mh / (vh + 1e-8);
      },
      5e-6);
}

TEST(RMSprop, Rule) {
  optim::RMSprop opt(0.01f);  // alpha 0.99, eps 1e-8
  check_three_steps(
      opt,
      [](double w, double g, int, auto& s) {
        double& v = slot(s, 0);
        v = 0.99 * v + 0.01 * g * g;
        return w - 0.01 * g / (std::sqrt(v) + 1e-8);
      },
      2e-6);
}

TEST(Adagrad, Rule) {
  optim::Adagrad opt(0.1f);
  check_three_steps(opt, [](double w, double g, int, auto& s) {
    double& v = slot(s, 0);
    v += g * g;
    return w - 0.1 * g / (std::sqrt(v) + 1e-8);
  });
}

TEST(Lion, RuleWithWeightDecay) {
  optim::Lion opt(0.01f, {0.9f, 0.99f}, 0.1f);
  check_three_steps(opt, [](double w, double g, int, auto& s) {
    double& m = slot(s, 0);
    double c = 0.9 * m + 0.1 * g;
    m = 0.99 * m + 0.01 * g;
    w *= 1 - 0.01 * 0.1;
    return w - 0.01 * ((c > 0) - (c < 0));
  });
}

TEST(Optimizer, StateLayoutAndStateful) {
  optim::Adam opt(0.1f);
  nn::Params params{{"b", kx::zeros({2})}, {"a.w", kx::ones({2, 2})}};
  auto sa = opt.state_arrays();
  ASSERT_EQ(sa.size(), 2u);  // step and learning rate before the first update
  EXPECT_EQ(sa[0].dtype(), kx::int32);
  EXPECT_EQ(sa[1].dtype(), kx::float32);
  opt.init(params);
  auto st = opt.state();
  std::vector<std::string> keys;
  for (auto& [k, v] : st) keys.push_back(k);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"a.w.m", "a.w.v", "b.m", "b.v", "learning_rate", "step"}));
  sa = opt.state_arrays();
  ASSERT_EQ(sa.size(), 6u);
  EXPECT_TRUE(sa[2].is_same(st.at("a.w.m")));
  EXPECT_TRUE(sa[5].is_same(st.at("b.v")));
  // set_state_arrays round trip.
  std::vector<array> repl = sa;
  repl[0] = array(7, kx::int32);
  repl[1] = array(0.5f);
  opt.set_state_arrays(repl);
  EXPECT_EQ(opt.step().item<int>(), 7);
  EXPECT_FLOAT_EQ(opt.learning_rate().item<float>(), 0.5f);
  EXPECT_THROW(opt.set_state_arrays({array(1)}), std::invalid_argument);
  // set_state(state()) restores.
  optim::Adam other(0.3f);
  other.set_state(opt.state());
  EXPECT_EQ(other.state_arrays().size(), 6u);
  EXPECT_EQ(other.step().item<int>(), 7);
  // A gradient whose parameter is missing is an error.
  EXPECT_THROW(opt.apply_gradients({{"zz", kx::zeros({1})}}, params), std::invalid_argument);
  EXPECT_THROW(opt.apply_gradients({{"b", kx::zeros({3})}}, params), std::invalid_argument);
}

TEST(Optimizer, UpdatesModuleAndSubset) {
  nn::Linear l(2, 1);
  l.update({{"weight", array({1.f, 1.f}, {1, 2})}, {"bias", array({0.f})}});
  optim::SGD opt(0.5f);
  opt.update(l, {{"weight", array({1.f, -1.f}, {1, 2})}});  // only the weight
  auto p = l.parameters();
  EXPECT_EQ(p.at("weight").to_vector<float>(), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(p.at("bias").to_vector<float>(), (std::vector<float>{0.f}));
}

TEST(Optimizer, LearningRateSetter) {
  optim::SGD opt(optim::exponential_decay(1.f, 0.5f));
  opt.apply_gradients({}, {});
  opt.set_learning_rate(0.25f);
  opt.apply_gradients({}, {});
  EXPECT_FLOAT_EQ(opt.learning_rate().item<float>(), 0.25f);
}

// ------------------------------------------------------------------ schedules
namespace {
// The optimizer's learning rate after n updates (MLX's doc examples use this form).
float lr_after(optim::Schedule s, int n) {
  optim::SGD opt(s);
  for (int i = 0; i < n; ++i) opt.apply_gradients({}, {});
  return opt.learning_rate().item<float>();
}
float at(const optim::Schedule& s, int step) { return s(array(step, kx::int32)).item<float>(); }
}  // namespace

TEST(Schedules, MlxDocExamples) {
  EXPECT_NEAR(lr_after(optim::exponential_decay(0.1f, 0.9f), 0), 0.1f, 1e-7);
  EXPECT_NEAR(lr_after(optim::exponential_decay(0.1f, 0.9f), 5), 0.06561f, 1e-7);
  EXPECT_NEAR(lr_after(optim::step_decay(0.1f, 0.9f, 10), 21), 0.081f, 1e-7);
  EXPECT_NEAR(lr_after(optim::cosine_decay(0.1f, 1000), 5), 0.0999961f, 1e-7);
  auto warm = optim::join_schedules(
      {optim::linear_schedule(0.f, 0.1f, 10), optim::cosine_decay(0.1f, 200)}, {10});
  EXPECT_NEAR(lr_after(warm, 0), 0.f, 1e-8);
  EXPECT_NEAR(lr_after(warm, 12), 0.0999938f, 1e-7);
  EXPECT_NEAR(lr_after(optim::linear_schedule(0.f, 0.1f, 100), 101), 0.1f, 1e-7);
}

TEST(Schedules, Values) {
  auto cd = optim::cosine_decay(1.f, 10, 0.1f);
  for (int s : {0, 3, 5, 10, 20}) {
    double ss = std::min(s, 10);
    EXPECT_NEAR(at(cd, s), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * ss / 10)), 1e-6) << s;
  }
  auto ls = optim::linear_schedule(1.f, 3.f, 4);
  EXPECT_NEAR(at(ls, 0), 1.f, 1e-6);
  EXPECT_NEAR(at(ls, 2), 2.f, 1e-6);
  EXPECT_NEAR(at(ls, 9), 3.f, 1e-6);
  auto sd = optim::step_decay(2.f, 0.5f, 3);
  EXPECT_NEAR(at(sd, 2), 2.f, 1e-6);
  EXPECT_NEAR(at(sd, 3), 1.f, 1e-6);
  EXPECT_NEAR(at(sd, 7), 0.5f, 1e-6);
  auto j = optim::join_schedules(
      {optim::linear_schedule(0.f, 1.f, 2), optim::exponential_decay(1.f, 0.5f),
       optim::linear_schedule(5.f, 5.f, 1)},
      {2, 5});
  std::vector<float> want{0.f, 0.5f, 1.f, 0.5f, 0.25f, 5.f, 5.f};
  for (int s = 0; s < 7; ++s) EXPECT_NEAR(at(j, s), want[s], 1e-6) << s;
  EXPECT_THROW(optim::linear_schedule(0.f, 1.f, 0), std::invalid_argument);
  EXPECT_THROW(optim::join_schedules({optim::cosine_decay(1.f, 2)}, {1}), std::invalid_argument);
  // A scheduled optimizer keeps the learning rate an array: the constant-shape state means a
  // compiled step never retraces for a new value.
  optim::Adam opt(cd);
  EXPECT_EQ(opt.learning_rate().ndim(), 0);
}

// ------------------------------------------------------------------ clip_grad_norm
TEST(ClipGradNorm, ScalesOnlyAboveMax) {
  nn::Params g{{"w1", array({2.f, 3.f})}, {"w2", array({1.f})}};
  auto [c, norm] = optim::clip_grad_norm(g, 2.f);
  double n = std::sqrt(14.0);
  EXPECT_NEAR(norm.item<float>(), n, 1e-6);
  double sc = 2.0 / (n + 1e-6);
  auto w1 = c.at("w1").to_vector<float>();
  EXPECT_NEAR(w1[0], 2 * sc, 1e-6);
  EXPECT_NEAR(w1[1], 3 * sc, 1e-6);
  EXPECT_NEAR(c.at("w2").item<float>(), sc, 1e-6);
  auto [c2, norm2] = optim::clip_grad_norm(g, 10.f);
  EXPECT_EQ(c2.at("w1").to_vector<float>(), (std::vector<float>{2.f, 3.f}));
  // Lazy: nothing is evaluated until asked (the result is a graph, no host sync).
  auto [c3, norm3] = optim::clip_grad_norm(g, 1.f);
  EXPECT_FALSE(c3.at("w1").is_available());
  EXPECT_FALSE(norm3.is_available());
}

// ------------------------------------------------------------------ compiled == eager
namespace {

struct Net : nn::Module {
  nn::Linear& l1 = register_module("l1", nn::Linear(6, 16));
  nn::Linear& l2 = register_module("l2", nn::Linear(16, 16));
  nn::Linear& l3 = register_module("l3", nn::Linear(16, 3));
  array operator()(const array& x) override { return l3(nn::gelu(l2(nn::relu(l1(x))))); }
};

std::vector<array> all_of(const kx::Stateful& a, const kx::Stateful& b, const array& c) {
  auto v = a.state_arrays();
  for (auto& x : b.state_arrays()) v.push_back(x);
  v.push_back(c);
  return v;
}

void compiled_matches_eager(const std::function<std::unique_ptr<optim::Optimizer>()>& make_opt) {
  kx::set_default_device(kx::Device::cpu);
  kx::enable_compile();
  kx::random::seed(41);
  Net eager_model, comp_model;
  comp_model.update(eager_model.parameters());
  auto eager_ptr = make_opt(), comp_ptr = make_opt();
  optim::Optimizer& eager_opt = *eager_ptr;
  optim::Optimizer& comp_opt = *comp_ptr;
  array x = kx::random::normal({12, 6});
  array y = kx::random::randint(0, 3, {12});
  auto loss_fn = [](Net& m, const array& xx, const array& yy) {
    return nn::losses::cross_entropy(m(xx), yy, {.reduction = nn::losses::Reduction::mean});
  };
  auto eager_lg = nn::value_and_grad(eager_model, loss_fn);
  auto comp_lg = nn::value_and_grad(comp_model, loss_fn);
  kx::VectorFn step =
      kx::compile(kx::VectorFn([&](const std::vector<array>& in) {
                    auto [loss, grads] = comp_lg(comp_model, in[0], in[1]);
                    comp_opt.update(comp_model, grads);
                    return std::vector<array>{loss};
                  }),
                  {.inputs = {&comp_model, &comp_opt}, .outputs = {&comp_model, &comp_opt}});
  for (int it = 0; it < 20; ++it) {
    auto [le, grads] = eager_lg(eager_model, x, y);
    eager_opt.update(eager_model, grads);
    kx::eval(all_of(eager_model, eager_opt, le));
    array lc = step({x, y})[0];
    kx::eval(all_of(comp_model, comp_opt, lc));
    ASSERT_EQ(le.item<float>(), lc.item<float>()) << "loss at step " << it;
    auto pe = eager_model.parameters(), pc = comp_model.parameters();
    for (auto& [k, v] : pe)
      ASSERT_TRUE(kx::array_equal(v, pc.at(k)).item<bool>()) << k << " at step " << it;
    auto se = eager_opt.state_arrays(), sc = comp_opt.state_arrays();
    ASSERT_EQ(se.size(), sc.size());
    for (size_t i = 0; i < se.size(); ++i)
      ASSERT_TRUE(kx::array_equal(se[i], sc[i]).item<bool>()) << "state " << i << " at " << it;
  }
  EXPECT_EQ(comp_opt.step().item<int>(), 20);
  // It really ran compiled: traced once, then once more when the optimizer's state appeared.
  EXPECT_EQ(kx::detail::compile_info(step).traces, 2);
}

}  // namespace

TEST(CompiledStep, SgdMomentumBitExact) {
  compiled_matches_eager([] { return std::make_unique<optim::SGD>(0.1f, 0.9f, 1e-3f); });
}

TEST(CompiledStep, AdamWScheduleBitExact) {
  compiled_matches_eager([] {
    return std::make_unique<optim::AdamW>(
        optim::join_schedules(
            {optim::linear_schedule(0.f, 1e-2f, 5), optim::cosine_decay(1e-2f, 15)}, {5}),
        std::pair<float, float>{0.9f, 0.999f}, 1e-8f, 0.01f, true);
  });
}
