#include "compiled.h"

#include <sstream>

#include "ops.h"

namespace kiln {

std::string Compiled::kernel_key() const {
  std::ostringstream os;
  os << "in";
  for (auto d : input_dtypes_) os << ":" << to_string(d);
  for (auto& n : nodes_) {
    os << "|" << n.primitive->name();
    if (auto* a = dynamic_cast<const AsType*>(n.primitive.get())) os << "." << to_string(a->dtype());
    os << "(";
    for (size_t i = 0; i < n.args.size(); ++i) os << (i ? "," : "") << n.args[i];
    os << ")" << to_string(n.dtype);
  }
  os << "|out";
  for (int o : outputs_) os << ":" << o;
  return os.str();
}

bool Compiled::has_broadcast() const {
  for (auto& n : nodes_)
    if (n.primitive->kind() == PrimitiveKind::broadcast) return true;
  return false;
}

std::string Compiled::name() const {
  std::string s = "Compiled(";
  for (size_t i = 0; i < nodes_.size(); ++i) s += (i ? "," : "") + nodes_[i].primitive->name();
  return s + ")";
}

bool Compiled::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Compiled*>(&o);
  return p && p->kernel_key() == kernel_key();
}

std::vector<Shape> Compiled::output_shapes(const std::vector<array>& inputs) {
  if (has_broadcast()) return Primitive::output_shapes(inputs);
  Shape s;
  for (auto& in : inputs) s = broadcast_shapes(s, in.shape());
  return std::vector<Shape>(outputs_.size(), s);
}

std::vector<array> CompiledBatch::part_inputs(size_t i, const std::vector<array>& inputs) const {
  size_t off = 0;
  for (size_t p = 0; p < i; ++p) off += input_counts_[p];
  return std::vector<array>(inputs.begin() + off, inputs.begin() + off + input_counts_[i]);
}

std::vector<array> CompiledBatch::part_outputs(size_t i, const std::vector<array>& outputs) const {
  size_t off = 0;
  for (size_t p = 0; p < i; ++p) off += parts_[p]->output_nodes().size();
  return std::vector<array>(outputs.begin() + off,
                            outputs.begin() + off + parts_[i]->output_nodes().size());
}

void CompiledBatch::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (size_t i = 0; i < parts_.size(); ++i) {
    auto outs = part_outputs(i, outputs);  // handles: the parts fill the batch's outputs
    parts_[i]->eval_cpu(part_inputs(i, inputs), outs);
  }
}

std::string CompiledBatch::name() const {
  return "CompiledBatch(" + std::to_string(parts_.size()) + ")";
}

bool CompiledBatch::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const CompiledBatch*>(&o);
  if (!p || p->parts_.size() != parts_.size() || p->input_counts_ != input_counts_) return false;
  for (size_t i = 0; i < parts_.size(); ++i)
    if (!parts_[i]->is_equivalent(*p->parts_[i])) return false;
  return true;
}

std::vector<array> Compiled::expand(const std::vector<array>& inputs) const {
  std::vector<array> vals;
  for (auto& n : nodes_) {
    std::vector<array> ins;
    for (int a : n.args) ins.push_back(a >= 0 ? vals[a] : inputs[-a - 1]);
    Shape sh;
    if (n.primitive->kind() == PrimitiveKind::broadcast) {
      sh = n.shape;
    } else {
      for (auto& i : ins) sh = broadcast_shapes(sh, i.shape());
    }
    vals.push_back(array(sh, n.dtype, n.primitive, ins));
  }
  std::vector<array> outs;
  for (int o : outputs_) outs.push_back(vals[o]);
  return outs;
}

}  // namespace kiln
