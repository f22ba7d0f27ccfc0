// Indexing ops: take, take_along_axis, put_along_axis, scatter_add.
#include "ops_impl.h"

namespace kiln {

using detail::make;
using detail::normalize_axis;
using detail::shape_str;

namespace {
void check_indices(const array& idx, const char* op) {
  if (!is_integral(idx.dtype()))
    throw std::invalid_argument(std::string("[") + op + "] indices must be integers, got " +
                                to_string(idx.dtype()));
}
}  // namespace

array take(const array& a, const array& indices, int axis, StreamOrDevice s) {
  check_indices(indices, "take");
  if (a.ndim() == 0) throw std::invalid_argument("[take] cannot index a zero-dimensional array");
  int ax = normalize_axis(axis, a.ndim(), "take");
  if (a.shape()[ax] == 0 && indices.size() > 0)
    throw std::invalid_argument("[take] cannot take from an empty axis of shape " +
                                shape_str(a.shape()));
  Shape out(a.shape().begin(), a.shape().begin() + ax);
  out.insert(out.end(), indices.shape().begin(), indices.shape().end());
  out.insert(out.end(), a.shape().begin() + ax + 1, a.shape().end());
  return make(out, a.dtype(), std::make_shared<Gather>(to_stream(s), ax), {a, indices});
}
array take(const array& a, const array& indices, StreamOrDevice s) {
  return take(flatten(a, 0, -1, s), indices, 0, s);
}
array take(const array& a, int index, int axis, StreamOrDevice s) {
  return take(a, array(index), axis, s);
}

namespace {
// Broadcasts indices against a on every axis but `ax`.
array align_indices(const array& a, const array& indices, int ax, const char* op) {
  if (indices.ndim() != a.ndim())
    throw std::invalid_argument(std::string("[") + op + "] indices of shape " +
                                shape_str(indices.shape()) + " must have the same number of "
                                "dimensions as the array of shape " + shape_str(a.shape()));
  Shape target = a.shape();
  target[ax] = indices.shape()[ax];
  Shape b;
  try {
    b = broadcast_shapes(indices.shape(), target);
  } catch (const std::invalid_argument&) {
  }
  if (b != target)
    throw std::invalid_argument(std::string("[") + op + "] indices of shape " +
                                shape_str(indices.shape()) + " cannot be broadcast against " +
                                shape_str(a.shape()) + " outside axis " + std::to_string(ax));
  return broadcast_to(indices, target);
}
}  // namespace

array take_along_axis(const array& a, const array& indices, int axis, StreamOrDevice s) {
  check_indices(indices, "take_along_axis");
  int ax = normalize_axis(axis, a.ndim(), "take_along_axis");
  array idx = align_indices(a, indices, ax, "take_along_axis");
  return make(idx.shape(), a.dtype(), std::make_shared<GatherAxis>(to_stream(s), ax), {a, idx});
}

namespace {
array scatter_axis(const array& a, const array& indices, const array& values, int axis, bool add,
                   StreamOrDevice s, const char* op) {
  check_indices(indices, op);
  int ax = normalize_axis(axis, a.ndim(), op);
  array idx = align_indices(a, indices, ax, op);
  Shape vb;
  try {
    vb = broadcast_shapes(values.shape(), idx.shape());
  } catch (const std::invalid_argument&) {
  }
  if (vb != idx.shape())
    throw std::invalid_argument(std::string("[") + op + "] values of shape " +
                                shape_str(values.shape()) + " cannot be broadcast to the indices' "
                                "shape " + shape_str(idx.shape()));
  array v = broadcast_to(astype(values, a.dtype(), s), idx.shape(), s);
  return make(a.shape(), a.dtype(), std::make_shared<ScatterAxis>(to_stream(s), ax, add),
              {a, idx, v});
}
}  // namespace

array put_along_axis(const array& a, const array& indices, const array& values, int axis,
                     StreamOrDevice s) {
  return scatter_axis(a, indices, values, axis, false, s, "put_along_axis");
}
array scatter_add_along_axis(const array& a, const array& indices, const array& values, int axis,
                             StreamOrDevice s) {
  return scatter_axis(a, indices, values, axis, true, s, "scatter_add_along_axis");
}

array scatter_add(const array& a, const array& indices, const array& updates, int axis,
                  StreamOrDevice s) {
  check_indices(indices, "scatter_add");
  if (a.ndim() == 0)
    throw std::invalid_argument("[scatter_add] cannot scatter into a zero-dimensional array");
  int ax = normalize_axis(axis, a.ndim(), "scatter_add");
  Shape expect(a.shape().begin(), a.shape().begin() + ax);
  expect.insert(expect.end(), indices.shape().begin(), indices.shape().end());
  expect.insert(expect.end(), a.shape().begin() + ax + 1, a.shape().end());
  Shape b;
  try {
    b = broadcast_shapes(updates.shape(), expect);
  } catch (const std::invalid_argument&) {
  }
  if (b != expect)
    throw std::invalid_argument("[scatter_add] updates of shape " + shape_str(updates.shape()) +
                                " must broadcast to " + shape_str(expect) +
                                " (the shape of take(a, indices, axis))");
  auto st = to_stream(s);
  array u = broadcast_to(astype(updates, a.dtype(), st), expect, st);
  return make(a.shape(), a.dtype(), std::make_shared<ScatterAdd>(st, ax), {a, indices, u});
}

}  // namespace kiln
