// Creation ops: zeros/ones/full, arange, linspace, eye, tri.
#include <cmath>

#include "ops_impl.h"

namespace kiln {

namespace {
void check_shape(const Shape& shape, const char* op) {
  for (int d : shape)
    if (d < 0)
      throw std::invalid_argument(std::string("[") + op + "] negative dimension in shape " +
                                  detail::shape_str(shape));
}
}  // namespace

array full(const Shape& shape, array vals, Dtype dtype, StreamOrDevice s) {
  check_shape(shape, "full");
  Shape b;
  try {
    b = broadcast_shapes(vals.shape(), shape);
  } catch (const std::invalid_argument&) {
  }
  if (b != shape)
    throw std::invalid_argument("[full] values of shape " + detail::shape_str(vals.shape()) +
                                " cannot be broadcast to " + detail::shape_str(shape));
  auto st = to_stream(s);
  return broadcast_to(astype(vals, dtype, st), shape, st);
}
array full(const Shape& shape, array vals, StreamOrDevice s) {
  Dtype d = vals.dtype();
  return full(shape, std::move(vals), d, s);
}
array zeros(const Shape& shape, Dtype dtype, StreamOrDevice s) {
  check_shape(shape, "zeros");
  return full(shape, array(0, dtype), dtype, s);
}
array ones(const Shape& shape, Dtype dtype, StreamOrDevice s) {
  check_shape(shape, "ones");
  return full(shape, array(1, dtype), dtype, s);
}
array zeros_like(const array& a, StreamOrDevice s) { return zeros(a.shape(), a.dtype(), s); }
array ones_like(const array& a, StreamOrDevice s) { return ones(a.shape(), a.dtype(), s); }
array full_like(const array& a, array vals, StreamOrDevice s) {
  return full(a.shape(), std::move(vals), a.dtype(), s);
}

array arange(double start, double stop, double step, Dtype dtype, StreamOrDevice s) {
  if (step == 0) throw std::invalid_argument("[arange] step cannot be 0");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw std::invalid_argument("[arange] start, stop and step must be finite");
  if (dtype == bool_) throw std::invalid_argument("[arange] bool dtype is not supported");
  double n = std::ceil((stop - start) / step);
  if (n > 2147483647.0)
    throw std::invalid_argument("[arange] the requested range has too many elements");
  int size = n > 0 ? static_cast<int>(n) : 0;
  auto st = to_stream(s);
  return detail::make({size}, dtype, std::make_shared<Arange>(st, start, step), {});
}
array arange(double start, double stop, double step, StreamOrDevice s) {
  return arange(start, stop, step, float32, s);
}
array arange(double stop, StreamOrDevice s) { return arange(0.0, stop, 1.0, float32, s); }
array arange(int start, int stop, int step, StreamOrDevice s) {
  return arange(static_cast<double>(start), static_cast<double>(stop), static_cast<double>(step),
                int32, s);
}
array arange(int stop, StreamOrDevice s) { return arange(0, stop, 1, s); }

array linspace(double start, double stop, int num, Dtype dtype, StreamOrDevice s) {
  if (num < 0)
    throw std::invalid_argument("[linspace] num must be non-negative, got " +
                                std::to_string(num));
  if (num == 1) return astype(array({static_cast<float>(start)}), dtype, s);
  double step = num > 1 ? (stop - start) / (num - 1) : 0.0;
  // start + i*step computed in float32, last value exactly stop
  array t = arange(0.0, static_cast<double>(num), 1.0, float32, s);
  array v = add(multiply(t, array(static_cast<float>(step)), s), array(static_cast<float>(start)),
                s);
  if (num > 1)
    v = where(equal(t, array(static_cast<float>(num - 1)), s), array(static_cast<float>(stop)), v,
              s);
  return astype(v, dtype, s);
}

array tri(int n, int m, int k, Dtype dtype, StreamOrDevice s) {
  if (m < 0) m = n;
  if (n < 0) throw std::invalid_argument("[tri] n must be non-negative");
  array r = reshape(arange(0, n, 1, s), {n, 1}, s);
  array c = reshape(arange(0, m, 1, s), {1, m}, s);
  return astype(greater_equal(add(r, array(k), s), c, s), dtype, s);
}

array eye(int n, int m, int k, Dtype dtype, StreamOrDevice s) {
  if (n < 0) throw std::invalid_argument("[eye] n must be non-negative, got " + std::to_string(n));
  if (m < 0) m = n;
  array r = reshape(arange(0, n, 1, s), {n, 1}, s);
  array c = reshape(arange(0, m, 1, s), {1, m}, s);
  return astype(equal(add(r, array(k), s), c, s), dtype, s);
}
array identity(int n, Dtype dtype, StreamOrDevice s) { return eye(n, n, 0, dtype, s); }

array tril(const array& x, int k, StreamOrDevice s) {
  if (x.ndim() < 2) throw std::invalid_argument("[tril] array must have at least 2 dimensions");
  array mask = tri(x.shape(-2), x.shape(-1), k, bool_, s);
  return where(mask, x, zeros_like(x, s), s);
}
array triu(const array& x, int k, StreamOrDevice s) {
  if (x.ndim() < 2) throw std::invalid_argument("[triu] array must have at least 2 dimensions");
  array mask = tri(x.shape(-2), x.shape(-1), k - 1, bool_, s);
  return where(mask, zeros_like(x, s), x, s);
}

}  // namespace kiln
