// The README's example, kept compiling and correct.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <sstream>

namespace kx = kiln;
namespace nn = kiln::nn;

TEST(Readme, CompiledTrainingStepMatchesEager) {
  auto train = [](bool compiled) {
    kx::random::seed(0);
    kx::array x = kx::random::uniform({4, 10});  // 4 examples, 10 features
    kx::array y({0, 1, 0, 1});
    nn::Linear model(10, 1);
    kx::optim::SGD optimizer(0.1f, /*momentum=*/0.8f);
    auto loss_fn = [](nn::Linear& m, const kx::array& x, const kx::array& y) {
      return nn::losses::binary_cross_entropy(kx::squeeze(m(x)), y);
    };
    std::vector<kx::Stateful*> state{&model, &optimizer};  // captured as inputs and outputs
    std::function<kx::array(const kx::array&, const kx::array&)> f =
        [&](const kx::array& x, const kx::array& y) {
          auto [loss, grads] = nn::value_and_grad(model, loss_fn)(model, x, y);
          optimizer.update(model, grads);
          return loss;
        };
    std::function<kx::array(const kx::array&, const kx::array&)> step = f;
    if (compiled) step = kx::compile(f, {.inputs = state, .outputs = state});
    std::vector<float> losses;
    for (int it = 0; it < 10; ++it) {
      std::ostringstream os;
      os << step(x, y);
      EXPECT_NE(os.str().find("dtype=float32"), std::string::npos);
      losses.push_back(kx::sum(model.parameters().at("weight")).item<float>());
    }
    return losses;
  };
  auto a = train(false), b = train(true);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f);
}
