// Checkpoints: one versioned file holding a resumable training state — parameters, optimizer
// state, RNG state, step and user metadata — serialized with cereal (portable binary) inside
// kiln's checksummed container (io/container.h). Loading validates everything before it
// changes anything and throws kiln::CheckpointError on any damaged, truncated, foreign, newer
// or mismatched file; saving is crash-safe. Format and guarantees: docs/checkpoints.md.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../core/array.h"
#include "../core/errors.h"
#include "container.h"

namespace kiln {

namespace nn {
class Module;
}
namespace optim {
class Optimizer;
}

// Everything a checkpoint file holds, as plain data.
struct TrainingState {
  std::map<std::string, array> parameters;       // model parameters by dotted path
  std::string optimizer;                         // optimizer class name ("Adam"), may be empty
  std::map<std::string, array> optimizer_state;  // optimizer arrays by name
  std::vector<array> rng_state;                  // random::state().state_arrays()
  uint64_t step = 0;                             // training step
  std::map<std::string, std::string> metadata;   // user metadata
};

// What load_checkpoint reports about the file it loaded.
struct CheckpointInfo {
  uint64_t step = 0;
  std::map<std::string, std::string> metadata;
  std::string kiln_version;     // the kiln that wrote the file
  uint32_t format_version = 0;  // its container format version
  std::string optimizer;        // the optimizer class name stored in it
};

struct CheckpointOptions {
  // Versions kept: 1 keeps only `path`; N > 1 also keeps `path.1` (previous) ... `path.<N-1>`.
  int keep_last = 1;
};

// What save_checkpoint stores: the model's parameters() (frozen ones and non-trainable state
// included), the optimizer's state() (step, learning rate, per-parameter slots), the global
// RNG key (random::state()), the step and the metadata.
struct Checkpoint {
  const nn::Module& model;
  const optim::Optimizer& optimizer;
  uint64_t step = 0;
  std::map<std::string, std::string> metadata = {};
};

// Saves one resumable training state to `path` (crash-safe; see CheckpointOptions).
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint,
                     const CheckpointOptions& options = {});
// Restores what save_checkpoint stored into `model`, `optimizer` and random::state(), and
// returns the step and metadata. The file is validated completely against the model (every
// parameter by name, shape and dtype) and the optimizer (its class, its slots) before
// anything is changed; on any problem nothing is changed and kiln::CheckpointError is thrown.
CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model,
                               optim::Optimizer& optimizer);

// Writes a training state to `path` (crash-safe: the previous file survives any crash).
void save_training_state(const std::string& path, const TrainingState& state,
                         const CheckpointOptions& options = {});
// Reads and fully validates a training state; arrays are created on the host.
TrainingState load_training_state(const std::string& path, CheckpointInfo* info = nullptr);

namespace detail {
// The cereal payload of a state (no container), and its inverse on a whole container image
// (header + payload). decode_training_state is what load_training_state runs after reading.
std::vector<uint8_t> encode_training_state(const TrainingState& state);
TrainingState decode_training_state(const void* image, size_t n, const std::string& name,
                                    CheckpointInfo* info = nullptr);
}  // namespace detail

}  // namespace kiln
