#include "module.h"

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <stdexcept>

namespace kiln::nn {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// A key selects a parameter by its full path, a path prefix (a module), or its local name.
bool key_matches(const std::string& key, const std::string& path, const std::string& local) {
  if (key == path || key == local) return true;
  return path.size() > key.size() && path.compare(0, key.size(), key) == 0 &&
         path[key.size()] == '.';
}

}  // namespace

array Module::operator()(const array&) {
  throw std::invalid_argument("[" + name() + "] has no single-input forward pass");
}

template <typename F>
void Module::visit_params(const std::string& prefix, F&& f) const {
  for (const auto& [k, e] : params_) f(join(prefix, k), k, e);
  for (const auto& [k, c] : children_) c->visit_params(join(prefix, k), f);
}

Params Module::parameters() const {
  Params out;
  visit_params("", [&](const std::string& path, const std::string&, const Entry& e) {
    out.emplace(path, e.value);
  });
  return out;
}

Params Module::trainable_parameters() const {
  Params out;
  visit_params("", [&](const std::string& path, const std::string&, const Entry& e) {
    if (!e.frozen && !e.state) out.emplace(path, e.value);
  });
  return out;
}

size_t Module::num_parameters(bool trainable_only) const {
  size_t n = 0;
  visit_params("", [&](const std::string&, const std::string&, const Entry& e) {
    if (!trainable_only || (!e.frozen && !e.state)) n += e.value.size();
  });
  return n;
}

void Module::update(const Params& params, bool strict) {
  // Index every parameter entry of the tree by path, then assign.
  std::map<std::string, Entry*> index;
  for (auto& [path, m] : named_modules())
    for (auto& [k, e] : m->params_) index.emplace(join(path, k), &e);
  for (const auto& [path, value] : params) {
    auto it = index.find(path);
    if (it == index.end()) {
      if (strict)
        throw std::invalid_argument("[Module::update] " + name() + " has no parameter '" + path +
                                    "'");
      continue;
    }
    if (!value.valid())
      throw std::invalid_argument("[Module::update] empty array given for '" + path + "'");
    if (strict && it->second->value.valid() && value.shape() != it->second->value.shape())
      throw std::invalid_argument("[Module::update] parameter '" + path + "' has shape " +
                                  detail::shape_str(it->second->value.shape()) +
                                  ", the update has shape " + detail::shape_str(value.shape()));
    it->second->value = value;
  }
}

void Module::set_frozen(const std::vector<std::string>& keys, bool recurse, bool frozen,
                        const std::string& prefix) {
  for (auto& [k, e] : params_) {
    if (e.state) continue;
    std::string path = join(prefix, k);
    bool hit = keys.empty() || std::any_of(keys.begin(), keys.end(), [&](const std::string& key) {
                 return key_matches(key, path, k);
               });
    if (hit) e.frozen = frozen;
  }
  if (recurse)
    for (auto& [k, c] : children_) c->set_frozen(keys, recurse, frozen, join(prefix, k));
}

void Module::freeze(const std::vector<std::string>& keys, bool recurse) {
  set_frozen(keys, recurse, true, "");
}
void Module::unfreeze(const std::vector<std::string>& keys, bool recurse) {
  set_frozen(keys, recurse, false, "");
}

void Module::train(bool mode) {
  training_ = mode;
  for (auto& [k, c] : children_) c->train(mode);
}

std::vector<std::pair<std::string, Module*>> Module::children() const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [k, c] : children_) out.emplace_back(k, c.get());
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (size_t i = 0; i < out.size(); ++i) {
    auto [path, m] = out[i];
    for (auto& [k, c] : m->children_) out.emplace_back(join(path, k), c.get());
  }
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out;
  for (auto& [p, m] : const_cast<Module*>(this)->named_modules()) out.emplace_back(p, m);
  return out;
}

std::vector<array> Module::state_arrays() const {
  std::vector<array> out;
  for (auto& [k, v] : parameters()) out.push_back(v);
  return out;
}

void Module::set_state_arrays(const std::vector<array>& arrays) {
  Params current = parameters();
  if (arrays.size() != current.size())
    throw std::invalid_argument("[Module::set_state_arrays] " + name() + " has " +
                                std::to_string(current.size()) + " arrays, got " +
                                std::to_string(arrays.size()));
  size_t i = 0;
  for (auto& [k, v] : current) v = arrays[i++];
  update(current, /*strict=*/false);
}

array& Module::register_parameter(const std::string& name, array value) {
  auto& e = params_[name];
  e.value = std::move(value);
  e.state = false;
  return e.value;
}

array& Module::register_state(const std::string& name, array value) {
  auto& e = params_[name];
  e.value = std::move(value);
  e.state = true;
  return e.value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  for (auto& [k, c] : children_)
    if (k == name) {
      c = std::move(m);
      return;
    }
  children_.emplace_back(name, std::move(m));
}

array& Module::param(const std::string& name) {
  auto it = params_.find(name);
  if (it == params_.end())
    throw std::invalid_argument("[" + this->name() + "] has no parameter '" + name + "'");
  return it->second.value;
}
const array& Module::param(const std::string& name) const {
  return const_cast<Module*>(this)->param(name);
}
bool Module::has_param(const std::string& name) const { return params_.count(name) > 0; }

void Module::summary(std::ostream& os) const {
  struct Row {
    std::string path, desc, shapes;
    size_t count;
  };
  std::vector<Row> rows;
  for (auto& [path, m] : named_modules()) {
    Row r{path.empty() ? "(root)" : path, m->describe(), "", 0};
    for (auto& [k, e] : m->params_) {
      if (!r.shapes.empty()) r.shapes += ", ";
      r.shapes += k + detail::shape_str(e.value.shape());
      if (e.state)
        r.shapes += "*";
      else if (e.frozen)
        r.shapes += "-";
      r.count += e.value.size();
    }
    rows.push_back(r);
  }
  size_t wp = 5, wd = 5, ws = 10;
  for (auto& r : rows) {
    wp = std::max(wp, r.path.size());
    wd = std::max(wd, std::min<size_t>(r.desc.size(), 60));
    ws = std::max(ws, std::min<size_t>(r.shapes.size(), 60));
  }
  os << std::left << std::setw(wp + 2) << "path" << std::setw(wd + 2) << "layer"
     << std::setw(ws + 2) << "parameters"
     << "count\n";
  for (auto& r : rows)
    os << std::left << std::setw(wp + 2) << r.path << std::setw(wd + 2) << r.desc
       << std::setw(ws + 2) << r.shapes << r.count << "\n";
  size_t total = num_parameters(), trainable = num_parameters(true);
  os << "total parameters: " << total << " (trainable " << trainable << ", frozen or state "
     << total - trainable << ")";
  bool marks = false;
  for (auto& r : rows) marks |= r.shapes.find_first_of("*-") != std::string::npos;
  if (marks) os << "; '-' frozen, '*' non-trainable state";
  os << "\n";
}

std::string Module::summary() const {
  std::ostringstream os;
  summary(os);
  return os.str();
}

namespace {
void print_tree(std::ostream& os, const Module& m, int indent) {
  os << m.describe();
  auto ch = m.children();
  if (ch.empty()) return;
  os << " (\n";
  for (auto& [k, c] : ch) {
    os << std::string(indent + 2, ' ') << "(" << k << "): ";
    print_tree(os, *c, indent + 2);
    os << "\n";
  }
  os << std::string(indent, ' ') << ")";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Module& m) {
  print_tree(os, m, 0);
  return os;
}

}  // namespace kiln::nn
