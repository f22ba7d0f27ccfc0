// MLX-like printing: array([[1, 2],\n       [3, 4]], dtype=int32)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "array.h"
#include "errors.h"

namespace kiln {

namespace {
std::string fmt_value(const void* p, Dtype d) {
  char buf[64];
  switch (d.val()) {
    case Dtype::Val::bool_: return *static_cast<const uint8_t*>(p) ? "true" : "false";
    case Dtype::Val::uint32: return std::to_string(*static_cast<const uint32_t*>(p));
    case Dtype::Val::int32: return std::to_string(*static_cast<const int32_t*>(p));
    case Dtype::Val::int64: return std::to_string(*static_cast<const int64_t*>(p));
    default: {
      float f;
      detail::convert(p, d, &f, float32, 1);
      if (std::isnan(f)) return "nan";
      if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
      std::snprintf(buf, sizeof(buf), "%g", f);
      return buf;
    }
  }
}

// MLX's layout: rows of a non-last axis on their own lines indented to the bracket, no blank
// lines; an axis longer than 6 shows its first and last 3 entries around "...".
void print_rec(std::ostream& os, const char* base, Dtype d, const Shape& shape, int dim,
               size_t offset, size_t block) {
  int nd = static_cast<int>(shape.size());
  if (dim == nd) {
    os << fmt_value(base + offset * d.size(), d);
    return;
  }
  constexpr int kEdge = 3;
  int n = shape[dim];
  size_t inner = block / std::max(n, 1);
  bool last = dim == nd - 1;
  os << "[";
  for (int i = 0; i < n; ++i) {
    if (i) {
      os << (last ? ", " : ",\n");
      if (!last) os << std::string(7 + dim, ' ');
    }
    if (i == kEdge && n > 2 * kEdge) {
      os << "...";
      i = n - kEdge - 1;
      continue;
    }
    print_rec(os, base, d, shape, dim + 1, offset + i * inner, inner);
  }
  os << "]";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, array a) {
  if (!a.valid()) return os << "array(<empty handle>)";
  if (a.is_placeholder()) detail::throw_placeholder("print");
  a.eval();
  const char* base = static_cast<const char*>(a.raw_host_ptr());
  os << "array(";
  print_rec(os, base, a.dtype(), a.shape(), 0, 0, a.size());
  os << ", dtype=" << a.dtype() << ")";
  return os;
}

}  // namespace kiln
