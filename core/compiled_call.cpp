#include "compiled_call.h"

#include <unordered_map>

namespace kiln {

CompiledProgram::Expanded CompiledProgram::expand(const std::vector<array>& actual) const {
  if (actual.size() != inputs.size())
    throw std::invalid_argument("[CompiledCall] expected " + std::to_string(inputs.size()) +
                                " inputs, got " + std::to_string(actual.size()));
  std::unordered_map<uintptr_t, array> map;
  map.reserve(tape.size() * 2 + inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) map.emplace(inputs[i].id(), actual[i]);
  auto get = [&](const array& a) -> const array& {
    auto it = map.find(a.id());
    return it == map.end() ? a : it->second;
  };
  Expanded ex;
  ex.nodes.reserve(tape.size());
  for (auto& node : tape) {
    std::vector<array> ins;
    ins.reserve(node.inputs().size());
    for (auto& in : node.inputs()) ins.push_back(get(in));
    auto old = node.outputs();
    std::vector<array> outs;
    if (old.size() == 1) {
      outs.push_back(array(old[0].shape(), old[0].dtype(), node.primitive_ptr(), std::move(ins)));
    } else {
      std::vector<Shape> shapes;
      std::vector<Dtype> dtypes;
      for (auto& o : old) {
        shapes.push_back(o.shape());
        dtypes.push_back(o.dtype());
      }
      outs = array::make_arrays(std::move(shapes), std::move(dtypes), node.primitive_ptr(), ins);
    }
    for (size_t i = 0; i < old.size(); ++i) map.insert_or_assign(old[i].id(), outs[i]);
    ex.nodes.push_back(outs[0]);
  }
  for (auto& o : outputs) ex.outputs.push_back(get(o));
  return ex;
}

void CompiledCall::eval_nodes(const std::vector<array>& inputs, std::vector<array>& outputs,
                              Device device) {
  auto ex = program_->expand(inputs);
  for (auto& n : ex.nodes) {
    auto os = n.outputs();
    if (device == Device::gpu)
      n.primitive().eval_gpu(n.inputs(), os);
    else
      n.primitive().eval_cpu(n.inputs(), os);
  }
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].set_data(ex.outputs[i].data_shared());
}

void CompiledCall::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_nodes(inputs, outputs, Device::cpu);
}

bool CompiledCall::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const CompiledCall*>(&o);
  return p && p->program_ == program_;
}

}  // namespace kiln
