// eval_cpu of the elementwise primitives: Unary, Binary, Select, AsType, StopGradient, Arange.
#include <cmath>

#include "../core/primitives.h"
#include "cpu_utils.h"
#include "ew_kernels.h"

namespace kiln {

using cpu::alloc;

namespace {
constexpr size_t kGrain = 1 << 15;  // elements per thread before splitting pays

const char* base(const array& a) {
  return static_cast<const char*>(const_cast<array&>(a).raw_host_ptr());
}
}  // namespace

void Unary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  if (op_ == UnaryOp::Identity) {
    cpu::share(in, out);
    return;
  }
  alloc(out);
  const char* x = base(in);
  char* y = static_cast<char*>(out.raw_host_ptr());
  size_t isz = in.itemsize(), osz = out.itemsize();
  Dtype t = in.dtype();
  UnaryOp op = op_;
  cpu::parallel_for(out.size(), kGrain, [&](size_t b, size_t e) {
    cpu::unary_span(op, t, x + b * isz, y + b * osz, e - b);
  });
}

void Binary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &a = inputs[0], &b = inputs[1];
  array& out = outputs[0];
  alloc(out);
  if (out.size() == 0) return;
  const char* pa = base(a);
  const char* pb = base(b);
  char* py = static_cast<char*>(out.raw_host_ptr());
  size_t isz = a.itemsize(), osz = out.itemsize();
  Dtype t = a.dtype();
  BinaryOp op = op_;
  bool same_a = a.shape() == out.shape(), same_b = b.shape() == out.shape();
  if ((same_a || a.size() == 1) && (same_b || b.size() == 1)) {
    int64_t sa = same_a ? 1 : 0, sb = same_b ? 1 : 0;
    cpu::parallel_for(out.size(), kGrain, [&](size_t s, size_t e) {
      cpu::binary_span(op, t, pa + s * sa * isz, sa, pb + s * sb * isz, sb, py + s * osz, e - s);
    });
    return;
  }
  cpu::StridedLoop<3> loop(out.shape(), {cpu::broadcast_strides(a.shape(), out.shape()),
                                         cpu::broadcast_strides(b.shape(), out.shape()),
                                         out.strides()});
  size_t rows = loop.rows();
  size_t grain = std::max<size_t>(1, kGrain / std::max(1, loop.shape.back()));
  cpu::parallel_for(rows, grain, [&](size_t r0, size_t r1) {
    loop.run(r0, r1, [&](const std::array<int64_t, 3>& off, int n,
                         const std::array<int64_t, 3>& st) {
      if ((st[0] == 0 || st[0] == 1) && (st[1] == 0 || st[1] == 1) && st[2] == 1) {
        cpu::binary_span(op, t, pa + off[0] * isz, st[0], pb + off[1] * isz, st[1],
                         py + off[2] * osz, n);
      } else {
        for (int i = 0; i < n; ++i)
          cpu::binary_span(op, t, pa + (off[0] + i * st[0]) * isz, 0,
                           pb + (off[1] + i * st[1]) * isz, 0, py + (off[2] + i * st[2]) * osz, 1);
      }
    });
  });
}

void Select::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &c = inputs[0], &a = inputs[1], &b = inputs[2];
  array& out = outputs[0];
  alloc(out);
  if (out.size() == 0) return;
  const char* pc = base(c);
  const char* pa = base(a);
  const char* pb = base(b);
  char* py = static_cast<char*>(out.raw_host_ptr());
  size_t sz = out.itemsize();
  Dtype t = out.dtype();
  cpu::StridedLoop<4> loop(out.shape(), {cpu::broadcast_strides(c.shape(), out.shape()),
                                         cpu::broadcast_strides(a.shape(), out.shape()),
                                         cpu::broadcast_strides(b.shape(), out.shape()),
                                         out.strides()});
  if (loop.shape.size() == 1) {  // one run (same shapes or scalars): split it
    const auto& st = loop.strides;
    cpu::parallel_for(out.size(), kGrain, [&](size_t b, size_t e) {
      cpu::select_span(t, reinterpret_cast<const uint8_t*>(pc) + b * st[0][0], st[0][0],
                       pa + b * st[1][0] * sz, st[1][0], pb + b * st[2][0] * sz, st[2][0],
                       py + b * st[3][0] * sz, e - b);
    });
    return;
  }
  size_t grain = std::max<size_t>(1, kGrain / std::max(1, loop.shape.back()));
  cpu::parallel_for(loop.rows(), grain, [&](size_t r0, size_t r1) {
    loop.run(r0, r1, [&](const std::array<int64_t, 4>& off, int n,
                         const std::array<int64_t, 4>& st) {
      cpu::select_span(t, reinterpret_cast<const uint8_t*>(pc) + off[0], st[0], pa + off[1] * sz,
                       st[1], pb + off[2] * sz, st[2], py + off[3] * sz, n);
    });
  });
}

void AsType::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  alloc(out);
  const char* x = base(in);
  char* y = static_cast<char*>(out.raw_host_ptr());
  size_t isz = in.itemsize(), osz = out.itemsize();
  Dtype from = in.dtype(), to = dtype_;
  cpu::parallel_for(out.size(), kGrain, [&](size_t b, size_t e) {
    cpu::astype_span(from, x + b * isz, to, y + b * osz, e - b);
  });
}

void StopGradient::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::share(inputs[0], outputs[0]);
}

void Arange::eval_cpu(const std::vector<array>&, std::vector<array>& outputs) {
  array& out = outputs[0];
  alloc(out);
  size_t n = out.size();
  double start = start_, step = step_;
  dispatch_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = static_cast<T*>(out.raw_host_ptr());
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < n; ++i) y[i] = (start + step * i) != 0;
    } else if constexpr (std::is_integral_v<T>) {
      for (size_t i = 0; i < n; ++i) y[i] = static_cast<T>(start + step * static_cast<double>(i));
    } else {
      for (size_t i = 0; i < n; ++i) y[i] = T(static_cast<float>(start + step * static_cast<double>(i)));
    }
  });
}

}  // namespace kiln
