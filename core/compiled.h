// Compiled: a fused region of elementwise primitives produced by compile's fuse pass.
// Declared in core so every backend can execute it (cpu/compiled.cpp runs it in one pass
// over memory; gpu/ generates one kernel from the same tape).
#pragma once
#include <string>
#include <vector>

#include "primitives.h"

namespace kiln {

// One node of a fused region. Every node is evaluated in the index space of the region's
// output shape (inputs broadcast to it), so interior shapes may be smaller.
struct FusedNode {
  std::shared_ptr<Primitive> primitive;  // Unary, Binary, Select, AsType or Broadcast
  std::vector<int> args;                 // >= 0: an earlier node; < 0: external input -(k+1)
  Shape shape;                           // the node's own (traced) shape
  Dtype dtype = float32;
};

class Compiled : public Primitive {
 public:
  Compiled(Stream s, std::vector<FusedNode> nodes, std::vector<int> outputs,
           std::vector<Dtype> input_dtypes)
      : Primitive(s), nodes_(std::move(nodes)), outputs_(std::move(outputs)),
        input_dtypes_(std::move(input_dtypes)) {}
  const std::vector<FusedNode>& nodes() const { return nodes_; }
  // Node index of each output.
  const std::vector<int>& output_nodes() const { return outputs_; }
  const std::vector<Dtype>& input_dtypes() const { return input_dtypes_; }
  // Structure and dtypes, never shapes: one kernel serves every shape.
  std::string kernel_key() const;
  // True when the region contains a Broadcast node (its output shape is then fixed).
  bool has_broadcast() const;

  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  std::string name() const override;
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  void print(std::ostream& os) const override { os << name(); }

  // Rebuilds the region as a lazy graph of its primitives over `inputs` (transforms, debug).
  std::vector<array> expand(const std::vector<array>& inputs) const;

 private:
  std::vector<FusedNode> nodes_;
  std::vector<int> outputs_;
  std::vector<Dtype> input_dtypes_;
};

// Independent fused regions run as one dispatch (compile's `batch_updates` pass: the parameter
// and optimizer-state updates of a training step — a multi-tensor update). Inputs and outputs
// are the parts' in order; each part keeps its own index space.
class CompiledBatch : public Primitive {
 public:
  CompiledBatch(Stream s, std::vector<std::shared_ptr<Compiled>> parts,
                std::vector<int> input_counts)
      : Primitive(s), parts_(std::move(parts)), input_counts_(std::move(input_counts)) {}
  const std::vector<std::shared_ptr<Compiled>>& parts() const { return parts_; }
  const std::vector<int>& input_counts() const { return input_counts_; }
  // The inputs/outputs of part i within a batch's inputs/outputs.
  std::vector<array> part_inputs(size_t i, const std::vector<array>& inputs) const;
  std::vector<array> part_outputs(size_t i, const std::vector<array>& outputs) const;

  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::string name() const override;
  bool is_equivalent(const Primitive& o) const override;
  void print(std::ostream& os) const override { os << name(); }

 private:
  std::vector<std::shared_ptr<Compiled>> parts_;
  std::vector<int> input_counts_;
};

}  // namespace kiln
