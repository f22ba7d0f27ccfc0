// io/: checkpoints of nn::Module + optim::Optimizer (resume equivalence, mismatches),
// Module::save_weights/load_weights, and interrupted saves.
#include <gtest/gtest.h>
#include <kiln/core/errors.h>
#include <kiln/core/ops.h>
#include <kiln/core/random.h>
#include <kiln/gpu/gpu.h>
#include <kiln/io/checkpoint.h>
#include <kiln/io/container.h>
#include <kiln/io/npy.h>
#include <kiln/io/safetensors.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optim.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace kx = kiln;
namespace nn = kiln::nn;
namespace optim = kiln::optim;
namespace fs = std::filesystem;
using kx::array;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kiln-ckpt-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Net : nn::Module {
  explicit Net(int hidden = 16)
      : l1(register_module("l1", nn::Linear(8, hidden))),
        drop(register_module("drop", nn::Dropout(0.25f))),
        l2(register_module("l2", nn::Linear(hidden, 4))) {}
  array operator()(const array& x) override { return l2(drop(nn::relu(l1(x)))); }
  std::string name() const override { return "Net"; }
  nn::Linear& l1;
  nn::Dropout& drop;
  nn::Linear& l2;
};

std::unique_ptr<optim::Optimizer> make_optimizer() {
  return std::make_unique<optim::AdamW>(optim::cosine_decay(0.05f, 60), std::pair{0.9f, 0.99f},
                                        1e-8f, 0.01f, true);
}

// One training step on a batch that depends only on the step number; Dropout draws from the
// global RNG. Returns the loss as its bit pattern.
uint32_t train_step(Net& model, optim::Optimizer& opt, int step) {
  array x = kx::random::normal({6, 8}, kx::float32, 0.f, 1.f, kx::random::key(1000 + step));
  array y = kx::random::randint(0, 4, {6}, kx::int32, kx::random::key(2000 + step));
  auto loss_fn = [](Net& m, const array& xx, const array& yy) {
    return nn::losses::cross_entropy(m(xx), yy, {.reduction = nn::losses::Reduction::mean});
  };
  auto [loss, grads] = nn::value_and_grad(model, loss_fn)(model, x, y);
  opt.update(model, grads);
  std::vector<array> outs{loss};
  for (auto& [k, v] : model.parameters()) outs.push_back(v);
  kx::eval(outs);
  float l = loss.item<float>();
  uint32_t bits;
  std::memcpy(&bits, &l, 4);
  return bits;
}

std::vector<uint8_t> bytes_of(array a) {
  a.eval();
  const auto* p = a.data<uint8_t>();
  return std::vector<uint8_t>(p, p + a.nbytes());
}

bool same_params(const nn::Params& a, const nn::Params& b) {
  if (a.size() != b.size()) return false;
  for (auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || v.dtype() != it->second.dtype() || v.shape() != it->second.shape() ||
        bytes_of(v) != bytes_of(it->second))
      return false;
  }
  return true;
}

// Runs a test on the CPU (where bit-identity is promised), restoring the default device.
struct OnCpu {
  OnCpu() : saved(kx::default_device()) { kx::set_default_device(kx::Device::cpu); }
  ~OnCpu() { kx::set_default_device(saved); }
  kx::Device saved;
};

template <typename F>
std::string checkpoint_error(F&& f) {
  try {
    f();
  } catch (const kx::CheckpointError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no CheckpointError thrown";
  return "";
}

}  // namespace

// 40 steps straight == 20 steps, save, load into fresh objects (fresh RNG), 20 steps:
// identical losses and parameters, bit for bit.
TEST(Checkpoint, ResumeIsBitIdentical) {
  OnCpu cpu;
  TempDir d;
  std::string path = d.file("run.ckpt");
  const int N = 40;

  kx::random::seed(5);
  Net a;
  auto opt_a = make_optimizer();
  std::vector<uint32_t> straight;
  for (int s = 0; s < N; ++s) straight.push_back(train_step(a, *opt_a, s));

  kx::random::seed(5);
  Net b;
  auto opt_b = make_optimizer();
  std::vector<uint32_t> resumed;
  for (int s = 0; s < N / 2; ++s) resumed.push_back(train_step(b, *opt_b, s));
  kx::save_checkpoint(path, {b, *opt_b, N / 2, {{"run", "b"}, {"lr", "cosine"}}});

  // A new "process state": other seed, freshly initialised model and optimizer.
  kx::random::seed(999);
  Net c;
  auto opt_c = make_optimizer();
  ASSERT_FALSE(same_params(c.parameters(), b.parameters()));
  auto info = kx::load_checkpoint(path, c, *opt_c);
  EXPECT_EQ(info.step, uint64_t(N / 2));
  EXPECT_EQ(info.metadata.at("run"), "b");
  EXPECT_EQ(info.optimizer, "AdamW");
  EXPECT_EQ(info.kiln_version, kx::kiln_version());
  EXPECT_TRUE(same_params(c.parameters(), b.parameters()));
  EXPECT_TRUE(same_params(opt_c->state(), opt_b->state()));
  for (int s = N / 2; s < N; ++s) resumed.push_back(train_step(c, *opt_c, s));

  EXPECT_EQ(resumed, straight);
  EXPECT_TRUE(same_params(c.parameters(), a.parameters()));
  EXPECT_TRUE(same_params(opt_c->state(), opt_a->state()));
}

// The test above can fail: restoring everything but the RNG state changes the run.
TEST(Checkpoint, ResumeWithoutRngStateDiverges) {
  OnCpu cpu;
  TempDir d;
  std::string path = d.file("run.ckpt");
  kx::random::seed(5);
  Net a;
  auto opt_a = make_optimizer();
  for (int s = 0; s < 4; ++s) train_step(a, *opt_a, s);
  kx::save_checkpoint(path, {a, *opt_a, 4});
  std::vector<uint32_t> ref;
  for (int s = 4; s < 8; ++s) ref.push_back(train_step(a, *opt_a, s));

  Net c;
  auto opt_c = make_optimizer();
  kx::load_checkpoint(path, c, *opt_c);
  kx::random::seed(12345);  // lose the restored RNG state
  std::vector<uint32_t> other;
  for (int s = 4; s < 8; ++s) other.push_back(train_step(c, *opt_c, s));
  EXPECT_NE(other, ref);
}

TEST(Checkpoint, MismatchedModelIsReportedByNameAndChangesNothing) {
  TempDir d;
  std::string path = d.file("m.ckpt");
  kx::random::seed(1);
  Net a;
  auto opt = make_optimizer();
  train_step(a, *opt, 0);
  kx::save_checkpoint(path, {a, *opt, 1});

  Net wide(32);
  auto opt2 = make_optimizer();
  auto before = wide.parameters();
  auto key_before = kx::random::state().key();
  auto m = checkpoint_error([&] { kx::load_checkpoint(path, wide, *opt2); });
  EXPECT_NE(m.find("'l1.weight' is (16, 8) in the file but (32, 8) in the model"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("'l2.weight'"), std::string::npos) << m;
  EXPECT_TRUE(same_params(wide.parameters(), before));
  EXPECT_TRUE(kx::random::state().key().is_same(key_before));

  struct Bigger : Net {
    nn::Linear& l3 = register_module("l3", nn::Linear(4, 2));
  } bigger;
  m = checkpoint_error([&] { kx::load_checkpoint(path, bigger, *opt2); });
  EXPECT_NE(m.find("missing parameters: 'l3.bias', 'l3.weight'"), std::string::npos) << m;

  struct Smaller : nn::Module {
    nn::Linear& l1 = register_module("l1", nn::Linear(8, 16));
  } smaller;
  m = checkpoint_error([&] { kx::load_checkpoint(path, smaller, *opt2); });
  EXPECT_NE(m.find("unexpected parameters: 'l2.bias', 'l2.weight'"), std::string::npos) << m;

  Net same;
  optim::SGD sgd(0.1f);
  m = checkpoint_error([&] { kx::load_checkpoint(path, same, sgd); });
  EXPECT_NE(m.find("AdamW"), std::string::npos) << m;
  EXPECT_NE(m.find("SGD"), std::string::npos) << m;
}

TEST(Checkpoint, OptimizerStateIsValidatedAgainstTheModel) {
  TempDir d;
  kx::TrainingState s;
  kx::random::seed(2);
  Net a;
  s.parameters = a.parameters();
  s.optimizer = "SGD";
  s.optimizer_state = {
      {"step", array(3)}, {"learning_rate", array(0.1f)}, {"l1.weight.v", kx::zeros({3, 3})}};
  s.rng_state = {kx::random::key(1)};
  kx::save_training_state(d.file("bad"), s);
  Net b;
  optim::SGD sgd(0.1f, 0.9f);
  auto m = checkpoint_error([&] { kx::load_checkpoint(d.file("bad"), b, sgd); });
  EXPECT_NE(m.find("slot 'l1.weight.v' has shape (3, 3)"), std::string::npos) << m;
  s.optimizer_state = {
      {"step", array(3)}, {"learning_rate", array(0.1f)}, {"nothing.v", kx::zeros({3, 3})}};
  kx::save_training_state(d.file("bad"), s);
  m = checkpoint_error([&] { kx::load_checkpoint(d.file("bad"), b, sgd); });
  EXPECT_NE(m.find("'nothing.v' belongs to no parameter"), std::string::npos) << m;
  s.optimizer_state = {{"learning_rate", array(0.1f)}};
  kx::save_training_state(d.file("bad"), s);
  m = checkpoint_error([&] { kx::load_checkpoint(d.file("bad"), b, sgd); });
  EXPECT_NE(m.find("'step' is missing"), std::string::npos) << m;
  s.optimizer_state = {{"step", array(3)}, {"learning_rate", array(0.1f)}};
  s.rng_state = {};
  kx::save_training_state(d.file("bad"), s);
  m = checkpoint_error([&] { kx::load_checkpoint(d.file("bad"), b, sgd); });
  EXPECT_NE(m.find("RNG state"), std::string::npos) << m;
}

TEST(Checkpoint, KeepLastRotation) {
  TempDir d;
  std::string path = d.file("r.ckpt");
  kx::random::seed(3);
  Net a;
  auto opt = make_optimizer();
  for (int s = 1; s <= 4; ++s) kx::save_checkpoint(path, {a, *opt, uint64_t(s)}, {.keep_last = 3});
  auto step_of = [](const std::string& p) { return kx::load_training_state(p).step; };
  EXPECT_EQ(step_of(path), 4u);
  EXPECT_EQ(step_of(path + ".1"), 3u);
  EXPECT_EQ(step_of(path + ".2"), 2u);
  EXPECT_FALSE(fs::exists(path + ".3"));
}

// ------------------------------------------------------------ weights
TEST(Weights, SaveLoadRoundTrip) {
  TempDir d;
  kx::random::seed(4);
  Net a;
  a.save_weights(d.file("w.safetensors"));
  Net b;
  ASSERT_FALSE(same_params(a.parameters(), b.parameters()));
  b.load_weights(d.file("w.safetensors"));
  EXPECT_TRUE(same_params(a.parameters(), b.parameters()));
  // The file is plain safetensors.
  auto [arrays, meta] = kx::load_safetensors(d.file("w.safetensors"));
  EXPECT_EQ(arrays.size(), 4u);
  EXPECT_TRUE(arrays.count("l1.weight"));
}

TEST(Weights, StrictReportsMissingAndUnexpectedNonStrictLoadsTheRest) {
  TempDir d;
  kx::random::seed(6);
  Net a;
  kx::save_safetensors(d.file("part.safetensors"), {{"l1.weight", a.parameters().at("l1.weight")},
                                                    {"head.weight", kx::zeros({2, 2})}});
  Net b;
  auto before = b.parameters();
  auto m = checkpoint_error([&] { b.load_weights(d.file("part.safetensors")); });
  EXPECT_NE(m.find("missing parameters: 'l1.bias', 'l2.bias', 'l2.weight'"), std::string::npos)
      << m;
  EXPECT_NE(m.find("unexpected parameters: 'head.weight'"), std::string::npos) << m;
  EXPECT_TRUE(same_params(b.parameters(), before));
  b.load_weights(d.file("part.safetensors"), /*strict=*/false);
  auto after = b.parameters();
  EXPECT_EQ(bytes_of(after.at("l1.weight")), bytes_of(a.parameters().at("l1.weight")));
  EXPECT_TRUE(after.at("l2.weight").is_same(before.at("l2.weight")));
  // A misshapen parameter is an error in either mode.
  kx::save_safetensors(d.file("shape.safetensors"), {{"l1.weight", kx::zeros({8, 16})}});
  m = checkpoint_error([&] { b.load_weights(d.file("shape.safetensors"), false); });
  EXPECT_NE(m.find("'l1.weight' is (8, 16) in the file but (16, 8) in the model"),
            std::string::npos)
      << m;
}

TEST(Weights, DtypesAreConvertedToTheModels) {
  TempDir d;
  kx::random::seed(7);
  Net a;
  std::map<std::string, array> half;
  for (auto& [k, v] : a.parameters()) half[k] = kx::astype(v, kx::float16);
  kx::save_safetensors(d.file("h.safetensors"), half);
  Net b;
  b.load_weights(d.file("h.safetensors"));
  for (auto& [k, v] : b.parameters()) {
    EXPECT_EQ(v.dtype(), kx::float32) << k;
    EXPECT_EQ(v.to_vector<float>(), kx::astype(half[k], kx::float32).to_vector<float>()) << k;
  }
}

// ------------------------------------------------------------ GPU arrays
// Arrays computed on the GPU are read back when saved; loaded (host) arrays feed GPU ops.
TEST(GpuArrays, SavedFromTheGpuAndUsedThereAfterLoading) {
  if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device";
  TempDir d;
  array x = kx::reshape(kx::multiply(kx::arange(12.f), kx::array(2.f), kx::Device::gpu), {3, 4},
                        kx::Device::gpu);
  x.eval();
  std::vector<float> expect;
  for (int i = 0; i < 12; ++i) expect.push_back(2.f * i);
  kx::save_safetensors(d.file("g.safetensors"), {{"x", x}});
  kx::save(d.file("g.npy"), x);
  kx::TrainingState s;
  s.parameters["x"] = x;
  kx::save_training_state(d.file("g.ckpt"), s);
  std::vector<array> loaded{kx::load_safetensors(d.file("g.safetensors")).first.at("x"),
                            kx::load(d.file("g.npy")),
                            kx::load_training_state(d.file("g.ckpt")).parameters.at("x")};
  for (auto& a : loaded) {
    EXPECT_EQ(a.shape(), (kx::Shape{3, 4}));
    EXPECT_EQ(a.to_vector<float>(), expect);
    array y = kx::add(a, kx::array(1.f), kx::Device::gpu);
    y.eval();
    for (size_t i = 0; i < expect.size(); ++i) EXPECT_EQ(y.to_vector<float>()[i], expect[i] + 1.f);
  }
}

// ------------------------------------------------------------ interrupted saves
namespace {

kx::TrainingState state_with(float value, uint64_t step) {
  kx::TrainingState s;
  // 3 MiB of parameters: the write goes out in several chunks.
  s.parameters["w"] = kx::full({768, 1024}, value);
  // Evaluated and on the host before any fork: the child only serializes host bytes (a
  // forked child must not touch the GPU).
  s.parameters["w"].data<float>();
  s.step = step;
  return s;
}

// Starts a save of `next` over `path` in a forked child process ("fast" death tests fork at
// this point, so the child sees the same paths) that dies at `stage`.
void crash_during_save(const std::string& path, const kx::TrainingState& next,
                       const std::string& stage, int keep_last = 1) {
  EXPECT_EXIT(
      {
        kx::detail::set_write_hook([stage](std::string_view s) {
          if (s == stage) ::_exit(42);
        });
        kx::save_training_state(path, next, {.keep_last = keep_last});
        ::_exit(0);
      },
      ::testing::ExitedWithCode(42), "");
}

}  // namespace

TEST(InterruptedSave, PreviousCheckpointSurvives) {
  GTEST_FLAG_SET(death_test_style, "fast");
  TempDir d;
  std::string path = d.file("c.ckpt");
  kx::save_training_state(path, state_with(1.f, 1));
  auto next = state_with(2.f, 2);
  for (const char* stage : {"write", "synced"}) {
    crash_during_save(path, next, stage);
    auto s = kx::load_training_state(path);
    EXPECT_EQ(s.step, 1u) << stage;
    EXPECT_EQ(s.parameters.at("w").to_vector<float>()[12345], 1.f) << stage;
  }
  // Each dead child left a temporary, never read; each later save removes those of dead
  // processes (the second child removed the first one's).
  int temps = 0;
  for (auto& e : fs::directory_iterator(d.path()))
    temps += e.path().filename().string().find(".tmp-") != std::string::npos;
  EXPECT_EQ(temps, 1);
  kx::save_training_state(path, state_with(3.f, 3));
  EXPECT_EQ(kx::load_training_state(path).step, 3u);
  temps = 0;
  for (auto& e : fs::directory_iterator(d.path()))
    temps += e.path().filename().string().find(".tmp-") != std::string::npos;
  EXPECT_EQ(temps, 0);
}

TEST(InterruptedSave, CrashAfterRenameLeavesTheNewCheckpoint) {
  GTEST_FLAG_SET(death_test_style, "fast");
  TempDir d;
  std::string path = d.file("c.ckpt");
  kx::save_training_state(path, state_with(1.f, 1), {.keep_last = 2});
  crash_during_save(path, state_with(2.f, 2), "renamed", 2);
  EXPECT_EQ(kx::load_training_state(path).step, 2u);
  EXPECT_EQ(kx::load_training_state(path + ".1").step, 1u);
}

TEST(InterruptedSave, PartialTemporaryNextToTheCheckpointIsHarmless) {
  TempDir d;
  std::string path = d.file("c.ckpt");
  kx::save_training_state(path, state_with(1.f, 1));
  auto payload = kx::detail::encode_training_state(state_with(2.f, 2));
  auto img = kx::frame_container(payload.data(), payload.size());
  // What a crash could leave: half a file under a temporary name, and a torn file where a
  // non-atomic writer would have written.
  std::FILE* f = std::fopen(d.file(".c.ckpt.tmp-999999999-0").c_str(), "wb");
  std::fwrite(img.data(), 1, img.size() / 2, f);
  std::fclose(f);
  EXPECT_EQ(kx::load_training_state(path).step, 1u);
  f = std::fopen(d.file("torn.ckpt").c_str(), "wb");
  std::fwrite(img.data(), 1, img.size() / 2, f);
  std::fclose(f);
  EXPECT_THROW(kx::load_training_state(d.file("torn.ckpt")), kx::CheckpointError);
}
