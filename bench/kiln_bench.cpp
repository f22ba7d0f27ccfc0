// kiln-bench: compiled vs eager steps, on the CPU and the GPU, as a table, CSV, JSON and an
// SVG chart. Every row checks that compiled and eager agree; a row that does not is FAILED.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <kiln/compile/compile_info.h>
#include <kiln/kiln.h>
#include <kiln/linalg/linalg.h>
#include <kiln/nn/nn.h>
#include <kiln/optim/optimizers.h>

namespace kx = kiln;
using kx::array;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Options {
  std::string filter;
  std::vector<kx::Device> devices;
  int repeat = 20;
  int warmup = 3;
  bool quick = false;
  std::string mode = "both";  // eager, compiled or both
  std::string csv, json, plot;
};

// One benchmark instance on one device. eager()/compiled() run one step and return the arrays
// to evaluate (the step's result and any state it updated).
struct Case {
  virtual ~Case() = default;
  virtual std::vector<array> eager() = 0;
  virtual std::vector<array> compiled() = 0;
  // Results of one eager and one compiled step from the same starting point, for comparison.
  virtual std::pair<std::vector<array>, std::vector<array>> check() {
    auto e = eager();
    auto t0 = Clock::now();
    auto c = compiled();
    kx::eval(c);
    first_compiled_ms = ms_since(t0);
    return {e, c};
  }
  // The first compiled call, evaluated: trace + passes + kernel codegen (or disk-cache loads).
  double first_compiled_ms = -1;
  double bytes = 0;  // memory traffic of one step (for GB/s), 0 if not meaningful
  double flops = 0;  // floating point operations of one step (for TFLOP/s)
  float rtol = 1e-4f, atol = 1e-5f;
  bool reads_loss = false;  // training steps: the loss is read on the host every step
  int inner_steps = 1;      // steps per call (queued with async_eval, loss read at the end)
};

struct Workload {
  std::string name, description;
  std::function<std::unique_ptr<Case>(kx::Device, bool quick)> make;
};

// ---------------------------------------------------------------- op workloads
struct FnCase : Case {
  std::function<array(const array&)> f;
  std::function<array(const array&)> cf;
  array x;
  std::vector<array> eager() override { return {f(x)}; }
  std::vector<array> compiled() override { return {cf(x)}; }
};

std::unique_ptr<Case> make_fn_case(std::function<array(const array&)> f, kx::Shape shape,
                                   double bytes_per_elem, double flops_per_elem) {
  auto c = std::make_unique<FnCase>();
  c->f = f;
  c->cf = kx::compile(f);
  c->x = kx::random::normal(shape, kx::float32, 0.f, 1.f, kx::random::key(1));
  c->x.eval();
  double n = static_cast<double>(c->x.size());
  c->bytes = n * bytes_per_elem;
  c->flops = n * flops_per_elem;
  return c;
}

array gelu(const array& x) { return x * (1.0f + kx::erf(x / std::sqrt(2.0f))) / 2.0f; }

array layer_norm(const array& x) {
  array mu = kx::mean(x, -1, true);
  array xc = x - mu;
  array var = kx::mean(xc * xc, -1, true);
  return xc * kx::rsqrt(var + 1e-5f);
}

struct SoftmaxCECase : Case {
  array logits, targets;
  std::function<array(const array&, const array&)> f, cf;
  std::vector<array> eager() override { return {f(logits, targets)}; }
  std::vector<array> compiled() override { return {cf(logits, targets)}; }
};

// A function of two arrays, e.g. a matmul or a subspace-iteration step.
struct TwoArrayCase : Case {
  array a, b;
  std::function<array(const array&, const array&)> f, cf;
  std::vector<array> eager() override { return {f(a, b)}; }
  std::vector<array> compiled() override { return {cf(a, b)}; }
};

// ---------------------------------------------------------------- training steps
// Two identical models/optimizers: one stepped eagerly, one by a compiled step.
template <typename Model, typename Opt>
struct TrainCase : Case {
  std::shared_ptr<Model> m_eager, m_comp;
  std::shared_ptr<Opt> o_eager, o_comp;
  array x, y;
  std::function<array(kx::nn::Module&, const array&, const array&)> loss_fn;
  std::function<array(const array&, const array&)> step;
  kx::VectorFn compiled_step;

  array eager_step() {
    auto vg = kx::nn::value_and_grad(*m_eager, [this](const array& a, const array& b) {
      return loss_fn(*m_eager, a, b);
    });
    auto [loss, grads] = vg(x, y);
    o_eager->update(*m_eager, grads);
    return loss;
  }
  std::vector<array> collect(array loss, Model& m, Opt& o) {
    std::vector<array> out{loss};
    for (auto& a : m.state_arrays()) out.push_back(a);
    for (auto& a : o.state_arrays()) out.push_back(a);
    return out;
  }
  std::vector<array> eager() override {
    for (int i = 1; i < inner_steps; ++i) kx::async_eval(collect(eager_step(), *m_eager, *o_eager));
    return collect(eager_step(), *m_eager, *o_eager);
  }
  std::vector<array> compiled() override {
    for (int i = 1; i < inner_steps; ++i)
      kx::async_eval(collect(compiled_step({x, y})[0], *m_comp, *o_comp));
    return collect(compiled_step({x, y})[0], *m_comp, *o_comp);
  }
  void setup(std::function<std::shared_ptr<Model>()> make_model,
             std::function<std::shared_ptr<Opt>()> make_opt) {
    reads_loss = true;
    kx::random::seed(0);
    m_eager = make_model();
    kx::random::seed(0);
    m_comp = make_model();
    o_eager = make_opt();
    o_comp = make_opt();
    auto* mc = m_comp.get();
    auto* oc = o_comp.get();
    kx::VectorFn fn = [this, mc, oc](const std::vector<array>& in) {
      auto vg = kx::nn::value_and_grad(*mc, [this, mc](const array& a, const array& b) {
        return loss_fn(*mc, a, b);
      });
      auto [loss, grads] = vg(in[0], in[1]);
      oc->update(*mc, grads);
      return std::vector<array>{loss};
    };
    compiled_step = kx::compile(fn, {.inputs = {mc, oc, &kx::random::state()},
                                     .outputs = {mc, oc, &kx::random::state()}});
  }
  // Both start equal; compare the loss after a few steps of each.
  std::pair<std::vector<array>, std::vector<array>> check() override {
    std::vector<array> a, b;
    for (int i = 0; i < 3; ++i) {
      a = {eager_step()};
      kx::eval(a);
      auto t0 = Clock::now();
      b = {compiled_step({x, y})[0]};
      kx::eval(b);
      if (i == 0) first_compiled_ms = ms_since(t0);
    }
    for (auto& p : m_eager->state_arrays()) a.push_back(p);
    for (auto& p : m_comp->state_arrays()) b.push_back(p);
    return {a, b};
  }
};

std::vector<Workload> workloads() {
  std::vector<Workload> w;
  w.push_back({"gelu", "x*(1+erf(x/sqrt2))/2 on 32x1000x4096 (GPU) / 4x1000x4096 (CPU)",
               [](kx::Device d, bool q) {
                 kx::Shape s = q ? kx::Shape{4, 64, 64}
                                 : (d == kx::Device::gpu ? kx::Shape{32, 1000, 4096}
                                                         : kx::Shape{4, 1000, 4096});
                 return make_fn_case(gelu, s, 8.0, 8.0);
               }});
  w.push_back({"gelu_small", "GELU on 1000x1024 (overhead-bound)", [](kx::Device, bool q) {
                 return make_fn_case(gelu, q ? kx::Shape{16, 64} : kx::Shape{1000, 1024}, 8.0,
                                     8.0);
               }});
  w.push_back({"layernorm", "layer norm (no affine) over the last axis of 4096x1024",
               [](kx::Device, bool q) {
                 return make_fn_case(layer_norm, q ? kx::Shape{32, 64} : kx::Shape{4096, 1024},
                                     8.0, 8.0);
               }});
  w.push_back({"softmax_ce", "softmax cross-entropy, 4096 rows x 1000 classes",
               [](kx::Device, bool q) {
                 auto c = std::make_unique<SoftmaxCECase>();
                 int n = q ? 16 : 4096, k = q ? 10 : 1000;
                 c->logits = kx::random::normal({n, k}, kx::float32, 0.f, 1.f, kx::random::key(2));
                 c->targets = kx::random::randint(0, k, {n}, kx::int32, kx::random::key(3));
                 c->f = [](const array& l, const array& t) {
                   return kx::nn::losses::cross_entropy(l, t, {.reduction = kx::nn::losses::Reduction::mean});
                 };
                 c->cf = kx::compile(c->f);
                 kx::eval(c->logits, c->targets);
                 c->bytes = 4.0 * n * k;
                 return std::unique_ptr<Case>(std::move(c));
               }});
  w.push_back({"matmul", "float32 matmul 4096^3 (GPU) / 1024^3 (CPU)", [](kx::Device d, bool q) {
                 int n = q ? 64 : (d == kx::Device::gpu ? 4096 : 1024);
                 auto c = std::make_unique<TwoArrayCase>();
                 c->a = kx::random::normal({n, n}, kx::float32, 0.f, 1.f, kx::random::key(4));
                 c->b = kx::random::normal({n, n}, kx::float32, 0.f, 1.f, kx::random::key(5));
                 c->f = [](const array& a, const array& b) { return kx::matmul(a, b); };
                 c->cf = kx::compile(c->f);
                 kx::eval(c->a, c->b);
                 c->flops = 2.0 * n * n * n;
                 c->rtol = 1e-3f;
                 c->atol = 1e-3f;
                 return std::unique_ptr<Case>(std::move(c));
               }});
  w.push_back({"linear_sgd", "the seeds' step: Linear(10,1) on 4x10, BCE, SGD(0.1, momentum 0.8)",
               [](kx::Device, bool) {
                 using C = TrainCase<kx::nn::Linear, kx::optim::SGD>;
                 auto c = std::make_unique<C>();
                 c->x = kx::random::uniform({4, 10}, kx::float32, kx::random::key(6));
                 c->y = kx::array({0.f, 1.f, 0.f, 1.f});
                 c->loss_fn = [](kx::nn::Module& m, const array& x, const array& y) {
                   return kx::nn::losses::binary_cross_entropy(kx::squeeze(m(x)), y);
                 };
                 c->setup([] { return std::make_shared<kx::nn::Linear>(10, 1); },
                          [] { return std::make_shared<kx::optim::SGD>(0.1f, 0.8f); });
                 return std::unique_ptr<Case>(std::move(c));
               }});
  w.push_back({"linear_sgd_x1000",
               "the same step 1000 times per call, queued without host reads; ms per step",
               [](kx::Device, bool q) {
                 using C = TrainCase<kx::nn::Linear, kx::optim::SGD>;
                 auto c = std::make_unique<C>();
                 c->x = kx::random::uniform({4, 10}, kx::float32, kx::random::key(6));
                 c->y = kx::array({0.f, 1.f, 0.f, 1.f});
                 c->loss_fn = [](kx::nn::Module& m, const array& x, const array& y) {
                   return kx::nn::losses::binary_cross_entropy(kx::squeeze(m(x)), y);
                 };
                 c->setup([] { return std::make_shared<kx::nn::Linear>(10, 1); },
                          [] { return std::make_shared<kx::optim::SGD>(0.1f, 0.8f); });
                 c->inner_steps = q ? 10 : 1000;
                 return std::unique_ptr<Case>(std::move(c));
               }});
  w.push_back({"mlp_adamw", "MLP 784-512-512-10, batch 256, GELU, AdamW, cross-entropy",
               [](kx::Device, bool q) {
                 using C = TrainCase<kx::nn::Sequential, kx::optim::AdamW>;
                 auto c = std::make_unique<C>();
                 int b = q ? 8 : 256, in = q ? 16 : 784, h = q ? 32 : 512;
                 c->x = kx::random::normal({b, in}, kx::float32, 0.f, 1.f, kx::random::key(7));
                 c->y = kx::random::randint(0, 10, {b}, kx::int32, kx::random::key(8));
                 c->loss_fn = [](kx::nn::Module& m, const array& x, const array& y) {
                   return kx::nn::losses::cross_entropy(m(x), y, {.reduction = kx::nn::losses::Reduction::mean});
                 };
                 c->setup(
                     [=] {
                       return std::make_shared<kx::nn::Sequential>(
                           kx::nn::Linear(in, h), kx::nn::GELU(), kx::nn::Linear(h, h),
                           kx::nn::GELU(), kx::nn::Linear(h, 10));
                     },
                     [] { return std::make_shared<kx::optim::AdamW>(1e-3f); });
                 c->flops = 6.0 * b * (in * h + h * h + h * 10);
                 c->rtol = 1e-3f;
                 c->atol = 1e-4f;
                 return std::unique_ptr<Case>(std::move(c));
               }});
  w.push_back({"transformer", "TransformerEncoderLayer(128, 4 heads), batch 8 x 64 tokens, Adam",
               [](kx::Device, bool q) {
                 using C = TrainCase<kx::nn::TransformerEncoderLayer, kx::optim::Adam>;
                 auto c = std::make_unique<C>();
                 int b = q ? 2 : 8, l = q ? 8 : 64, d = q ? 32 : 128;
                 c->x = kx::random::normal({b, l, d}, kx::float32, 0.f, 1.f, kx::random::key(9));
                 c->y = kx::random::normal({b, l, d}, kx::float32, 0.f, 1.f, kx::random::key(10));
                 c->loss_fn = [](kx::nn::Module& m, const array& x, const array& y) {
                   return kx::nn::losses::mse_loss(m(x), y);
                 };
                 c->setup([=] { return std::make_shared<kx::nn::TransformerEncoderLayer>(d, 4); },
                          [] { return std::make_shared<kx::optim::Adam>(1e-3f); });
                 c->rtol = 1e-3f;
                 c->atol = 1e-4f;
                 return std::unique_ptr<Case>(std::move(c));
               }});
  // one subspace-iteration step of an (m, n) matrix with k columns (quick: (qm, qn), qk)
  auto subspace = [](int m, int n, int k, int qm, int qn, int qk) {
    return [=](kx::Device, bool q) {
      auto c = std::make_unique<TwoArrayCase>();
      int mm = q ? qm : m, nn = q ? qn : n, kk = q ? qk : k;
      c->a = kx::random::normal({mm, nn}, kx::float32, 0.f, 1.f, kx::random::key(11));
      c->b = kx::random::normal({nn, kk}, kx::float32, 0.f, 1.f, kx::random::key(12));
      c->f = [](const array& a, const array& v) { return kx::linalg::subspace_step(a, v); };
      c->cf = kx::compile(c->f);
      kx::eval(c->a, c->b);
      c->flops = 4.0 * mm * nn * kk;
      c->rtol = 1e-3f;
      c->atol = 1e-3f;
      return std::unique_ptr<Case>(std::move(c));
    };
  };
  w.push_back({"topk_svd_step", "one subspace-iteration step Z = A^T(A V), Q = qr(Z): 512x256, k=32",
               subspace(512, 256, 32, 64, 32, 8)});
  w.push_back({"topk_svd_step_large",
               "one subspace-iteration step Z = A^T(A V), Q = qr(Z): 8192x4096, k=64",
               subspace(8192, 4096, 64, 128, 64, 8)});
  w.push_back({"topk_svd", "topk_svd(A, 32, iters=3, oversample=8), fixed key: 512x256",
               [](kx::Device, bool q) {
                 struct C : Case {
                   array a;
                   std::function<std::vector<array>(const std::vector<array>&)> f, cf;
                   std::vector<array> eager() override { return f({a}); }
                   std::vector<array> compiled() override { return cf({a}); }
                 };
                 auto c = std::make_unique<C>();
                 int m = q ? 64 : 512, n = q ? 32 : 256, k = q ? 4 : 32;
                 c->a = kx::random::normal({m, n}, kx::float32, 0.f, 1.f, kx::random::key(13));
                 c->f = [k](const std::vector<array>& in) {
                   auto [u, s, vt] = kx::linalg::topk_svd(
                       in[0], k, {.iters = 3, .oversample = 8, .key = kx::random::key(14)});
                   return std::vector<array>{s};
                 };
                 c->cf = kx::compile(c->f);
                 kx::eval(c->a);
                 c->rtol = 1e-3f;
                 c->atol = 1e-3f;
                 return std::unique_ptr<Case>(std::move(c));
               }});
  return w;
}

struct Row {
  std::string workload, device, mode, status = "ok", note;
  double median_ms = 0, min_ms = 0, max_ms = 0, first_ms = 0, steps_per_s = 0;
  double gbps = 0, tflops = 0, speedup = 0;
  int traces = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

bool agree(const std::vector<array>& a, const std::vector<array>& b, float rtol, float atol,
           std::string& why) {
  if (a.size() != b.size()) {
    why = "different number of outputs";
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape()) {
      why = "output " + std::to_string(i) + " shapes differ";
      return false;
    }
    if (!kx::allclose(kx::astype(a[i], kx::float32), kx::astype(b[i], kx::float32), rtol, atol,
                      true)
             .item<bool>()) {
      float d = kx::max(kx::abs(kx::astype(a[i], kx::float32) - kx::astype(b[i], kx::float32)))
                    .item<float>();
      why = "output " + std::to_string(i) + " differs (max abs diff " + std::to_string(d) + ")";
      return false;
    }
  }
  return true;
}

std::vector<Row> run_case(const Workload& w, kx::Device dev, const Options& o) {
  kx::set_default_device(dev);
  std::string dname = dev == kx::Device::gpu ? "gpu" : "cpu";
  std::vector<Row> rows;
  std::unique_ptr<Case> c;
  try {
    c = w.make(dev, o.quick);
  } catch (const std::exception& e) {
    Row r{w.name, dname, "-", "SKIPPED", e.what()};
    return {r};
  }
  std::string why;
  bool ok = true;
  try {
    auto [a, b] = c->check();
    ok = agree(a, b, c->rtol, c->atol, why);
  } catch (const std::exception& e) {
    ok = false;
    why = e.what();
  }
  for (int mode = 0; mode < 2; ++mode) {
    if (o.mode != "both" && o.mode != (mode == 0 ? "eager" : "compiled")) continue;
    Row r;
    r.workload = w.name;
    r.device = dname;
    r.mode = mode == 0 ? "eager" : "compiled";
    auto step = [&]() {
      auto outs = mode == 0 ? c->eager() : c->compiled();
      kx::eval(outs);
      // every step ends with its work complete: training steps read the loss on the host (as
      // a training loop printing it would); op rows wait for the device without a download
      if (c->reads_loss && !outs.empty()) (void)outs[0].item<float>();
      else kx::gpu::synchronize();
    };
    try {
      auto t0 = Clock::now();
      step();
      r.first_ms = ms_since(t0);
      if (mode == 1 && c->first_compiled_ms >= 0) r.first_ms = c->first_compiled_ms;
      for (int i = 0; i < o.warmup; ++i) step();
      std::vector<double> ts;
      for (int i = 0; i < o.repeat; ++i) {
        auto t = Clock::now();
        step();
        ts.push_back(ms_since(t));
      }
      for (auto& t : ts) t /= c->inner_steps;
      r.median_ms = median(ts);
      r.min_ms = *std::min_element(ts.begin(), ts.end());
      r.max_ms = *std::max_element(ts.begin(), ts.end());
      r.steps_per_s = 1000.0 / r.median_ms;
      if (c->bytes > 0) r.gbps = c->bytes / (r.median_ms * 1e6);
      if (c->flops > 0) r.tflops = c->flops / (r.median_ms * 1e9);
    } catch (const std::exception& e) {
      r.status = "ERROR";
      r.note = e.what();
    }
    if (!ok && r.status == "ok") {
      r.status = "FAILED";
      r.note = "compiled and eager results differ: " + why;
    }
    rows.push_back(r);
  }
  if (rows.size() == 2 && rows[0].status == "ok" && rows[1].status == "ok")
    rows[1].speedup = rows[0].median_ms / rows[1].median_ms;
  return rows;
}

void print_row(const Row& r) {
  std::printf("%-14s %-4s %-9s %10.4f %10.4f %10.4f %10.3f %9.1f %8.2f %8.3f %7s %s%s\n",
              r.workload.c_str(), r.device.c_str(), r.mode.c_str(), r.median_ms, r.min_ms,
              r.max_ms, r.first_ms, r.steps_per_s, r.gbps, r.tflops,
              r.speedup > 0 ? (std::to_string(r.speedup).substr(0, 5) + "x").c_str() : "",
              r.status.c_str(), r.note.empty() ? "" : (" — " + r.note).c_str());
  std::fflush(stdout);
}

void write_csv(const std::string& path, const std::vector<Row>& rows) {
  std::ofstream f(path);
  f << "workload,device,mode,median_ms,min_ms,max_ms,first_call_ms,steps_per_s,gb_per_s,"
       "tflop_per_s,speedup,status\n";
  for (auto& r : rows)
    f << r.workload << "," << r.device << "," << r.mode << "," << r.median_ms << "," << r.min_ms
      << "," << r.max_ms << "," << r.first_ms << "," << r.steps_per_s << "," << r.gbps << ","
      << r.tflops << "," << r.speedup << "," << r.status << "\n";
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    o += ch;
  }
  return o;
}

void write_json(const std::string& path, const std::vector<Row>& rows) {
  std::ofstream f(path);
  f << "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    auto& r = rows[i];
    f << "  {\"workload\": \"" << r.workload << "\", \"device\": \"" << r.device
      << "\", \"mode\": \"" << r.mode << "\", \"median_ms\": " << r.median_ms
      << ", \"min_ms\": " << r.min_ms << ", \"max_ms\": " << r.max_ms
      << ", \"first_call_ms\": " << r.first_ms << ", \"steps_per_s\": " << r.steps_per_s
      << ", \"gb_per_s\": " << r.gbps << ", \"tflop_per_s\": " << r.tflops
      << ", \"speedup\": " << r.speedup << ", \"status\": \"" << r.status << "\", \"note\": \""
      << json_escape(r.note) << "\"}" << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  f << "]\n";
}

// Grouped horizontal bars (log scale of ms): eager vs compiled per workload and device.
void write_svg(const std::string& path, const std::vector<Row>& rows) {
  std::map<std::string, std::pair<double, double>> groups;
  std::vector<std::string> order;
  for (auto& r : rows) {
    if (r.status != "ok" || r.median_ms <= 0) continue;
    std::string k = r.workload + " (" + r.device + ")";
    if (!groups.count(k)) order.push_back(k);
    (r.mode == "eager" ? groups[k].first : groups[k].second) = r.median_ms;
  }
  double lo = 1e30, hi = 0;
  for (auto& [k, v] : groups)
    for (double x : {v.first, v.second})
      if (x > 0) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
  if (order.empty()) lo = 0.001, hi = 1;
  double l0 = std::floor(std::log10(lo)), l1 = std::ceil(std::log10(hi));
  if (l1 <= l0) l1 = l0 + 1;
  int W = 900, left = 220, bar = 12, gap = 14;
  int H = 60 + static_cast<int>(order.size()) * (2 * bar + gap);
  auto xpos = [&](double ms) { return left + (std::log10(ms) - l0) / (l1 - l0) * (W - left - 30); };
  std::ofstream f(path);
  f << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
    << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
    << "<text x='10' y='18' font-size='14'>kiln-bench: median time per step (ms, log scale)"
       "</text>\n"
    << "<rect x='" << W - 200 << "' y='8' width='10' height='10' fill='#c0504d'/><text x='"
    << W - 185 << "' y='17'>eager</text><rect x='" << W - 130
    << "' y='8' width='10' height='10' fill='#4f81bd'/><text x='" << W - 115
    << "' y='17'>compiled</text>\n";
  for (double d = l0; d <= l1; d += 1) {
    double x = xpos(std::pow(10.0, d));
    f << "<line x1='" << x << "' y1='30' x2='" << x << "' y2='" << H - 20
      << "' stroke='#ddd'/><text x='" << x - 10 << "' y='" << H - 6 << "'>" << std::pow(10.0, d)
      << "</text>\n";
  }
  int y = 36;
  for (auto& k : order) {
    auto [e, c] = groups[k];
    f << "<text x='10' y='" << y + bar + 4 << "'>" << k << "</text>\n";
    if (e > 0)
      f << "<rect x='" << left << "' y='" << y << "' width='" << xpos(e) - left << "' height='"
        << bar << "' fill='#c0504d'/><text x='" << xpos(e) + 3 << "' y='" << y + 10 << "'>" << e
        << "</text>\n";
    if (c > 0)
      f << "<rect x='" << left << "' y='" << y + bar << "' width='" << xpos(c) - left
        << "' height='" << bar << "' fill='#4f81bd'/><text x='" << xpos(c) + 3 << "' y='"
        << y + bar + 10 << "'>" << c << "</text>\n";
    y += 2 * bar + gap;
  }
  f << "</svg>\n";
}

void usage() {
  std::cout <<
      "kiln-bench: compiled vs eager steps on the CPU and the GPU\n\n"
      "  --filter SUBSTR   run workloads whose name contains SUBSTR (comma-separated list)\n"
      "  --device D        cpu, gpu or all (default: all available)\n"
      "  --repeat N        timed runs per row (default 20)\n"
      "  --warmup N        untimed runs before timing (default 3)\n"
      "  --quick           tiny shapes, 3 repeats, 1 warmup (smoke test)\n"
      "  --mode M          eager, compiled or both (default; e.g. compiled with KILN_GPU_PROFILE)\n"
      "  --csv PATH        write the rows as CSV\n"
      "  --json PATH       write the rows as JSON\n"
      "  --plot PATH       write an SVG bar chart of eager vs compiled\n"
      "  --list            list the workloads\n"
      "Columns: median/min/max ms per step (each step ends with its work complete; training\n"
      "steps read their loss on the host), first call (trace +\n"
      "compile), steps/s, GB/s (memory-bound rows), TFLOP/s (matmul rows), speed-up of compiled\n"
      "over eager. A row whose compiled and eager results differ is FAILED. Exit status 1 if any\n"
      "row failed.\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string dev = "all";
  auto all = workloads();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "kiln-bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a == "--filter") o.filter = next();
    else if (a == "--device") dev = next();
    else if (a == "--repeat") o.repeat = std::max(1, std::atoi(next().c_str()));
    else if (a == "--warmup") o.warmup = std::max(0, std::atoi(next().c_str()));
    else if (a == "--mode") {
      o.mode = next();
      if (o.mode != "eager" && o.mode != "compiled" && o.mode != "both") {
        std::cerr << "kiln-bench: --mode must be eager, compiled or both\n";
        return 2;
      }
    }
    else if (a == "--quick") {
      o.quick = true;
      o.repeat = 3;
      o.warmup = 1;
    } else if (a == "--csv") o.csv = next();
    else if (a == "--json") o.json = next();
    else if (a == "--plot") o.plot = next();
    else if (a == "--list") {
      for (auto& w : all) std::cout << w.name << ": " << w.description << "\n";
      return 0;
    } else {
      std::cerr << "kiln-bench: unknown argument " << a << " (see --help)\n";
      return 2;
    }
  }
  if (dev == "cpu" || dev == "all") o.devices.push_back(kx::Device::cpu);
  if (dev == "gpu" || dev == "all") {
    if (kx::gpu::is_available()) o.devices.push_back(kx::Device::gpu);
    else if (dev == "gpu") {
      std::cerr << "kiln-bench: no Vulkan device available\n";
      return 2;
    }
  }
  if (o.devices.empty()) {
    std::cerr << "kiln-bench: --device must be cpu, gpu or all\n";
    return 2;
  }
  std::vector<std::string> filters;
  {
    std::stringstream ss(o.filter);
    std::string f;
    while (std::getline(ss, f, ',')) filters.push_back(f);
  }
  std::cout << "kiln-bench" << (o.quick ? " (quick)" : "") << "; GPU: "
            << (kx::gpu::is_available() ? kx::gpu::device_name() : std::string("none")) << "\n";
  std::printf("%-14s %-4s %-9s %10s %10s %10s %10s %9s %8s %8s %7s %s\n", "workload", "dev",
              "mode", "median_ms", "min_ms", "max_ms", "first_ms", "steps/s", "GB/s",
              "TFLOP/s", "speedup", "status");
  std::vector<Row> rows;
  bool failed = false;
  for (auto& w : all) {
    bool pick = filters.empty();
    for (auto& f : filters) pick = pick || w.name.find(f) != std::string::npos;
    if (!pick) continue;
    for (auto d : o.devices) {
      for (auto& r : run_case(w, d, o)) {
        print_row(r);
        failed = failed || r.status == "FAILED" || r.status == "ERROR";
        rows.push_back(r);
      }
    }
  }
  if (!o.csv.empty()) write_csv(o.csv, rows);
  if (!o.json.empty()) write_json(o.json, rows);
  if (!o.plot.empty()) write_svg(o.plot, rows);
  return failed ? 1 : 0;
}
