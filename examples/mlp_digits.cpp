// An MLP on the 8x8 handwritten digits (1797 images, 10 classes): GELU + Dropout, AdamW with a
// linear warmup joined to a cosine decay, mini-batches, and a compiled training step that
// captures the model, the optimizer and the global random state (Dropout draws from it).
#include <kiln/kiln.h>
#include <kiln/io/checkpoint.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/cli.h"
#include "common/data.h"

namespace kx = kiln;
namespace nn = kiln::nn;
namespace optim = kiln::optim;
namespace ex = kiln::examples;
using kx::array;

namespace {

// A user-defined module: a few lines.
struct MLP : nn::Module {
  MLP(int in, int hidden, int out, float dropout)
      : fc1(register_module("fc1", nn::Linear(in, hidden))),
        fc2(register_module("fc2", nn::Linear(hidden, hidden))),
        head(register_module("head", nn::Linear(hidden, out))),
        drop(register_module("dropout", nn::Dropout(dropout))) {}
  array operator()(const array& x) override {
    array h = drop(nn::gelu(fc1(x)));
    h = drop(nn::gelu(fc2(h)));
    return head(h);
  }
  std::string name() const override { return "MLP"; }
  nn::Linear& fc1;
  nn::Linear& fc2;
  nn::Linear& head;
  nn::Dropout& drop;
};

}  // namespace

int main(int argc, char** argv) {
  ex::Cli cli("mlp_digits",
              "An MLP (64 -> hidden -> hidden -> 10, GELU, Dropout) on the digits data with AdamW "
              "and a warmup + cosine learning-rate schedule; the compiled step captures the "
              "model, the optimizer and kiln::random::state().");
  cli.steps = 600;
  float lr = 3e-3f, weight_decay = 0.01f, dropout = 0.1f, min_accuracy = 0.f;
  int hidden = 128, batch_size = 64, warmup = 50, print_every = 100;
  std::string data_dir, checkpoint_dir;
  bool resume = false;
  int save_every = 100;
  cli.option("lr", &lr, "peak learning rate");
  cli.option("warmup", &warmup, "linear warmup steps");
  cli.option("weight-decay", &weight_decay, "AdamW weight decay");
  cli.option("hidden", &hidden, "hidden width");
  cli.option("dropout", &dropout, "dropout probability");
  cli.option("batch-size", &batch_size, "mini-batch size");
  cli.option("print-every", &print_every, "steps between progress lines");
  cli.option("data", &data_dir, "directory holding digits.csv.gz");
  cli.option("min-accuracy", &min_accuracy, "exit with status 1 if the test accuracy is lower");
  cli.option("checkpoint", &checkpoint_dir,
             "directory for DIR/mlp_digits.ckpt (model, optimizer, RNG, step), saved every "
             "--save-every steps and at the end");
  cli.option("save-every", &save_every, "steps between checkpoints");
  cli.flag("resume", &resume, "continue from the checkpoint in --checkpoint DIR if it exists");
  if (int rc = cli.parse(argc, argv); rc >= 0) return rc;
  try {
    std::string dev = cli.setup_device();
    std::string path = ex::find_data("digits.csv.gz", data_dir, argv[0]);
    ex::Dataset data = ex::load_csv(path);
    kx::random::seed(cli.seed);
    auto [k_split, k_batches] = kx::random::split(kx::random::key(cli.seed));
    auto [train, test] = ex::train_test_split(data, 0.2f, k_split);
    ex::standardize(train, test);
    std::printf("%s: %d rows, %d features (train %d, test %d); device %s, %s\n", path.c_str(),
                data.size(), data.features(), train.size(), test.size(), dev.c_str(),
                cli.compile ? "compiled" : "eager");

    MLP model(data.features(), hidden, 10, dropout);
    std::printf("%s", model.summary().c_str());
    int decay = std::max(1, cli.steps - warmup);
    optim::AdamW optimizer(
        optim::join_schedules(
            {optim::linear_schedule(0.f, lr, std::max(1, warmup)), optim::cosine_decay(lr, decay)},
            {warmup}),
        {0.9f, 0.999f}, 1e-8f, weight_decay);
    auto loss_fn = [](MLP& m, const array& x, const array& y) {
      return nn::losses::cross_entropy(m(x), y, {.reduction = nn::losses::Reduction::mean});
    };
    auto loss_and_grad = nn::value_and_grad(model, loss_fn);
    std::function<array(const array&, const array&)> step = [&](const array& x, const array& y) {
      auto [loss, grads] = loss_and_grad(model, x, y);
      optimizer.update(model, grads);
      return loss;
    };
    // Dropout samples from the global random state, so it is captured too.
    std::vector<kx::Stateful*> state{&model, &optimizer, &kx::random::state()};
    if (cli.compile) step = kx::compile(step, {.inputs = state, .outputs = state});

    ex::Batches batches(train, batch_size, k_batches);
    std::string ckpt = checkpoint_dir.empty() ? "" : checkpoint_dir + "/mlp_digits.ckpt";
    int start = 0;
    if (resume) {
      if (ckpt.empty()) throw std::invalid_argument("--resume needs --checkpoint DIR");
      if (std::ifstream(ckpt).good()) {
        // model, optimizer (moments, step, learning-rate state) and the RNG come back exactly
        kx::CheckpointInfo info = kx::load_checkpoint(ckpt, model, optimizer);
        start = static_cast<int>(info.step);
        for (int i = 0; i < start; ++i) batches.next();  // the same batch order as a straight run
        std::printf("resumed from %s at step %d\n", ckpt.c_str(), start);
      } else {
        std::printf("no checkpoint at %s: starting from scratch\n", ckpt.c_str());
      }
    }
    auto save = [&](int it) {
      if (ckpt.empty()) return;
      std::filesystem::create_directories(checkpoint_dir);
      kx::save_checkpoint(ckpt, kx::Checkpoint{model, optimizer, static_cast<uint64_t>(it),
                                               {{"example", "mlp_digits"}}});
    };
    ex::Timer timer;
    int since = 0;
    double loss_sum = 0;
    for (int it = start + 1; it <= cli.steps; ++it) {
      auto [x, y] = batches.next();
      array loss = step(x, y);
      kx::eval(ex::arrays_of({&model, &optimizer, &kx::random::state()}, {loss}));
      loss_sum += loss.item<float>();
      ++since;
      if (it % print_every == 0 || it == cli.steps) {
        double dt = timer.lap();
        model.eval();
        float acc = ex::accuracy(model(test.x), test.y);
        model.train();
        std::printf("step %4d  epoch %2d  loss %.4f  lr %.5f  test accuracy %.4f  steps/s %.0f\n",
                    it, batches.epoch(), loss_sum / since, optimizer.learning_rate().item<float>(),
                    acc, since / dt);
        since = 0;
        loss_sum = 0;
        timer.lap();
      }
      if (save_every > 0 && it % save_every == 0) save(it);
    }
    save(cli.steps);
    model.eval();
    float acc = ex::accuracy(model(test.x), test.y);
    std::printf("test accuracy %.4f (%d examples)\n", acc, test.size());
    return acc >= min_accuracy ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlp_digits: %s\n", e.what());
    return 1;
  }
}
