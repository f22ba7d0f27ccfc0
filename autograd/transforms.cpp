// vjp, jvp, grad, value_and_grad (MLX semantics). The primals are replaced by fresh tracer
// arrays (identity nodes over them, so placeholders of a compile trace work too), fun is run,
// and the graph between those tracers and the outputs is walked: backwards accumulating
// cotangents (vjp) or forwards pushing tangents (jvp), calling each primitive's rule.
#include "transforms.h"

#include <string>
#include <unordered_map>
#include <unordered_set>

#include "../core/errors.h"
#include "../core/ops.h"
#include "../core/primitives.h"

namespace kiln {

namespace {

using detail::shape_str;

void check_valid(const std::vector<array>& arrays, const char* op, const char* what) {
  for (size_t i = 0; i < arrays.size(); ++i)
    if (!arrays[i].valid())
      throw std::invalid_argument(std::string("[") + op + "] " + what + " " + std::to_string(i) +
                                  " is an empty array handle");
}

// A tracer standing for p. An identity node (rather than p itself) so that the graph walk
// stops exactly there, and so that it works whether p has data, is lazy or is a placeholder.
array make_tracer(const array& p) {
  Stream s = p.has_primitive() ? p.primitive().stream() : default_stream(default_device());
  array t = copy(p, s);
  t.set_tracer(true);
  return t;
}

std::vector<array> make_tracers(const std::vector<array>& primals) {
  std::vector<array> out;
  out.reserve(primals.size());
  for (auto& p : primals) out.push_back(make_tracer(p));
  return out;
}

bool is_stop_gradient(const array& a) {
  return dynamic_cast<const StopGradient*>(&a.primitive()) != nullptr;
}

// The nodes between `roots` and `outputs`: one representative array per node, every node
// after the nodes feeding it. `dependent` holds the ids of every array that depends on a
// root (roots included). Only tracers can depend on a root (tracing is contagious), so the
// search never enters the non-tracer part of the graph; stop_gradient cuts it.
struct Tape {
  std::vector<array> nodes;
  std::unordered_set<uintptr_t> dependent;
};

Tape build_tape(const std::vector<array>& outputs, const std::vector<array>& roots) {
  Tape tape;
  std::unordered_map<uintptr_t, bool> done;  // id -> depends on a root
  for (auto& r : roots) {
    done[r.id()] = true;
    tape.dependent.insert(r.id());
  }
  struct Frame {
    array a;
    size_t next = 0;
  };
  std::vector<Frame> stack;
  // Returns true when `a` must be expanded (pushed); otherwise its answer is in `done`.
  auto enter = [&](const array& a) {
    if (done.count(a.id())) return false;
    if (!a.is_tracer() || !a.has_primitive() || is_stop_gradient(a)) {
      done[a.id()] = false;
      return false;
    }
    return true;
  };
  for (auto& out : outputs) {
    if (!enter(out)) continue;
    stack.push_back({out});
    while (!stack.empty()) {
      Frame& f = stack.back();
      const auto& ins = f.a.inputs();
      if (f.next < ins.size()) {
        const array& in = ins[f.next++];
        if (enter(in)) stack.push_back({in});
        continue;
      }
      bool dep = false;
      for (auto& in : ins) dep = dep || done[in.id()];
      array a = std::move(f.a);
      stack.pop_back();
      for (auto& o : a.outputs()) {
        done[o.id()] = dep;
        if (dep) tape.dependent.insert(o.id());
      }
      if (dep) tape.nodes.push_back(std::move(a));
    }
  }
  return tape;
}

// After a transform, the arrays it returns stop being tracers unless they still depend on
// a tracer that is not one of its own (an enclosing transform's, or a compile placeholder):
// otherwise evaluated results would keep their whole graph alive forever. Arrays that lose
// the flag and already hold data (evaluated inside fun) are detached, as eval would have.
void release_tracers(const std::vector<array>& roots, const std::vector<array>& tracers) {
  std::unordered_set<uintptr_t> own;
  for (auto& t : tracers) own.insert(t.id());
  // id -> {was a tracer, stays a tracer}; only arrays that were tracers are recorded.
  std::unordered_map<uintptr_t, bool> stays;
  struct Frame {
    array a;
    size_t next = 0;
  };
  std::vector<Frame> stack;
  std::vector<array> detach;
  auto enter = [&](const array& a) { return a.valid() && a.is_tracer() && !stays.count(a.id()); };
  for (auto& r : roots) {
    if (!enter(r)) continue;
    stack.push_back({r});
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (!f.a.has_primitive()) {  // a placeholder, or someone else's root: keep it
        stays[f.a.id()] = true;
        stack.pop_back();
        continue;
      }
      const auto& ins = f.a.inputs();
      if (f.next < ins.size()) {
        const array& in = ins[f.next++];
        if (enter(in)) stack.push_back({in});
        continue;
      }
      bool any_tracer_in = false, any_stays = false;
      for (auto& in : ins) {
        auto it = stays.find(in.id());
        if (it != stays.end()) {
          any_tracer_in = true;
          any_stays = any_stays || it->second;
        }
      }
      array a = std::move(f.a);
      stack.pop_back();
      bool keep;
      if (own.count(a.id()))
        keep = any_stays;
      else if (!any_tracer_in)
        keep = true;  // made a tracer by someone else (e.g. compile)
      else
        keep = any_stays;
      for (auto& o : a.outputs()) {
        stays[o.id()] = keep;
        if (!keep) {
          o.set_tracer(false);
          if (o.is_available()) detach.push_back(o);
        }
      }
    }
  }
  for (auto& d : detach) d.detach();
}

using CotangentMaker = std::function<std::vector<array>(const std::vector<array>&)>;

struct VjpOut {
  std::vector<array> outputs;
  std::vector<array> grads;
};

// Reverse mode. make_cotangents receives fun's outputs and returns one cotangent per
// output (an empty handle: that output is not differentiated).
VjpOut vjp_impl(const VectorFn& fun, const std::vector<array>& primals,
                const CotangentMaker& make_cotangents, const char* op) {
  std::vector<array> tracers = make_tracers(primals);
  std::vector<array> outputs = fun(tracers);
  check_valid(outputs, op, "output");
  std::vector<array> cots = make_cotangents(outputs);
  Tape tape = build_tape(outputs, tracers);

  std::unordered_map<uintptr_t, array> cot;
  auto accumulate = [&](const array& target, array c) {
    auto it = cot.find(target.id());
    if (it == cot.end())
      cot.emplace(target.id(), std::move(c));
    else
      it->second = add(it->second, c);
  };
  for (size_t i = 0; i < outputs.size(); ++i)
    if (cots[i].valid() && tape.dependent.count(outputs[i].id())) accumulate(outputs[i], cots[i]);

  for (auto n = tape.nodes.rbegin(); n != tape.nodes.rend(); ++n) {
    std::vector<array> outs = n->outputs();
    std::vector<array> node_cots;
    bool any = false;
    for (auto& o : outs) {
      auto it = cot.find(o.id());
      if (it != cot.end()) {
        node_cots.push_back(std::move(it->second));
        cot.erase(it);
        any = true;
      } else {
        node_cots.push_back(zeros_like(o));
      }
    }
    if (!any) continue;
    const std::vector<array>& ins = n->inputs();
    std::vector<int> argnums;
    for (size_t j = 0; j < ins.size(); ++j)
      if (tape.dependent.count(ins[j].id())) argnums.push_back(static_cast<int>(j));
    Primitive& p = n->primitive();
    std::vector<array> vjps = p.vjp(ins, node_cots, argnums, outs);
    if (vjps.size() != argnums.size())
      throw std::logic_error("[vjp] the rule of " + p.name() + " returned " +
                             std::to_string(vjps.size()) + " cotangents for " +
                             std::to_string(argnums.size()) + " inputs");
    for (size_t k = 0; k < argnums.size(); ++k) {
      const array& in = ins[argnums[k]];
      array c = std::move(vjps[k]);
      if (c.shape() != in.shape())
        throw std::logic_error("[vjp] the rule of " + p.name() + " returned a cotangent of shape " +
                               shape_str(c.shape()) + " for an input of shape " +
                               shape_str(in.shape()));
      if (c.dtype() != in.dtype()) c = astype(c, in.dtype());
      accumulate(in, std::move(c));
    }
  }

  VjpOut res;
  res.outputs = std::move(outputs);
  for (size_t i = 0; i < primals.size(); ++i) {
    auto it = cot.find(tracers[i].id());
    // integer and bool primals have no gradient
    if (it == cot.end() || !is_floating(primals[i].dtype()))
      res.grads.push_back(zeros_like(primals[i]));
    else
      res.grads.push_back(it->second);
  }
  std::vector<array> roots = res.outputs;
  roots.insert(roots.end(), res.grads.begin(), res.grads.end());
  release_tracers(roots, tracers);
  return res;
}

std::pair<std::vector<array>, std::vector<array>> jvp_impl(const VectorFn& fun,
                                                           const std::vector<array>& primals,
                                                           const std::vector<array>& tangents) {
  std::vector<array> tracers = make_tracers(primals);
  std::vector<array> outputs = fun(tracers);
  check_valid(outputs, "jvp", "output");
  // Integer and bool primals are constants in forward mode: their tangents are ignored.
  std::vector<array> roots;
  std::unordered_map<uintptr_t, array> tan;
  for (size_t i = 0; i < primals.size(); ++i) {
    if (!is_floating(primals[i].dtype())) continue;
    roots.push_back(tracers[i]);
    array t = tangents[i];
    if (t.dtype() != primals[i].dtype()) t = astype(t, primals[i].dtype());
    tan.emplace(tracers[i].id(), t);
  }
  Tape tape = build_tape(outputs, roots);
  for (auto& n : tape.nodes) {
    const std::vector<array>& ins = n.inputs();
    std::vector<int> argnums;
    std::vector<array> in_tans;
    for (size_t j = 0; j < ins.size(); ++j) {
      auto it = tan.find(ins[j].id());
      if (it != tan.end()) {
        argnums.push_back(static_cast<int>(j));
        in_tans.push_back(it->second);
      }
    }
    if (argnums.empty()) continue;
    std::vector<array> outs = n.outputs();
    Primitive& p = n.primitive();
    std::vector<array> out_tans = p.jvp(ins, in_tans, argnums);
    if (out_tans.size() != outs.size())
      throw std::logic_error("[jvp] the rule of " + p.name() + " returned " +
                             std::to_string(out_tans.size()) + " tangents for " +
                             std::to_string(outs.size()) + " outputs");
    for (size_t k = 0; k < outs.size(); ++k) {
      array t = std::move(out_tans[k]);
      if (t.shape() != outs[k].shape())
        throw std::logic_error("[jvp] the rule of " + p.name() + " returned a tangent of shape " +
                               shape_str(t.shape()) + " for an output of shape " +
                               shape_str(outs[k].shape()));
      if (t.dtype() != outs[k].dtype()) t = astype(t, outs[k].dtype());
      tan.insert_or_assign(outs[k].id(), std::move(t));
    }
  }
  std::vector<array> out_tans;
  for (auto& o : outputs) {
    auto it = tan.find(o.id());
    out_tans.push_back(it != tan.end() ? it->second : zeros_like(o));
  }
  std::vector<array> all = outputs;
  all.insert(all.end(), out_tans.begin(), out_tans.end());
  release_tracers(all, tracers);
  return {std::move(outputs), std::move(out_tans)};
}

// Normalized argnums (negative ones count from the end) for a call with n arguments.
std::vector<int> resolve_argnums(const std::vector<int>& argnums, size_t n, const char* op) {
  std::vector<int> out;
  for (int a : argnums) {
    int r = a < 0 ? a + static_cast<int>(n) : a;
    if (r < 0 || r >= static_cast<int>(n))
      throw std::invalid_argument(std::string("[") + op + "] argnum " + std::to_string(a) +
                                  " is out of range for a function called with " +
                                  std::to_string(n) + " arguments");
    for (int prev : out)
      if (prev == r)
        throw std::invalid_argument(std::string("[") + op + "] argnums name argument " +
                                    std::to_string(r) + " twice");
    out.push_back(r);
  }
  return out;
}

void check_argnums(const std::vector<int>& argnums, const char* op) {
  if (argnums.empty())
    throw std::invalid_argument(std::string("[") + op +
                                "] argnums is empty: name at least one argument to differentiate");
  for (size_t i = 0; i < argnums.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (argnums[i] == argnums[j])
        throw std::invalid_argument(std::string("[") + op + "] argnums name argument " +
                                    std::to_string(argnums[i]) + " twice");
}

std::pair<std::vector<array>, std::vector<array>> value_and_grad_call(
    const VectorFn& fun, const std::vector<int>& argnums, const std::vector<array>& args,
    const char* op) {
  check_valid(args, op, "argument");
  std::vector<int> idx = resolve_argnums(argnums, args.size(), op);
  std::vector<array> primals;
  for (int i : idx) primals.push_back(args[i]);
  auto inner = [&](const std::vector<array>& tracers) {
    std::vector<array> full = args;
    for (size_t k = 0; k < idx.size(); ++k) full[idx[k]] = tracers[k];
    return fun(full);
  };
  auto make_cots = [op](const std::vector<array>& outs) {
    if (outs.empty())
      throw std::invalid_argument(std::string("[") + op +
                                  "] the function returned no outputs; its first output must "
                                  "be a scalar loss");
    if (outs[0].size() != 1)
      throw std::invalid_argument(std::string("[") + op +
                                  "] the function's first output must be a scalar loss, got "
                                  "an array of shape " +
                                  shape_str(outs[0].shape()));
    std::vector<array> c(outs.size());
    c[0] = ones_like(outs[0]);
    return c;
  };
  VjpOut r = vjp_impl(inner, primals, make_cots, op);
  return {std::move(r.outputs), std::move(r.grads)};
}

}  // namespace

std::pair<std::vector<array>, std::vector<array>> vjp(const VectorFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  check_valid(primals, "vjp", "primal");
  check_valid(cotangents, "vjp", "cotangent");
  auto make_cots = [&](const std::vector<array>& outs) {
    if (cotangents.size() != outs.size())
      throw std::invalid_argument("[vjp] got " + std::to_string(cotangents.size()) +
                                  " cotangents for a function with " + std::to_string(outs.size()) +
                                  " outputs");
    std::vector<array> c;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (cotangents[i].shape() != outs[i].shape())
        throw std::invalid_argument("[vjp] cotangent " + std::to_string(i) + " has shape " +
                                    shape_str(cotangents[i].shape()) + " but output " +
                                    std::to_string(i) + " has shape " + shape_str(outs[i].shape()));
      c.push_back(cotangents[i].dtype() == outs[i].dtype()
                      ? cotangents[i]
                      : astype(cotangents[i], outs[i].dtype()));
    }
    return c;
  };
  VjpOut r = vjp_impl(fun, primals, make_cots, "vjp");
  return {std::move(r.outputs), std::move(r.grads)};
}

std::pair<array, array> vjp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& cotangent) {
  auto r = vjp([&](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; }, {primal},
               {cotangent});
  return {r.first[0], r.second[0]};
}

std::pair<std::vector<array>, std::vector<array>> jvp(const VectorFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  check_valid(primals, "jvp", "primal");
  check_valid(tangents, "jvp", "tangent");
  if (tangents.size() != primals.size())
    throw std::invalid_argument("[jvp] got " + std::to_string(tangents.size()) + " tangents for " +
                                std::to_string(primals.size()) + " primals");
  for (size_t i = 0; i < primals.size(); ++i)
    if (tangents[i].shape() != primals[i].shape())
      throw std::invalid_argument(
          "[jvp] tangent " + std::to_string(i) + " has shape " + shape_str(tangents[i].shape()) +
          " but primal " + std::to_string(i) + " has shape " + shape_str(primals[i].shape()));
  return jvp_impl(fun, primals, tangents);
}

std::pair<array, array> jvp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& tangent) {
  auto r = jvp([&](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; }, {primal},
               {tangent});
  return {r.first[0], r.second[0]};
}

ValueAndGradFn value_and_grad(const VectorFn& fun, const std::vector<int>& argnums) {
  check_argnums(argnums, "value_and_grad");
  if (!fun) throw std::invalid_argument("[value_and_grad] the function is empty");
  return [fun, argnums](const std::vector<array>& args) {
    return value_and_grad_call(fun, argnums, args, "value_and_grad");
  };
}

SimpleValueAndGradFn value_and_grad(const std::function<array(const array&)>& fun) {
  if (!fun) throw std::invalid_argument("[value_and_grad] the function is empty");
  VectorFn vf = [fun](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; };
  return [vf](const array& x) {
    auto r = value_and_grad_call(vf, {0}, {x}, "value_and_grad");
    return std::make_pair(r.first[0], r.second[0]);
  };
}

GradFn grad(const VectorFn& fun, const std::vector<int>& argnums) {
  check_argnums(argnums, "grad");
  if (!fun) throw std::invalid_argument("[grad] the function is empty");
  return [fun, argnums](const std::vector<array>& args) {
    return value_and_grad_call(fun, argnums, args, "grad").second;
  };
}

std::function<array(const array&)> grad(const std::function<array(const array&)>& fun) {
  if (!fun) throw std::invalid_argument("[grad] the function is empty");
  VectorFn vf = [fun](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; };
  return [vf](const array& x) { return value_and_grad_call(vf, {0}, {x}, "grad").second[0]; };
}

}  // namespace kiln
