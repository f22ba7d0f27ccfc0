// NumPy-like printing: array([[1, 2],\n       [3, 4]], dtype=int32)
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

void print_rec(std::ostream& os, const char* base, Dtype d, const Shape& shape, int dim,
               size_t offset, size_t stride_elems, int indent) {
  if (dim == static_cast<int>(shape.size())) {
    os << fmt_value(base + offset * d.size(), d);
    return;
  }
  os << "[";
  size_t inner = stride_elems / std::max(shape[dim], 1);
  for (int i = 0; i < shape[dim]; ++i) {
    if (i) {
      os << ",";
      if (dim + 1 < static_cast<int>(shape.size())) {
        os << "\n";
        for (int k = 0; k < static_cast<int>(shape.size()) - dim - 2; ++k) os << "\n";
        for (int k = 0; k < indent + dim + 1; ++k) os << " ";
      } else {
        os << " ";
      }
    }
    print_rec(os, base, d, shape, dim + 1, offset + i * inner, inner, indent);
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
  print_rec(os, base, a.dtype(), a.shape(), 0, 0, a.size(), 6);
  os << ", dtype=" << a.dtype() << ")";
  return os;
}

}  // namespace kiln
