// The seeds' "Compiling Training Graphs" example (MLX docs, compile.rst) in C++: a linear
// model trained with SGD + momentum on 4 random examples, the whole step (forward, backward,
// update) compiled with the model and optimizer state captured as inputs and outputs.
//
//   x = uniform((4, 10)); y = [0, 1, 0, 1]; model = Linear(10, 1)
//   optimizer = SGD(learning_rate=0.1, momentum=0.8)
//   loss = binary_cross_entropy(model(x).squeeze(), y)
#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "common/cli.h"
#include "common/data.h"

namespace kx = kiln;
namespace nn = kiln::nn;
namespace optim = kiln::optim;
using kx::array;

namespace {

std::vector<float> run(bool compiled, int steps, uint64_t seed, bool print) {
  kx::random::seed(seed);
  // 4 examples with 10 features each, 0/1 targets.
  array x = kx::random::uniform({4, 10});
  array y({0, 1, 0, 1});
  nn::Linear model(10, 1);
  optim::SGD optimizer(0.1f, /*momentum=*/0.8f);

  auto loss_fn = [](nn::Linear& m, const array& xx, const array& yy) {
    array logits = kx::squeeze(m(xx));
    return nn::losses::binary_cross_entropy(logits, yy);
  };
  auto step_fn = [&](const array& xx, const array& yy) {
    auto loss_and_grad_fn = nn::value_and_grad(model, loss_fn);
    auto [loss, grads] = loss_and_grad_fn(model, xx, yy);
    optimizer.update(model, grads);
    return loss;
  };
  // The state that is captured as input and output: [model.state, optimizer.state].
  std::vector<kx::Stateful*> state{&model, &optimizer};
  std::function<array(const array&, const array&)> step = step_fn;
  if (compiled) step = kx::compile(step_fn, {.inputs = state, .outputs = state});

  std::vector<float> losses;
  kx::examples::Timer timer;
  for (int it = 0; it < steps; ++it) {
    array loss = step(x, y);
    // Evaluate the model and optimizer state.
    kx::eval(kx::examples::arrays_of({&model, &optimizer}, {loss}));
    double dt = timer.lap();
    losses.push_back(loss.item<float>());
    if (print)
      std::printf("step %2d  loss %.7f  accuracy %.2f  steps/s %.0f\n", it + 1, losses.back(),
                  kx::examples::accuracy(model(x), y), 1.0 / dt);
  }
  return losses;
}

}  // namespace

int main(int argc, char** argv) {
  kx::examples::Cli cli("linear_sgd",
                        "The seeds' compiled training-graph example: Linear(10, 1) on 4 random "
                        "examples, binary cross-entropy, SGD (lr 0.1, momentum 0.8), the step "
                        "compiled with model and optimizer state captured.");
  cli.steps = 10;
  bool compare = false;
  cli.flag("compare", &compare,
           "run eagerly and compiled from the same seed and check both print the same losses");
  if (int rc = cli.parse(argc, argv); rc >= 0) return rc;
  try {
    std::printf("device %s, %s, %d steps\n", cli.setup_device().c_str(),
                compare       ? "eager vs compiled"
                : cli.compile ? "compiled"
                              : "eager",
                cli.steps);
    if (!compare) {
      run(cli.compile, cli.steps, cli.seed, true);
      return 0;
    }
    auto eager = run(false, cli.steps, cli.seed, false);
    auto comp = run(true, cli.steps, cli.seed, false);
    bool cpu = kx::default_device() == kx::Device::cpu;
    int bad = 0;
    for (int i = 0; i < cli.steps; ++i) {
      bool same = cpu ? eager[i] == comp[i]
                      : std::abs(eager[i] - comp[i]) <= 1e-6f * (1 + std::abs(eager[i]));
      bad += !same;
      std::printf("step %2d  eager %.7f  compiled %.7f%s\n", i + 1, eager[i], comp[i],
                  same ? "" : "  MISMATCH");
    }
    if (bad)
      std::printf("losses differ at %d steps\n", bad);
    else
      std::printf("eager and compiled losses agree\n");
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "linear_sgd: %s\n", e.what());
    return 1;
  }
}
