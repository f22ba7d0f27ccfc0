// nn::Module::save_weights / load_weights (declared in nn/module.h; io sits above nn, so the
// definitions live here).
#include "../core/ops.h"
#include "../nn/module.h"
#include "io_impl.h"
#include "safetensors.h"

namespace kiln {

namespace io_detail {

std::string describe_mismatch(const std::map<std::string, array>& file,
                              const std::map<std::string, array>& model, bool strict,
                              bool check_dtype) {
  std::vector<std::string> missing, unexpected, shapes, dtypes;
  for (auto& [k, a] : model) {
    auto it = file.find(k);
    if (it == file.end()) {
      if (strict) missing.push_back("'" + k + "'");
      continue;
    }
    if (it->second.shape() != a.shape())
      shapes.push_back("'" + k + "' is " + detail::shape_str(it->second.shape()) +
                       " in the file but " + detail::shape_str(a.shape()) + " in the model");
    else if (check_dtype && it->second.dtype() != a.dtype())
      dtypes.push_back("'" + k + "' is " + to_string(it->second.dtype()) + " in the file but " +
                       to_string(a.dtype()) + " in the model");
  }
  if (strict)
    for (auto& [k, a] : file)
      if (!model.count(k)) unexpected.push_back("'" + k + "'");
  std::string out;
  auto add = [&](const char* title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    if (!out.empty()) out += "; ";
    out += title;
    constexpr size_t kShown = 20;
    for (size_t i = 0; i < items.size() && i < kShown; ++i) out += (i ? ", " : " ") + items[i];
    if (items.size() > kShown) out += ", and " + std::to_string(items.size() - kShown) + " more";
  };
  add("missing parameters:", missing);
  add("unexpected parameters:", unexpected);
  add("shape mismatch:", shapes);
  add("dtype mismatch:", dtypes);
  return out;
}

}  // namespace io_detail

namespace nn {

void Module::save_weights(const std::string& path) const { save_safetensors(path, parameters()); }

void Module::load_weights(const std::string& path, bool strict) {
  auto [arrays, metadata] = load_safetensors(path);
  Params current = parameters();
  std::string problems = io_detail::describe_mismatch(arrays, current, strict, false);
  if (!problems.empty())
    throw CheckpointError("[load_weights] '" + path + "' does not match " + name() + ": " +
                          problems);
  Params update_with;
  std::vector<array> converted;
  for (auto& [k, a] : arrays) {
    auto it = current.find(k);
    if (it == current.end()) continue;  // non-strict: extra entries are ignored
    if (a.dtype() == it->second.dtype()) {
      update_with.emplace(k, a);
    } else {
      converted.push_back(astype(a, it->second.dtype(), Device::cpu));
      update_with.emplace(k, converted.back());
    }
  }
  if (!converted.empty()) kiln::eval(converted);
  update(update_with);
}

}  // namespace nn

}  // namespace kiln
