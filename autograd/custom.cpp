// custom_vjp and checkpoint: the CustomVJP / Checkpoint primitives and their rules.
#include "../core/errors.h"
#include "../core/ops.h"
#include "primitives.h"

namespace kiln {

namespace {

// Runs fun on stop_gradient copies of args and wraps its outputs in one node of `prim`
// whose inputs are args followed by those outputs. Derivatives then flow only through
// prim's rules, never through fun's own graph.
template <typename MakePrim>
std::vector<array> wrap_outputs(const std::vector<array>& args, const VectorFn& fun, const char* op,
                                MakePrim&& make_prim) {
  for (size_t i = 0; i < args.size(); ++i)
    if (!args[i].valid())
      throw std::invalid_argument(std::string("[") + op + "] argument " + std::to_string(i) +
                                  " is an empty array handle");
  std::vector<array> detached;
  for (auto& a : args) detached.push_back(stop_gradient(a));
  std::vector<array> outs = fun(detached);
  if (outs.empty())
    throw std::invalid_argument(std::string("[") + op + "] the function returned no outputs");
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!outs[i].valid())
      throw std::invalid_argument(std::string("[") + op + "] output " + std::to_string(i) +
                                  " of the function is an empty array handle");
    shapes.push_back(outs[i].shape());
    dtypes.push_back(outs[i].dtype());
  }
  Stream s =
      outs[0].has_primitive() ? outs[0].primitive().stream() : default_stream(default_device());
  std::vector<array> inputs = args;
  inputs.insert(inputs.end(), outs.begin(), outs.end());
  return array::make_arrays(std::move(shapes), std::move(dtypes), make_prim(s), inputs);
}

}  // namespace

void CustomVJP::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i)
    outputs[i].set_data(inputs[num_args_ + i].data_shared());
}

// The inner outputs were computed by their own primitives on their own devices; sharing
// their data is all there is to do on any device.
void CustomVJP::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_cpu(inputs, outputs);
}

std::vector<Shape> CustomVJP::output_shapes(const std::vector<array>& inputs) {
  std::vector<Shape> out;
  for (size_t i = num_args_; i < inputs.size(); ++i) out.push_back(inputs[i].shape());
  return out;
}

std::vector<array> CustomVJP::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums,
                                  const std::vector<array>& outputs) {
  std::vector<array> args(primals.begin(), primals.begin() + num_args_);
  bool needed = false;
  for (int a : argnums) needed = needed || a < num_args_;
  std::vector<array> all;
  if (needed) {
    all = vjp_fun_(args, cotangents, outputs);
    if (static_cast<int>(all.size()) != num_args_)
      throw std::invalid_argument("[" + name() + "] the vjp function returned " +
                                  std::to_string(all.size()) + " cotangents for " +
                                  std::to_string(num_args_) + " arguments");
  }
  std::vector<array> res;
  for (int a : argnums) {
    if (a >= num_args_ || !all[a].valid()) {
      res.push_back(zeros_like(primals[a]));
      continue;
    }
    array c = all[a];
    if (c.shape() != primals[a].shape())
      throw std::invalid_argument(
          "[" + name() + "] the vjp function returned a cotangent of shape " +
          detail::shape_str(c.shape()) + " for argument " + std::to_string(a) + " of shape " +
          detail::shape_str(primals[a].shape()));
    if (c.dtype() != primals[a].dtype()) c = astype(c, primals[a].dtype());
    res.push_back(c);
  }
  return res;
}

std::vector<array> CustomVJP::jvp(const std::vector<array>& primals,
                                  const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) {
  std::vector<array> args(primals.begin(), primals.begin() + num_args_);
  std::vector<array> full;
  bool any = false;
  for (int i = 0; i < num_args_; ++i) full.push_back(zeros_like(args[i]));
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] < num_args_) {
      full[argnums[k]] = tangents[k];
      any = true;
    }
  if (!any) {
    std::vector<array> z;
    for (size_t i = num_args_; i < primals.size(); ++i) z.push_back(zeros_like(primals[i]));
    return z;
  }
  // forward mode differentiates fun itself
  return kiln::jvp(fun_, args, full).second;
}

CheckpointPrimitive::CheckpointPrimitive(Stream s, int num_args, VectorFn fun)
    : CustomVJP(s, num_args, fun,
                [fun](const std::vector<array>& primals, const std::vector<array>& cotangents,
                      const std::vector<array>&) {
                  // recompute fun's intermediates now, under vjp
                  return kiln::vjp(fun, primals, cotangents).second;
                }) {}

VectorFn custom_vjp(VectorFn fun, CustomVjpFn vjp_fun) {
  if (!fun) throw std::invalid_argument("[custom_vjp] the function is empty");
  if (!vjp_fun) throw std::invalid_argument("[custom_vjp] the vjp function is empty");
  return [fun, vjp_fun](const std::vector<array>& args) {
    return wrap_outputs(args, fun, "custom_vjp", [&](Stream s) {
      return std::make_shared<CustomVJP>(s, static_cast<int>(args.size()), fun, vjp_fun);
    });
  };
}

VectorFn checkpoint(VectorFn fun) {
  if (!fun) throw std::invalid_argument("[checkpoint] the function is empty");
  return [fun](const std::vector<array>& args) {
    return wrap_outputs(args, fun, "checkpoint", [&](Stream s) {
      return std::make_shared<CheckpointPrimitive>(s, static_cast<int>(args.size()), fun);
    });
  };
}

}  // namespace kiln
