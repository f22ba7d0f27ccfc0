// Graph-level primitives of autograd: custom_vjp and checkpoint.
//
// Their node's inputs are the function's arguments followed by the outputs of an inner graph
// (fun applied to stop_gradient copies of the arguments). Evaluating the node only shares
// the data of those inner outputs, on whatever device the inner ops ran (so eval_cpu and
// eval_gpu are the same and live here, not in a backend). Only their derivative rules are
// special: the vjp calls the user's rule (custom_vjp) or re-runs fun under vjp (checkpoint),
// and the jvp differentiates fun itself.
#pragma once
#include <string>
#include <vector>

#include "../core/primitives.h"
#include "transforms.h"

namespace kiln {

class CustomVJP : public Primitive {
 public:
  CustomVJP(Stream s, int num_args, VectorFn fun, CustomVjpFn vjp_fun)
      : Primitive(s), num_args_(num_args), fun_(std::move(fun)), vjp_fun_(std::move(vjp_fun)) {}
  int num_args() const { return num_args_; }

  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  std::string name() const override { return "CustomVJP"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

 protected:
  int num_args_;
  VectorFn fun_;
  CustomVjpFn vjp_fun_;
};

// custom_vjp whose vjp recomputes fun (its intermediates are not kept for the backward pass).
class CheckpointPrimitive : public CustomVJP {
 public:
  CheckpointPrimitive(Stream s, int num_args, VectorFn fun);
  std::string name() const override { return "Checkpoint"; }
};

}  // namespace kiln
