// Command-line flags shared by the examples: --help, --device cpu|gpu, --steps N,
// --compile/--no-compile, --seed S, plus example-specific options. Header-only.
#pragma once
#include <kiln/kiln.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::examples {

class Cli {
 public:
  Cli(std::string program, std::string about)
      : prog_(std::move(program)), about_(std::move(about)) {
    flag("compile", &compile, "compile the training step (default on; --no-compile runs eagerly)");
    option("device", &device, "cpu or gpu (default: the library default, the GPU when present)");
    option("steps", &steps, "number of training steps");
    option("seed", &seed, "random seed");
  }

  bool compile = true;
  std::string device;
  int steps = 100;
  uint64_t seed = 0;

  void flag(const std::string& name, bool* v, const std::string& help) {
    opts_.push_back({name, help, true, [v](const std::string& s) { *v = s == "1"; },
                     [v] { return std::string(*v ? "on" : "off"); }});
  }
  template <typename T>
  void option(const std::string& name, T* v, const std::string& help) {
    opts_.push_back({name, help, false,
                     [v, name](const std::string& s) {
                       try {
                         if constexpr (std::is_same_v<T, std::string>)
                           *v = s;
                         else if constexpr (std::is_same_v<T, float>)
                           *v = std::stof(s);
                         else if constexpr (std::is_same_v<T, uint64_t>)
                           *v = std::stoull(s);
                         else
                           *v = static_cast<T>(std::stol(s));
                       } catch (const std::exception&) {
                         throw std::invalid_argument("bad value '" + s + "' for --" + name);
                       }
                     },
                     [v] {
                       if constexpr (std::is_same_v<T, std::string>)
                         return *v;
                       else
                         return std::to_string(*v);
                     }});
  }

  // Parses argv; returns -1 to continue, or an exit code (0 after --help, 2 on a bad flag).
  int parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        usage(std::cout);
        return 0;
      }
      if (a.rfind("--", 0) != 0) return fail("unexpected argument '" + a + "'");
      std::string name = a.substr(2), value;
      auto eq = name.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      Opt* o = find(name);
      if (!o && name.rfind("no-", 0) == 0 && (o = find(name.substr(3))) && o->is_flag) {
        o->set("0");
        continue;
      }
      if (!o) return fail("unknown flag --" + name);
      if (o->is_flag) {
        o->set("1");
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argc) return fail("--" + name + " needs a value");
        value = argv[++i];
      }
      try {
        o->set(value);
      } catch (const std::exception& e) {
        return fail(e.what());
      }
    }
    return -1;
  }

  // Selects the device (throws if the GPU was asked for and is missing) and describes it.
  std::string setup_device() const {
    if (device == "cpu") {
      set_default_device(Device::cpu);
    } else if (device == "gpu") {
      if (!gpu::is_available()) throw std::runtime_error("--device gpu: no Vulkan device found");
      set_default_device(Device::gpu);
    } else if (!device.empty()) {
      throw std::invalid_argument("--device must be cpu or gpu, got '" + device + "'");
    }
    Device d = default_device();
    return d == Device::gpu ? "gpu (" + gpu::device_name() + ")" : "cpu";
  }

  void usage(std::ostream& os) const {
    os << "usage: " << prog_ << " [flags]\n\n" << about_ << "\n\nflags:\n";
    for (auto& o : opts_) {
      std::string n = o.is_flag ? "--" + o.name + " / --no-" + o.name : "--" + o.name + " V";
      os << "  " << n << std::string(n.size() < 26 ? 26 - n.size() : 1, ' ') << o.help << " ["
         << o.get() << "]\n";
    }
    os << "  --help                    this text\n";
  }

 private:
  struct Opt {
    std::string name, help;
    bool is_flag;
    std::function<void(const std::string&)> set;
    std::function<std::string()> get;
  };
  Opt* find(const std::string& n) {
    for (auto& o : opts_)
      if (o.name == n) return &o;
    return nullptr;
  }
  int fail(const std::string& msg) const {
    std::cerr << prog_ << ": " << msg << " (see --help)\n";
    return 2;
  }
  std::string prog_, about_;
  std::vector<Opt> opts_;
};

// The arrays of some states plus extra arrays, for one kiln::eval call.
inline std::vector<array> arrays_of(std::initializer_list<const Stateful*> states,
                                    std::initializer_list<array> extra = {}) {
  std::vector<array> out;
  for (auto* s : states)
    for (auto& a : s->state_arrays()) out.push_back(a);
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

// Wall-clock seconds since construction / the last lap.
class Timer {
 public:
  double lap() {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - t_).count();
    t_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point t_ = std::chrono::steady_clock::now();
};

}  // namespace kiln::examples
