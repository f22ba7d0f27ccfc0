// kiln::nn::Module — the base of every layer and model, with MLX's mlx.nn.Module semantics:
// parameters named by dotted paths ("layers.0.weight"), nested modules, trainable vs frozen,
// train/eval mode, and Stateful so that kiln::compile can capture a model.
//
// A user-defined module is a few lines:
//
//   struct MLP : kiln::nn::Module {
//     kiln::nn::Linear& l1 = register_module("l1", kiln::nn::Linear(4, 16));
//     kiln::nn::Linear& l2 = register_module("l2", kiln::nn::Linear(16, 3));
//     kiln::array operator()(const kiln::array& x) override {
//       return l2(kiln::nn::relu(l1(x)));
//     }
//   };
#pragma once
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/array.h"
#include "../core/stateful.h"

namespace kiln::nn {

// A flat map from dotted parameter path to array (MLX's parameter tree, flattened).
using Params = std::map<std::string, array>;

class Module : public Stateful {
 public:
  Module() = default;
  ~Module() override = default;
  // Modules own their parameters and children; copying would alias them, so it is disabled.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // The forward pass of a single-input module (what Sequential calls). The default throws.
  virtual array operator()(const array& x);

  // The class name ("Linear") and a one-line description with its arguments
  // ("Linear(input_dims=10, output_dims=1, bias=true)").
  virtual std::string name() const { return "Module"; }
  virtual std::string describe() const { return name(); }

  // ---- parameters
  // Every parameter, frozen ones and non-trainable state (BatchNorm running statistics)
  // included, keyed by dotted path.
  Params parameters() const;
  // The parameters that are neither frozen nor non-trainable state.
  Params trainable_parameters() const;
  // Replaces the parameters named in `params` (a subset is fine). With strict, an unknown
  // path or a shape change throws std::invalid_argument.
  void update(const Params& params, bool strict = true);
  // Freezes (excludes from trainable_parameters, hence from gradients and updates) the
  // parameters matching `keys`; no keys freezes all. A key matches a parameter when it equals
  // its dotted path, a dotted path prefix of it ("layers.0"), or its local name ("bias").
  // With recurse = false only this module's own parameters are considered.
  void freeze(const std::vector<std::string>& keys = {}, bool recurse = true);
  // The inverse of freeze. Non-trainable state stays frozen.
  void unfreeze(const std::vector<std::string>& keys = {}, bool recurse = true);
  // Number of scalar parameters (all, or only trainable ones).
  size_t num_parameters(bool trainable_only = false) const;

  // ---- weights files (.safetensors; defined in io/weights.cpp)
  // Writes parameters() to `path` in the safetensors format, crash-safely.
  void save_weights(const std::string& path) const;
  // Loads parameters from a safetensors file. strict: the file must hold exactly the model's
  // parameters; otherwise those present in both are loaded. Shapes must match; dtypes are
  // converted to the model's. Throws kiln::CheckpointError naming the offending parameters.
  void load_weights(const std::string& path, bool strict = true);

  // ---- mode (affects Dropout and BatchNorm); recursive. Modules start in training mode.
  void train(bool mode = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  // ---- structure
  // Direct children with their local names (a module list member "layers" gives
  // "layers.0", "layers.1", ...).
  std::vector<std::pair<std::string, Module*>> children() const;
  // Every module of the tree with its dotted path, this one first (path "").
  std::vector<std::pair<std::string, Module*>> named_modules();
  std::vector<std::pair<std::string, const Module*>> named_modules() const;

  // A table of the layers (path, description, parameter shapes, parameter count) and the
  // total and trainable parameter counts.
  void summary(std::ostream& os) const;
  std::string summary() const;

  // ---- Stateful: all parameters (parameters() order, i.e. sorted by path).
  std::vector<array> state_arrays() const override;
  void set_state_arrays(const std::vector<array>& arrays) override;

 protected:
  // Adds (or replaces) a parameter of this module; returns a reference that stays valid
  // for the module's lifetime (but update() may assign a new array to it).
  array& register_parameter(const std::string& name, array value);
  // Adds non-trainable state: part of parameters() and of the Stateful arrays, never of
  // trainable_parameters(); unfreeze() does not make it trainable.
  array& register_state(const std::string& name, array value);
  // Adds a child module (taken by value and owned) and returns a reference to it.
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Module, std::decay_t<M>>>>
  std::decay_t<M>& register_module(const std::string& name, M&& module) {
    auto p = std::make_shared<std::decay_t<M>>(std::forward<M>(module));
    auto& ref = *p;
    add_child(name, std::move(p));
    return ref;
  }
  // Adds a child module held by a shared pointer (also how Sequential builds lists).
  template <typename M>
  M& register_module(const std::string& name, std::shared_ptr<M> module) {
    auto& ref = *module;
    add_child(name, std::move(module));
    return ref;
  }

  // This module's own parameter by local name (throws if absent).
  array& param(const std::string& name);
  const array& param(const std::string& name) const;
  bool has_param(const std::string& name) const;

 private:
  struct Entry {
    array value;
    bool frozen = false;
    bool state = false;  // non-trainable state
  };
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void set_frozen(const std::vector<std::string>& keys, bool recurse, bool frozen,
                  const std::string& prefix);
  template <typename F>
  void visit_params(const std::string& prefix, F&& f) const;

  std::map<std::string, Entry> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Prints the module tree like MLX's repr.
std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace kiln::nn
