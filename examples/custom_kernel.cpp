// A custom GPU kernel as an op (kiln::gpu::kernel, the Vulkan form of MLX's metal_kernel):
// RMSNorm written in GLSL, one workgroup per row with a shared-memory reduction, checked
// against the composed kiln ops, used inside the seeds' compiled `forward` (fused ops before
// and after the opaque kernel), and timed against the composed + compiled version.
//
//   forward(x, w, eps) = 2 * rmsnorm(max(x + 0.1, 0), w, eps)
#include <kiln/gpu/custom_kernel.h>
#include <kiln/kiln.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "common/cli.h"

namespace kx = kiln;
namespace kg = kiln::gpu;
using kx::array;

namespace {

// GLSL allows `shared` arrays only at global scope: they go in the header.
const char* kHeader = R"(
shared float partial[TG];
)";

// The body of main(). x_ld/w_ld load any float dtype as float, out_st rounds to the output's
// dtype; x_shape is passed at dispatch; eps is a 0-d input, so it reads as a value. The tree
// reduction needs TG to be a power of two and assumes nothing about the subgroup size.
const char* kSource = R"(
  uint row = threadgroup_position_in_grid.x;
  uint lid = thread_position_in_threadgroup.x;
  uint D = uint(x_shape[1]);
  uint base = row * D;
  float acc = 0.0;
  for (uint j = lid; j < D; j += TG) {
    float v = x_ld(base + j);
    acc += v * v;
  }
  partial[lid] = acc;
  barrier();
  for (uint s = TG / 2; s > 0; s >>= 1) {
    if (lid < s) partial[lid] += partial[lid + s];
    barrier();
  }
  float inv = inversesqrt(partial[0] / float(D) + float(eps));
  for (uint j = lid; j < D; j += TG)
    out_st(base + j, x_ld(base + j) * inv * w_ld(j));
)";

// The same function in kiln ops (the reference, and the kernel's CPU fallback).
array rms_norm_ops(const array& x, const array& w, const array& eps) {
  return x * kx::rsqrt(kx::mean(kx::square(x), -1, true) + eps) * w;
}

float max_abs_diff(const array& a, const array& b) { return kx::max(kx::abs(a - b)).item<float>(); }

// Mean milliseconds per call of f over `iters` evaluated calls (after two warm-up calls).
double time_ms(const std::function<array()>& f, int iters) {
  for (int i = 0; i < 2; ++i) f().eval();
  kx::examples::Timer t;
  for (int i = 0; i < iters; ++i) f().eval();
  return t.lap() * 1e3 / iters;
}

}  // namespace

int main(int argc, char** argv) {
  kx::examples::Cli cli("custom_kernel",
                        "RMSNorm as a custom GLSL kernel (kiln::gpu::kernel): checked against the "
                        "composed ops, used inside a compiled forward with fused ops around it, "
                        "and timed against the composed + compiled version. --steps is the "
                        "number of timed calls.");
  cli.steps = 50;
  int rows = 256, dim = 1024, tg = 256;
  cli.option("rows", &rows, "rows of x (one workgroup each)");
  cli.option("dim", &dim, "row length");
  cli.option("threadgroup", &tg, "threads per workgroup (a power of two)");
  if (int rc = cli.parse(argc, argv); rc >= 0) return rc;
  try {
    std::printf("device %s, x (%d, %d), threadgroup %d, %s\n", cli.setup_device().c_str(), rows,
                dim, tg, cli.compile ? "compiled" : "eager");
    if (tg <= 0 || (tg & (tg - 1)) != 0)
      throw std::invalid_argument("--threadgroup must be a power of two");

    auto kernel = kg::kernel("rmsnorm", {"x", "w", "eps"}, {"out"}, kSource,
                             {.header = kHeader, .cpu_fallback = [](const std::vector<array>& in) {
                                return std::vector<array>{rms_norm_ops(in[0], in[1], in[2])};
                              }});
    auto rms_norm_kernel = [&](const array& x, const array& w, const array& eps) {
      return kernel({.inputs = {x, w, eps},
                     .template_args = {{"T", x.dtype()}, {"TG", tg}},
                     .grid = {x.shape(0) * tg, 1, 1},
                     .threadgroup = {tg, 1, 1},
                     .output_shapes = {x.shape()},
                     .output_dtypes = {x.dtype()}})[0];
    };

    kx::random::seed(cli.seed);
    array x = kx::random::normal({rows, dim});
    array w = kx::random::uniform(0.5f, 1.5f, {dim});
    array eps(1e-5f);
    kx::eval(x, w);

    // 1. the kernel alone against the composed ops
    float d1 = max_abs_diff(rms_norm_kernel(x, w, eps), rms_norm_ops(x, w, eps));
    std::printf("rmsnorm kernel vs composed ops: max |diff| = %.3g\n", d1);

    // 2. the seeds' forward: [fused ops] -> [opaque kernel] -> [fused ops]
    auto forward_with = [](auto norm) {
      return [norm](const array& x, const array& w, const array& eps) {
        array h = x + 0.1f;
        h = kx::maximum(h, array(0.f));
        return norm(h, w, eps) * 2.0f;
      };
    };
    std::function<array(const array&, const array&, const array&)> fwd_kernel =
        forward_with(rms_norm_kernel);
    std::function<array(const array&, const array&, const array&)> fwd_ops =
        forward_with(rms_norm_ops);
    if (cli.compile) {
      fwd_kernel = kx::compile(forward_with(rms_norm_kernel));
      fwd_ops = kx::compile(forward_with(rms_norm_ops));
    }
    float d2 = max_abs_diff(fwd_kernel(x, w, eps), fwd_ops(x, w, eps));
    std::printf("forward with kernel vs composed:   max |diff| = %.3g\n", d2);

    // 3. timing (on the CPU device the kernel runs its cpu_fallback, the composed ops)
    double t_kernel = time_ms([&] { return fwd_kernel(x, w, eps); }, cli.steps);
    double t_ops = time_ms([&] { return fwd_ops(x, w, eps); }, cli.steps);
    std::printf("forward, custom kernel:  %8.3f ms/call\n", t_kernel);
    std::printf("forward, composed ops:   %8.3f ms/call  (kernel speedup %.2fx)\n", t_ops,
                t_ops / t_kernel);

    const float tol = 1e-4f;
    if (!(d1 <= tol && d2 <= tol)) {
      std::fprintf(stderr, "custom_kernel: results differ by more than %g\n", tol);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custom_kernel: %s\n", e.what());
    return 1;
  }
}
