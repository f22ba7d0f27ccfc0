// save_checkpoint / load_checkpoint for nn::Module + optim::Optimizer, on top of the plain
// TrainingState files of checkpoint.cpp.
#include "../core/random.h"
#include "../nn/module.h"
#include "../optim/optimizers.h"
#include "checkpoint.h"
#include "io_impl.h"

namespace kiln {

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint,
                     const CheckpointOptions& options) {
  TrainingState s;
  s.parameters = checkpoint.model.parameters();
  s.optimizer = checkpoint.optimizer.name();
  s.optimizer_state = checkpoint.optimizer.state();
  s.rng_state = random::state().state_arrays();
  s.step = checkpoint.step;
  s.metadata = checkpoint.metadata;
  save_training_state(path, s, options);
}

namespace {

// The optimizer state must be the scalars "step" and "learning_rate" plus slots named
// "<parameter path>.<slot>" of a model parameter, each of that parameter's shape.
std::string check_optimizer_state(const std::map<std::string, array>& state,
                                  const nn::Params& params) {
  std::vector<std::string> bad;
  for (const char* key : {"step", "learning_rate"}) {
    auto it = state.find(key);
    if (it == state.end())
      bad.push_back(std::string("'") + key + "' is missing");
    else if (it->second.ndim() != 0)
      bad.push_back(std::string("'") + key + "' has shape " +
                    detail::shape_str(it->second.shape()) + " instead of ()");
  }
  for (auto& [k, a] : state) {
    if (k == "step" || k == "learning_rate") continue;
    auto dot = k.rfind('.');
    auto it = dot == std::string::npos ? params.end() : params.find(k.substr(0, dot));
    if (it == params.end()) {
      bad.push_back("slot '" + k + "' belongs to no parameter of the model");
    } else if (a.shape() != it->second.shape()) {
      bad.push_back("slot '" + k + "' has shape " + detail::shape_str(a.shape()) +
                    " but parameter '" + it->first + "' has shape " +
                    detail::shape_str(it->second.shape()));
    }
    if (bad.size() > 20) break;
  }
  std::string out;
  for (auto& b : bad) out += (out.empty() ? "" : "; ") + b;
  return out;
}

}  // namespace

CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model,
                               optim::Optimizer& optimizer) {
  CheckpointInfo info;
  TrainingState s = load_training_state(path, &info);
  const std::string where = "[load_checkpoint] '" + path + "'";

  nn::Params current = model.parameters();
  std::string problems = io_detail::describe_mismatch(s.parameters, current, true, true);
  if (!problems.empty())
    throw CheckpointError(where + " does not match the model (" + model.name() + "): " + problems);
  if (s.optimizer != optimizer.name())
    throw CheckpointError(where + " holds the state of a" +
                          (s.optimizer.empty() ? std::string("n unnamed optimizer")
                                               : " " + s.optimizer + " optimizer") +
                          " but the optimizer is " + optimizer.name());
  problems = check_optimizer_state(s.optimizer_state, current);
  if (!problems.empty())
    throw CheckpointError(where + ": the " + s.optimizer +
                          " state does not match the model: " + problems);
  if (s.rng_state.size() != 1 || s.rng_state[0].dtype() != uint32 ||
      s.rng_state[0].shape() != Shape{2})
    throw CheckpointError(where + ": the RNG state is not one uint32 key of shape (2,)");

  // Everything checked: apply.
  model.update(s.parameters);
  optimizer.set_state(s.optimizer_state);
  random::state().set_state_arrays(s.rng_state);
  return info;
}

}  // namespace kiln
