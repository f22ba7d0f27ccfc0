// export_to_dot: Graphviz view of a lazy graph; fused regions appear as Compiled nodes.
#include <unordered_map>

#include "compile.h"
#include "passes.h"

namespace kiln {

void export_to_dot(std::ostream& os, const std::vector<array>& outputs) {
  compile_detail::Graph g;
  g.outputs = outputs;
  compile_detail::build_tape(g);
  std::unordered_map<uintptr_t, std::string> names;
  int counter = 0;
  auto name_of = [&](const array& a) {
    auto it = names.find(a.id());
    if (it != names.end()) return it->second;
    std::string n = "n" + std::to_string(counter++);
    names.emplace(a.id(), n);
    return n;
  };
  os << "digraph kiln {\n  rankdir=LR;\n";
  auto leaf = [&](const array& a) {
    if (names.count(a.id())) return;
    std::string n = name_of(a);
    os << "  " << n << " [shape=box,label=\"" << (a.is_placeholder() ? "input " : "")
       << detail::shape_str(a.shape()) << " " << to_string(a.dtype()) << "\"];\n";
  };
  for (auto& node : g.tape) {
    for (auto& in : node.inputs())
      if (!in.has_primitive()) leaf(in);
    std::string pn = "p" + std::to_string(counter++);
    bool fused = node.primitive().name().rfind("Compiled", 0) == 0;
    os << "  " << pn << " [label=\"" << node.primitive().name() << "\""
       << (fused ? ",style=filled,fillcolor=lightblue" : "") << "];\n";
    for (auto& in : node.inputs()) os << "  " << name_of(in) << " -> " << pn << ";\n";
    for (auto& o : node.outputs()) {
      std::string on = name_of(o);
      os << "  " << on << " [shape=ellipse,label=\"" << detail::shape_str(o.shape()) << "\"];\n";
      os << "  " << pn << " -> " << on << ";\n";
    }
  }
  for (auto& o : outputs)
    if (!o.has_primitive()) leaf(o);
  os << "}\n";
}

}  // namespace kiln
