#include "passes.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <queue>
#include <sstream>
#include <unordered_set>

#include "../core/compiled.h"
#include "../core/ops.h"

namespace kiln::compile_detail {

bool log_enabled(const char* subsystem) {
  const char* e = std::getenv("KILN_LOG");
  if (!e) return false;
  std::string s = std::string(",") + e + ",";
  return s.find(std::string(",") + subsystem + ",") != std::string::npos ||
         s.find(",all,") != std::string::npos;
}

FuseLimits& fuse_limits() {
  static FuseLimits l;
  return l;
}

void build_tape(Graph& g) {
  g.tape.clear();
  std::unordered_set<uintptr_t> visited;
  struct Frame {
    array a;
    size_t next = 0;
  };
  std::vector<Frame> stack;
  for (auto& out : g.outputs) {
    if (!out.has_primitive() || visited.count(out.id())) continue;
    for (auto& s : out.outputs()) visited.insert(s.id());
    stack.push_back({out});
    while (!stack.empty()) {
      auto& f = stack.back();
      const auto& ins = f.a.inputs();
      if (f.next < ins.size()) {
        const array& in = ins[f.next++];
        if (in.has_primitive() && !visited.count(in.id())) {
          for (auto& s : in.outputs()) visited.insert(s.id());
          stack.push_back({in});
        }
        continue;
      }
      g.tape.push_back(f.a);
      stack.pop_back();
    }
  }
}

void rebuild(Graph& g, const NodeFn& make) {
  std::unordered_map<uintptr_t, array> map;
  GetFn get = [&](const array& a) -> array {
    auto it = map.find(a.id());
    return it == map.end() ? a : it->second;
  };
  for (auto& node : g.tape) {
    std::vector<array> ins;
    for (auto& in : node.inputs()) ins.push_back(get(in));
    auto old_outs = node.outputs();
    auto new_outs = make(node, std::move(ins), get);
    for (size_t i = 0; i < old_outs.size(); ++i)
      if (i < new_outs.size()) map.insert_or_assign(old_outs[i].id(), new_outs[i]);
  }
  for (auto& o : g.outputs) o = get(o);
  build_tape(g);
}

namespace {
std::vector<array> remake(const array& node, std::vector<array> ins) {
  auto outs = node.outputs();
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outs) {
    shapes.push_back(o.shape());
    dtypes.push_back(o.dtype());
  }
  bool same = ins.size() == node.inputs().size();
  for (size_t i = 0; same && i < ins.size(); ++i) same = ins[i].is_same(node.inputs()[i]);
  if (same) return outs;
  return array::make_arrays(std::move(shapes), std::move(dtypes), node.primitive_ptr(), ins);
}
}  // namespace

void fold_constants(Graph& g) {
  std::unordered_set<uintptr_t> placeholders, dependent;
  for (auto& in : g.inputs) placeholders.insert(in.id());
  std::vector<array> constants;
  for (auto& node : g.tape) {
    bool dep = false;
    for (auto& in : node.inputs())
      dep = dep || placeholders.count(in.id()) || dependent.count(in.id()) || in.is_placeholder();
    if (dep) {
      for (auto& o : node.outputs()) dependent.insert(o.id());
    } else {
      constants.push_back(node);
    }
  }
  if (constants.empty()) return;
  // evaluate (graph sharing: eval detaches them, so they become plain leaves)
  for (auto& c : constants) c.set_tracer(false);
  kiln::eval(constants);
  build_tape(g);
}

namespace {
bool is_noop(const Primitive& p) {
  if (dynamic_cast<const StopGradient*>(&p)) return true;
  if (auto* u = dynamic_cast<const Unary*>(&p)) return u->op() == UnaryOp::Identity;
  return false;
}
std::string scalar_key(array& a) {
  std::string k = to_string(a.dtype()) + ":";
  const char* p = static_cast<const char*>(a.raw_host_ptr());
  k.append(p, a.itemsize());
  return k;
}
}  // namespace

void simplify(Graph& g) {
  // 1. merge equal scalar constants
  std::map<std::string, array> scalars;
  std::unordered_set<uintptr_t> inputs;
  for (auto& in : g.inputs) inputs.insert(in.id());
  auto canon = [&](const array& a) -> array {
    if (a.has_primitive() || a.is_placeholder() || inputs.count(a.id()) || a.size() != 1 ||
        !a.is_available())
      return a;
    array c = a;
    std::string key = scalar_key(c) + detail::shape_str(a.shape());
    auto it = scalars.find(key);
    if (it == scalars.end()) {
      scalars.emplace(key, a);
      return a;
    }
    return it->second;
  };
  // 2 + 3: no-ops and common subexpressions
  std::unordered_map<std::string, std::vector<array>> seen;  // key → node (first output)
  rebuild(g, [&](const array& node, std::vector<array> ins, const GetFn&) -> std::vector<array> {
    for (auto& in : ins) in = canon(in);
    Primitive& p = node.primitive();
    if (is_noop(p) && ins.size() == 1 && ins[0].shape() == node.shape() &&
        ins[0].dtype() == node.dtype())
      return {ins[0]};
    std::ostringstream key;
    key << p.name() << "|";
    for (auto& in : ins) key << in.id() << ",";
    for (auto& o : node.outputs()) key << detail::shape_str(o.shape()) << to_string(o.dtype());
    auto& bucket = seen[key.str()];
    for (auto& cand : bucket)
      if (cand.primitive().is_equivalent(p)) return cand.outputs();
    auto outs = remake(node, std::move(ins));
    bucket.push_back(outs[0]);
    return outs;
  });
}

namespace {
bool fusible(const array& node) {
  if (!node.has_primitive() || node.outputs().size() != 1) return false;
  switch (node.primitive().kind()) {
    case PrimitiveKind::unary:
    case PrimitiveKind::binary:
    case PrimitiveKind::ternary:
    case PrimitiveKind::broadcast: return true;
    default: return false;
  }
}
}  // namespace

void fold_transposes(Graph& g) {
  auto swaps_last_two = [](const array& x) {
    if (!x.has_primitive()) return false;
    auto* t = dynamic_cast<const Transpose*>(&x.primitive());
    if (!t) return false;
    const auto& ax = t->axes();
    int n = static_cast<int>(ax.size());
    if (n < 2 || ax[n - 2] != n - 1 || ax[n - 1] != n - 2) return false;
    for (int i = 0; i + 2 < n; ++i)
      if (ax[i] != i) return false;
    return true;
  };
  std::unordered_map<uintptr_t, int> uses;
  for (auto& n : g.tape)
    for (auto& in : n.inputs()) uses[in.id()]++;
  for (auto& o : g.outputs) uses[o.id()]++;
  rebuild(g, [&](const array& node, std::vector<array> ins, const GetFn&) -> std::vector<array> {
    // swapaxes(A @ B) = Bᵀ @ Aᵀ when the product has no other use. GPU only: on the CPU the
    // swapped product would round differently from the eager one (Eigen blocks M and N
    // differently), and compiled CPU results are bit-identical to eager ones.
    if (node.primitive().device() == Device::gpu && swaps_last_two(node) &&
        uses[node.inputs()[0].id()] == 1 && ins[0].has_primitive()) {
      if (auto* in = dynamic_cast<const Matmul*>(&ins[0].primitive())) {
        auto prim = std::make_shared<Matmul>(node.primitive().stream(), !in->transpose_b(),
                                             !in->transpose_a());
        std::vector<array> ops{ins[0].inputs()[1], ins[0].inputs()[0]};
        return {array(node.shape(), node.dtype(), prim, std::move(ops))};
      }
    }
    auto* mm = dynamic_cast<const Matmul*>(&node.primitive());
    if (!mm) return remake(node, std::move(ins));
    bool ta = mm->transpose_a(), tb = mm->transpose_b(), changed = false;
    while (swaps_last_two(ins[0])) {
      ins[0] = ins[0].inputs()[0];
      ta = !ta;
      changed = true;
    }
    while (swaps_last_two(ins[1])) {
      ins[1] = ins[1].inputs()[0];
      tb = !tb;
      changed = true;
    }
    if (!changed) return remake(node, std::move(ins));
    auto prim = std::make_shared<Matmul>(node.primitive().stream(), ta, tb);
    return {array(node.shape(), node.dtype(), prim, std::move(ins))};
  });
}

void batch_updates(Graph& g) {
  constexpr size_t kMaxParts = 64;
  std::unordered_set<uintptr_t> consumed;
  for (auto& n : g.tape)
    for (auto& in : n.inputs()) consumed.insert(in.id());
  // a sink: a fused region, or one elementwise node, on the GPU, whose outputs nothing reads,
  // with operands of its own shape or of size 1
  auto sink = [&](const array& n) -> std::shared_ptr<Compiled> {
    if (n.primitive().device() != Device::gpu) return nullptr;
    for (auto& o : n.outputs())
      if (consumed.count(o.id())) return nullptr;
    const Shape& shape = n.shape();
    for (auto& in : n.inputs())
      if (in.size() != 1 && in.shape() != shape) return nullptr;
    if (auto c = std::dynamic_pointer_cast<Compiled>(n.primitive_ptr())) {
      if (c->has_broadcast()) return nullptr;
      return c;
    }
    if (n.outputs().size() != 1) return nullptr;
    auto k = n.primitive().kind();
    if (k != PrimitiveKind::unary && k != PrimitiveKind::binary && k != PrimitiveKind::ternary)
      return nullptr;
    FusedNode fn;
    fn.primitive = n.primitive_ptr();
    for (size_t i = 0; i < n.inputs().size(); ++i) fn.args.push_back(-static_cast<int>(i) - 1);
    fn.shape = shape;
    fn.dtype = n.dtype();
    std::vector<Dtype> in_dtypes;
    for (auto& in : n.inputs()) in_dtypes.push_back(in.dtype());
    return std::make_shared<Compiled>(n.primitive().stream(), std::vector<FusedNode>{fn},
                                      std::vector<int>{0}, std::move(in_dtypes));
  };
  std::vector<std::pair<size_t, std::shared_ptr<Compiled>>> sinks;
  for (size_t i = 0; i < g.tape.size(); ++i)
    if (auto c = sink(g.tape[i])) sinks.push_back({i, c});
  if (sinks.size() < 2) return;
  // batches of up to kMaxParts, each built at the position of its last member
  std::unordered_map<uintptr_t, std::pair<size_t, size_t>> member;  // node id → (batch, part)
  std::vector<std::vector<size_t>> batches;
  for (size_t s = 0; s < sinks.size(); ++s) {
    if (s % kMaxParts == 0) batches.emplace_back();
    member[g.tape[sinks[s].first].id()] = {batches.size() - 1, batches.back().size()};
    batches.back().push_back(s);
  }
  if (batches.back().size() < 2) {  // a lone last member stays as it is
    member.erase(g.tape[sinks[batches.back()[0]].first].id());
    batches.pop_back();
  }
  std::unordered_map<uintptr_t, array> batch_out;  // old output id → batch output
  rebuild(g, [&](const array& node, std::vector<array> ins, const GetFn& get) -> std::vector<array> {
    auto m = member.find(node.id());
    if (m == member.end()) return remake(node, std::move(ins));
    const auto& members = batches[m->second.first];
    if (m->second.second + 1 != members.size()) return node.outputs();  // built with the last
    std::vector<std::shared_ptr<Compiled>> parts;
    std::vector<int> counts;
    std::vector<array> inputs;
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    std::vector<uintptr_t> old_ids;
    for (size_t s : members) {
      const array& old = g.tape[sinks[s].first];
      parts.push_back(sinks[s].second);
      counts.push_back(static_cast<int>(old.inputs().size()));
      for (auto& in : old.inputs()) inputs.push_back(get(in));
      for (auto& o : old.outputs()) {
        shapes.push_back(o.shape());
        dtypes.push_back(o.dtype());
        old_ids.push_back(o.id());
      }
    }
    auto prim = std::make_shared<CompiledBatch>(node.primitive().stream(), std::move(parts),
                                                std::move(counts));
    auto outs = array::make_arrays(std::move(shapes), std::move(dtypes), prim, inputs);
    for (size_t i = 0; i < outs.size(); ++i) batch_out.insert_or_assign(old_ids[i], outs[i]);
    std::vector<array> mine;
    for (auto& o : node.outputs()) mine.push_back(batch_out.at(o.id()));
    return mine;
  });
  for (auto& o : g.outputs) {
    auto it = batch_out.find(o.id());
    if (it != batch_out.end()) o = it->second;
  }
  build_tape(g);
}

void fuse(Graph& g) {
  const auto& lim = fuse_limits();
  std::unordered_map<uintptr_t, size_t> pos;  // node id → tape index
  for (size_t i = 0; i < g.tape.size(); ++i) pos[g.tape[i].id()] = i;
  std::unordered_map<uintptr_t, std::vector<size_t>> consumers;
  for (size_t i = 0; i < g.tape.size(); ++i)
    for (auto& in : g.tape[i].inputs()) consumers[in.id()].push_back(i);
  std::unordered_set<uintptr_t> outputs;
  for (auto& o : g.outputs) outputs.insert(o.id());

  std::vector<int> group_of(g.tape.size(), -1);
  struct Group {
    size_t root;
    std::vector<size_t> members;  // tape indices
  };
  std::vector<Group> groups;
  // Nodes reachable from `from` through consumers, among tape indices <= limit (only those can
  // lead back into a group whose root is at `limit`).
  auto descendants = [&](const std::vector<size_t>& from, size_t limit) {
    std::unordered_set<size_t> seen;
    std::vector<size_t> stack;
    for (size_t f : from)
      if (f <= limit && seen.insert(f).second) stack.push_back(f);
    while (!stack.empty()) {
      size_t n = stack.back();
      stack.pop_back();
      auto it = consumers.find(g.tape[n].id());
      if (it == consumers.end()) continue;
      for (size_t c : it->second)
        if (c <= limit && seen.insert(c).second) stack.push_back(c);
    }
    return seen;
  };
  for (size_t r = g.tape.size(); r-- > 0;) {
    const array& root = g.tape[r];
    if (group_of[r] != -1 || !fusible(root)) continue;
    Group grp{r, {r}};
    int gid = static_cast<int>(groups.size());
    group_of[r] = gid;
    const Shape& gshape = root.shape();
    // A member whose value is also used outside the group (or is a function output) becomes
    // an extra output of the fused kernel. The group must stay convex: no path may leave it
    // and come back (`downstream` holds every node reachable from a use outside the group).
    std::unordered_set<size_t> downstream;
    int n_out = 1;
    bool grew = true;
    while (grew && static_cast<int>(grp.members.size()) < lim.max_nodes) {
      grew = false;
      for (size_t mi = 0; mi < grp.members.size(); ++mi) {
        for (auto& in : g.tape[grp.members[mi]].inputs()) {
          auto it = pos.find(in.id());
          if (it == pos.end()) continue;
          size_t c = it->second;
          if (group_of[c] != -1 || !fusible(in) || downstream.count(c)) continue;
          std::vector<size_t> outside;
          for (size_t cons : consumers[in.id()])
            if (group_of[cons] != gid) outside.push_back(cons);
          bool exported = !outside.empty() || outputs.count(in.id());
          if (exported && (in.shape() != gshape || n_out >= lim.max_outputs)) continue;
          std::unordered_set<size_t> reach;
          if (!outside.empty()) {
            reach = descendants(outside, r);
            bool cycle = reach.count(c) > 0;
            for (size_t m : grp.members) cycle = cycle || reach.count(m);
            if (cycle) continue;
          }
          if (static_cast<int>(grp.members.size()) >= lim.max_nodes) break;
          group_of[c] = gid;
          grp.members.push_back(c);
          downstream.insert(reach.begin(), reach.end());
          if (exported) ++n_out;
          grew = true;
        }
      }
    }
    // input bound: refuse the group if too wide
    std::sort(grp.members.begin(), grp.members.end());
    std::unordered_set<uintptr_t> member_ids, ext;
    for (size_t m : grp.members) member_ids.insert(g.tape[m].id());
    for (size_t m : grp.members)
      for (auto& in : g.tape[m].inputs())
        if (!member_ids.count(in.id())) ext.insert(in.id());
    if (grp.members.size() < 2 || static_cast<int>(ext.size()) > lim.max_inputs) {
      for (size_t m : grp.members) group_of[m] = -1;
      group_of[r] = -2;  // the root stays unfused; its inputs may still start groups
      continue;
    }
    groups.push_back(std::move(grp));
  }
  if (groups.empty()) return;

  // Order the tape so that every group is contiguous (Kahn's algorithm over groups and single
  // nodes, earliest first): a value a group exports is then built before its outside users.
  {
    size_t n = g.tape.size(), ng = groups.size();
    auto unit = [&](size_t i) { return group_of[i] >= 0 ? size_t(group_of[i]) : ng + i; };
    std::vector<size_t> first(ng + n, SIZE_MAX);
    for (size_t i = 0; i < n; ++i) first[unit(i)] = std::min(first[unit(i)], i);
    std::vector<std::unordered_set<size_t>> succ(ng + n);
    std::vector<size_t> indeg(ng + n, 0);
    for (size_t i = 0; i < n; ++i)
      for (auto& in : g.tape[i].inputs()) {
        auto it = pos.find(in.id());
        if (it == pos.end()) continue;
        size_t a = unit(it->second), b = unit(i);
        if (a != b && succ[a].insert(b).second) ++indeg[b];
      }
    std::priority_queue<std::pair<size_t, size_t>, std::vector<std::pair<size_t, size_t>>,
                        std::greater<>> ready;  // (first tape index, unit)
    for (size_t u = 0; u < ng + n; ++u)
      if (first[u] != SIZE_MAX && indeg[u] == 0) ready.push({first[u], u});
    std::vector<array> tape;
    tape.reserve(n);
    while (!ready.empty()) {
      size_t u = ready.top().second;
      ready.pop();
      if (u < ng) {
        for (size_t m : groups[u].members) tape.push_back(g.tape[m]);
      } else {
        tape.push_back(g.tape[u - ng]);
      }
      for (size_t v : succ[u])
        if (--indeg[v] == 0) ready.push({first[v], v});
    }
    if (tape.size() != n) throw std::logic_error("[compile] fusion produced a cyclic group graph");
    std::vector<int> new_group(n);
    for (size_t i = 0; i < n; ++i) new_group[i] = group_of[pos[tape[i].id()]];
    for (size_t i = 0; i < n; ++i) pos[tape[i].id()] = i;
    for (auto& grp : groups) {
      for (auto& m : grp.members) m = pos[g.tape[m].id()];
      grp.root = pos[g.tape[grp.root].id()];
      std::sort(grp.members.begin(), grp.members.end());
    }
    group_of = std::move(new_group);
    g.tape = std::move(tape);
  }
  // values used outside their group (exported as extra outputs)
  std::unordered_set<uintptr_t> exported = outputs;
  for (size_t i = 0; i < g.tape.size(); ++i)
    for (auto& in : g.tape[i].inputs()) {
      auto it = pos.find(in.id());
      if (it != pos.end() && group_of[it->second] >= 0 && group_of[it->second] != group_of[i])
        exported.insert(in.id());
    }

  // Build one Compiled per group when its root is reached (the root is the last member).
  std::unordered_map<uintptr_t, int> member_group;
  for (size_t gi = 0; gi < groups.size(); ++gi)
    for (size_t m : groups[gi].members) member_group[g.tape[m].id()] = static_cast<int>(gi);
  std::unordered_map<uintptr_t, array> group_out;  // old id → new array (group outputs)

  rebuild(g, [&](const array& node, std::vector<array> ins, const GetFn& get)
                  -> std::vector<array> {
    auto mg = member_group.find(node.id());
    if (mg == member_group.end()) {
      for (auto& a : ins) {  // values exported by a group built earlier
        auto go = group_out.find(a.id());
        if (go != group_out.end()) a = go->second;
      }
      return remake(node, std::move(ins));
    }
    const Group& grp = groups[mg->second];
    if (pos[node.id()] != grp.root) return {node};  // interior: built with the root
    // collect nodes, external inputs (mapped through the rebuild so far), outputs
    std::unordered_map<uintptr_t, int> node_index;
    std::vector<FusedNode> nodes;
    std::vector<array> ext_inputs;
    std::unordered_map<uintptr_t, int> ext_index;
    std::vector<int> out_nodes;
    std::vector<uintptr_t> out_ids;
    for (size_t m : grp.members) {
      const array& a = g.tape[m];
      FusedNode fn;
      fn.primitive = a.primitive_ptr();
      fn.shape = a.shape();
      fn.dtype = a.dtype();
      for (auto& in : a.inputs()) {
        auto ni = node_index.find(in.id());
        if (ni != node_index.end()) {
          fn.args.push_back(ni->second);
          continue;
        }
        auto ei = ext_index.find(in.id());
        if (ei == ext_index.end()) {
          // map through already rebuilt values
          auto go = group_out.find(in.id());
          ext_inputs.push_back(go != group_out.end() ? go->second : get(in));
          ei = ext_index.emplace(in.id(), static_cast<int>(ext_inputs.size()) - 1).first;
        }
        fn.args.push_back(-(ei->second + 1));
      }
      node_index[a.id()] = static_cast<int>(nodes.size());
      nodes.push_back(std::move(fn));
      if (m == grp.root || exported.count(a.id())) {
        out_nodes.push_back(node_index[a.id()]);
        out_ids.push_back(a.id());
      }
    }
    std::vector<Dtype> in_dtypes;
    for (auto& e : ext_inputs) in_dtypes.push_back(e.dtype());
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (int o : out_nodes) {
      shapes.push_back(node.shape());
      dtypes.push_back(nodes[o].dtype);
    }
    auto prim = std::make_shared<Compiled>(node.primitive().stream(), std::move(nodes), out_nodes,
                                           std::move(in_dtypes));
    auto outs = array::make_arrays(shapes, dtypes, prim, ext_inputs);
    array root_out;
    for (size_t i = 0; i < out_ids.size(); ++i) {
      group_out.insert_or_assign(out_ids[i], outs[i]);
      if (out_ids[i] == node.id()) root_out = outs[i];
    }
    return {root_out};
  });
  // Interior nodes that are function outputs were mapped in group_out.
  for (auto& o : g.outputs) {
    auto it = group_out.find(o.id());
    if (it != group_out.end()) o = it->second;
  }
  build_tape(g);
}

}  // namespace kiln::compile_detail
