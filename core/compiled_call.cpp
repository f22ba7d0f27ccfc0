#include "compiled_call.h"

#include <unordered_map>

namespace kiln {

RebuiltTape rebuild_tape(
    const std::vector<array>& placeholders, const std::vector<array>& actual,
    const std::vector<array>& tape,
    const std::function<std::vector<Shape>(size_t, const std::vector<array>&)>& shapes) {
  RebuiltTape r;
  r.map.reserve(tape.size() * 2 + placeholders.size());
  for (size_t i = 0; i < placeholders.size(); ++i) r.map.emplace(placeholders[i].id(), actual[i]);
  r.nodes.reserve(tape.size());
  for (size_t t = 0; t < tape.size(); ++t) {
    const array& node = tape[t];
    std::vector<array> ins;
    ins.reserve(node.inputs().size());
    for (auto& in : node.inputs()) ins.push_back(r.get(in));
    auto old = node.outputs();
    std::vector<Shape> sh = shapes(t, ins);
    std::vector<array> outs;
    if (old.size() == 1) {
      outs.push_back(array(std::move(sh[0]), old[0].dtype(), node.primitive_ptr(), std::move(ins)));
    } else {
      std::vector<Dtype> dtypes;
      for (auto& o : old) dtypes.push_back(o.dtype());
      outs = array::make_arrays(std::move(sh), std::move(dtypes), node.primitive_ptr(), ins);
    }
    for (size_t i = 0; i < old.size(); ++i) r.map.insert_or_assign(old[i].id(), outs[i]);
    r.nodes.push_back(outs[0]);
  }
  return r;
}

CompiledProgram::Expanded CompiledProgram::expand(const std::vector<array>& actual) const {
  if (actual.size() != inputs.size())
    throw std::invalid_argument("[CompiledCall] expected " + std::to_string(inputs.size()) +
                                " inputs, got " + std::to_string(actual.size()));
  // fixed shapes: every node keeps its traced output shapes
  auto r = rebuild_tape(inputs, actual, tape, [&](size_t t, const std::vector<array>&) {
    std::vector<Shape> sh;
    for (auto& o : tape[t].outputs()) sh.push_back(o.shape());
    return sh;
  });
  Expanded ex;
  ex.nodes = std::move(r.nodes);
  for (auto& o : outputs) ex.outputs.push_back(r.get(o));
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
