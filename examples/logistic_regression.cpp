// Logistic regression on the Wisconsin breast-cancer data (569 rows, 30 features): standardise,
// split 80/20, train a Linear(30, 1) with binary cross-entropy and a compiled SGD step on the
// full training set, report the test accuracy.
#include <kiln/kiln.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <cstdio>
#include <functional>

#include "common/cli.h"
#include "common/data.h"

namespace kx = kiln;
namespace nn = kiln::nn;
namespace optim = kiln::optim;
namespace ex = kiln::examples;
using kx::array;

int main(int argc, char** argv) {
  ex::Cli cli("logistic_regression",
              "Logistic regression on the breast-cancer data: standardised features, an 80/20 "
              "split, Linear(30, 1), binary cross-entropy, compiled SGD with momentum.");
  cli.steps = 200;
  float lr = 0.1f, momentum = 0.9f, weight_decay = 1e-2f, min_accuracy = 0.f;
  int print_every = 20;
  std::string data_dir;
  cli.option("lr", &lr, "learning rate");
  cli.option("momentum", &momentum, "SGD momentum");
  cli.option("weight-decay", &weight_decay, "SGD weight decay (L2)");
  cli.option("print-every", &print_every, "steps between progress lines");
  cli.option("data", &data_dir, "directory holding breast_cancer.csv");
  cli.option("min-accuracy", &min_accuracy, "exit with status 1 if the test accuracy is lower");
  if (int rc = cli.parse(argc, argv); rc >= 0) return rc;
  try {
    std::string dev = cli.setup_device();
    std::string path = ex::find_data("breast_cancer.csv", data_dir, argv[0]);
    ex::Dataset data = ex::load_csv(path);
    kx::random::seed(cli.seed);
    auto [train, test] = ex::train_test_split(data, 0.2f, kx::random::key(cli.seed));
    ex::standardize(train, test);
    std::printf("%s: %d rows, %d features (train %d, test %d); device %s, %s\n", path.c_str(),
                data.size(), data.features(), train.size(), test.size(), dev.c_str(),
                cli.compile ? "compiled" : "eager");

    nn::Linear model(data.features(), 1);
    optim::SGD optimizer(lr, momentum, weight_decay);
    auto loss_fn = [](nn::Linear& m, const array& x, const array& y) {
      return nn::losses::binary_cross_entropy(kx::squeeze(m(x), -1), y);
    };
    auto loss_and_grad = nn::value_and_grad(model, loss_fn);
    std::function<array(const array&, const array&)> step = [&](const array& x, const array& y) {
      auto [loss, grads] = loss_and_grad(model, x, y);
      optimizer.update(model, grads);
      return loss;
    };
    if (cli.compile)
      step = kx::compile(step, {.inputs = {&model, &optimizer}, .outputs = {&model, &optimizer}});

    ex::Timer timer;
    int since = 0;
    for (int it = 1; it <= cli.steps; ++it) {
      array loss = step(train.x, train.y);
      kx::eval(ex::arrays_of({&model, &optimizer}, {loss}));
      ++since;
      if (it % print_every == 0 || it == cli.steps) {
        double dt = timer.lap();
        std::printf("step %4d  loss %.5f  train accuracy %.4f  steps/s %.0f\n", it,
                    loss.item<float>(), ex::accuracy(model(train.x), train.y), since / dt);
        since = 0;
        timer.lap();
      }
    }
    float acc = ex::accuracy(model(test.x), test.y);
    std::printf("test accuracy %.4f (%d examples)\n", acc, test.size());
    return acc >= min_accuracy ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "logistic_regression: %s\n", e.what());
    return 1;
  }
}
