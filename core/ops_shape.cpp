// Shape ops: reshape, transpose, broadcast, concatenate, slicing, padding, tiling.
#include <algorithm>
#include <numeric>

#include "ops_impl.h"

namespace kiln {

using detail::make;
using detail::normalize_axis;
using detail::shape_str;

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument("[broadcast_shapes] shapes " + shape_str(a) + " and " +
                                  shape_str(b) + " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

array reshape(const array& a, Shape shape, StreamOrDevice s) {
  int infer = -1;
  size_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0)
        throw std::invalid_argument("[reshape] at most one dimension can be -1, got " +
                                    shape_str(shape));
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("[reshape] invalid dimension in shape " + shape_str(shape));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known != 0)
      throw std::invalid_argument("[reshape] cannot reshape array of shape " +
                                  shape_str(a.shape()) + " into " + shape_str(shape));
    shape[infer] = static_cast<int>(a.size() / known);
    known *= shape[infer];
  }
  if (known != a.size())
    throw std::invalid_argument("[reshape] cannot reshape array of shape " +
                                shape_str(a.shape()) + " into " + shape_str(shape));
  if (shape == a.shape()) return a;
  auto st = to_stream(s);
  Shape out = shape;
  return make(out, a.dtype(), std::make_shared<Reshape>(st, std::move(shape)), {a});
}

array flatten(const array& a, int start_axis, int end_axis, StreamOrDevice s) {
  int nd = a.ndim();
  if (nd == 0) return reshape(a, {1}, s);
  int st_ax = normalize_axis(start_axis, nd, "flatten");
  int en_ax = normalize_axis(end_axis, nd, "flatten");
  if (st_ax > en_ax)
    throw std::invalid_argument("[flatten] start_axis " + std::to_string(start_axis) +
                                " must not come after end_axis " + std::to_string(end_axis));
  if (st_ax == en_ax) return a;
  Shape out = Flatten::output_shape(a.shape(), st_ax, en_ax);
  return make(out, a.dtype(), std::make_shared<Flatten>(to_stream(s), st_ax, en_ax), {a});
}

array transpose(const array& a, std::vector<int> axes, StreamOrDevice s) {
  int nd = a.ndim();
  if (static_cast<int>(axes.size()) != nd)
    throw std::invalid_argument("[transpose] axes of size " + std::to_string(axes.size()) +
                                " do not match an array with " + std::to_string(nd) +
                                " dimensions");
  std::vector<int> seen(nd, 0);
  for (auto& ax : axes) {
    ax = normalize_axis(ax, nd, "transpose");
    if (seen[ax]++)
      throw std::invalid_argument("[transpose] repeated axis " + std::to_string(ax));
  }
  bool ident = true;
  for (int i = 0; i < nd; ++i) ident = ident && axes[i] == i;
  if (ident) return a;
  Shape out;
  for (int ax : axes) out.push_back(a.shape()[ax]);
  return make(out, a.dtype(), std::make_shared<Transpose>(to_stream(s), std::move(axes)), {a});
}
array transpose(const array& a, StreamOrDevice s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, axes, s);
}
array swapaxes(const array& a, int axis1, int axis2, StreamOrDevice s) {
  int nd = a.ndim();
  int a1 = normalize_axis(axis1, nd, "swapaxes"), a2 = normalize_axis(axis2, nd, "swapaxes");
  std::vector<int> axes(nd);
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[a1], axes[a2]);
  return transpose(a, axes, s);
}
array moveaxis(const array& a, int source, int destination, StreamOrDevice s) {
  int nd = a.ndim();
  int src = normalize_axis(source, nd, "moveaxis");
  int dst = normalize_axis(destination, nd, "moveaxis");
  std::vector<int> axes;
  for (int i = 0; i < nd; ++i)
    if (i != src) axes.push_back(i);
  axes.insert(axes.begin() + dst, src);
  return transpose(a, axes, s);
}

array expand_dims(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  int out_nd = a.ndim() + static_cast<int>(axes.size());
  auto ax = detail::normalize_axes(axes, out_nd, "expand_dims");
  Shape out;
  size_t j = 0, k = 0;
  for (int i = 0; i < out_nd; ++i) {
    if (k < ax.size() && ax[k] == i) {
      out.push_back(1);
      ++k;
    } else {
      out.push_back(a.shape()[j++]);
    }
  }
  return reshape(a, out, s);
}
array expand_dims(const array& a, int axis, StreamOrDevice s) {
  return expand_dims(a, std::vector<int>{axis}, s);
}

array squeeze(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  auto ax = detail::normalize_axes(axes, a.ndim(), "squeeze");
  Shape out;
  size_t k = 0;
  for (int i = 0; i < a.ndim(); ++i) {
    if (k < ax.size() && ax[k] == i) {
      if (a.shape()[i] != 1)
        throw std::invalid_argument("[squeeze] cannot squeeze axis " + std::to_string(i) +
                                    " of size " + std::to_string(a.shape()[i]) +
                                    " in array of shape " + shape_str(a.shape()));
      ++k;
    } else {
      out.push_back(a.shape()[i]);
    }
  }
  return reshape(a, out, s);
}
array squeeze(const array& a, int axis, StreamOrDevice s) {
  return squeeze(a, std::vector<int>{axis}, s);
}
array squeeze(const array& a, StreamOrDevice s) {
  std::vector<int> axes;
  for (int i = 0; i < a.ndim(); ++i)
    if (a.shape()[i] == 1) axes.push_back(i);
  return squeeze(a, axes, s);
}

array broadcast_to(const array& a, const Shape& shape, StreamOrDevice s) {
  for (int d : shape)
    if (d < 0) throw std::invalid_argument("[broadcast_to] negative dimension in " + shape_str(shape));
  Shape b;
  try {
    b = broadcast_shapes(a.shape(), shape);
  } catch (const std::invalid_argument&) {
    b.clear();
  }
  if (b != shape)
    throw std::invalid_argument("[broadcast_to] cannot broadcast array of shape " +
                                shape_str(a.shape()) + " to " + shape_str(shape));
  if (a.shape() == shape) return a;
  return make(shape, a.dtype(), std::make_shared<Broadcast>(to_stream(s), shape), {a});
}

std::vector<array> broadcast_arrays(const std::vector<array>& inputs, StreamOrDevice s) {
  Shape sh;
  for (auto& a : inputs) {
    try {
      sh = broadcast_shapes(sh, a.shape());
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument("[broadcast_arrays] shape " + shape_str(a.shape()) +
                                  " cannot be broadcast with " + shape_str(sh));
    }
  }
  std::vector<array> out;
  for (auto& a : inputs) out.push_back(broadcast_to(a, sh, s));
  return out;
}

array concatenate(const std::vector<array>& arrays, int axis, StreamOrDevice s) {
  if (arrays.empty()) throw std::invalid_argument("[concatenate] no arrays to concatenate");
  int nd = arrays[0].ndim();
  if (nd == 0) throw std::invalid_argument("[concatenate] zero-dimensional arrays cannot be concatenated");
  int ax = normalize_axis(axis, nd, "concatenate");
  Dtype t = arrays[0].dtype();
  Shape out = arrays[0].shape();
  out[ax] = 0;
  for (auto& a : arrays) {
    bool ok = a.ndim() == nd;
    for (int i = 0; ok && i < nd; ++i) ok = i == ax || a.shape()[i] == arrays[0].shape()[i];
    if (!ok)
      throw std::invalid_argument("[concatenate] all arrays must have the same shape except on "
                                  "axis " + std::to_string(ax) + ", got " +
                                  shape_str(arrays[0].shape()) + " and " + shape_str(a.shape()));
    out[ax] += a.shape()[ax];
    t = promote_types(t, a.dtype());
  }
  if (arrays.size() == 1) return astype(arrays[0], t, s);
  auto st = to_stream(s);
  std::vector<array> ins;
  for (auto& a : arrays) ins.push_back(astype(a, t, st));
  return make(out, t, std::make_shared<Concatenate>(st, ax), std::move(ins));
}

array stack(const std::vector<array>& arrays, int axis, StreamOrDevice s) {
  if (arrays.empty()) throw std::invalid_argument("[stack] no arrays to stack");
  for (auto& a : arrays)
    if (a.shape() != arrays[0].shape())
      throw std::invalid_argument("[stack] all arrays must have the same shape, got " +
                                  shape_str(arrays[0].shape()) + " and " + shape_str(a.shape()));
  int ax = normalize_axis(axis, arrays[0].ndim() + 1, "stack");
  std::vector<array> ex;
  for (auto& a : arrays) ex.push_back(expand_dims(a, ax, s));
  return concatenate(ex, ax, s);
}

std::vector<array> split(const array& a, const std::vector<int>& indices, int axis,
                         StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "split");
  // NumPy: piece k is a[indices[k-1]:indices[k]] with Python slice rules (so decreasing
  // indices give empty pieces and the next piece starts at the smaller index)
  int n = a.shape()[ax];
  std::vector<array> out;
  int prev = 0;
  std::vector<int> idx = indices;
  idx.push_back(n);
  for (int i : idx) {
    Shape start(a.ndim(), 0), end = a.shape();
    start[ax] = prev;
    end[ax] = i;
    out.push_back(slice(a, start, end, s));
    prev = i;
  }
  return out;
}
std::vector<array> split(const array& a, int num_splits, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "split");
  if (num_splits <= 0 || a.shape()[ax] % num_splits != 0)
    throw std::invalid_argument("[split] array of shape " + shape_str(a.shape()) +
                                " cannot be split into " + std::to_string(num_splits) +
                                " equal parts along axis " + std::to_string(ax));
  int step = a.shape()[ax] / num_splits;
  std::vector<int> idx;
  for (int i = 1; i < num_splits; ++i) idx.push_back(i * step);
  return split(a, idx, ax, s);
}

namespace {
// Python slice normalisation; returns the output length along the axis.
int normalize_slice(int dim, int& start, int& stop, int stride, const char* op) {
  if (stride == 0) throw std::invalid_argument(std::string("[") + op + "] stride cannot be 0");
  if (stride > 0) {
    if (start < 0) start += dim;
    if (stop < 0) stop += dim;
    start = std::clamp(start, 0, dim);
    stop = std::clamp(stop, 0, dim);
    return stop > start ? (stop - start + stride - 1) / stride : 0;
  }
  if (start < 0) start += dim;
  if (stop < -dim) stop = -1;  // to the beginning
  else if (stop < 0) stop += dim;
  start = std::clamp(start, -1, dim - 1);
  stop = std::clamp(stop, -1, dim - 1);
  int len = start > stop ? (start - stop - stride - 1) / (-stride) : 0;
  // keep the stored values a fixed point of this normalisation ("before index 0" is -dim-1)
  if (len == 0) start = stop = -dim - 1;
  else if (stop == -1) stop = -dim - 1;
  return len;
}

Shape check_slice(const array& a, Shape& start, Shape& stop, Shape& strides, const char* op) {
  int nd = a.ndim();
  if (static_cast<int>(start.size()) != nd || static_cast<int>(stop.size()) != nd ||
      static_cast<int>(strides.size()) != nd)
    throw std::invalid_argument(std::string("[") + op + "] start, stop and strides must have one "
                                "entry per dimension of the array of shape " +
                                shape_str(a.shape()));
  Shape out(nd);
  for (int i = 0; i < nd; ++i) out[i] = normalize_slice(a.shape()[i], start[i], stop[i], strides[i], op);
  return out;
}
}  // namespace

array slice(const array& a, Shape start, Shape stop, Shape strides, StreamOrDevice s) {
  Shape out = check_slice(a, start, stop, strides, "slice");
  if (out == a.shape()) {
    bool ident = true;
    for (int i = 0; i < a.ndim(); ++i) ident = ident && strides[i] == 1;
    if (ident) return a;
  }
  return make(out, a.dtype(),
              std::make_shared<Slice>(to_stream(s), std::move(start), std::move(stop),
                                      std::move(strides)),
              {a});
}
array slice(const array& a, Shape start, Shape stop, StreamOrDevice s) {
  return slice(a, std::move(start), std::move(stop), Shape(a.ndim(), 1), s);
}

array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                   StreamOrDevice s) {
  Shape out = check_slice(src, start, stop, strides, "slice_update");
  Shape b;
  try {
    b = broadcast_shapes(update.shape(), out);
  } catch (const std::invalid_argument&) {
  }
  if (b != out)
    throw std::invalid_argument("[slice_update] update of shape " + shape_str(update.shape()) +
                                " does not fit the slice of shape " + shape_str(out));
  auto st = to_stream(s);
  array upd = broadcast_to(astype(update, src.dtype(), st), out, st);
  return make(src.shape(), src.dtype(),
              std::make_shared<SliceUpdate>(st, std::move(start), std::move(stop),
                                            std::move(strides)),
              {src, upd});
}
array slice_update(const array& src, const array& update, Shape start, Shape stop,
                   StreamOrDevice s) {
  return slice_update(src, update, std::move(start), std::move(stop), Shape(src.ndim(), 1), s);
}

array pad(const array& a, const std::vector<int>& axes, const Shape& low_pad,
          const Shape& high_pad, const array& pad_value, StreamOrDevice s) {
  if (axes.size() != low_pad.size() || axes.size() != high_pad.size())
    throw std::invalid_argument("[pad] axes, low_pad and high_pad must have the same length");
  if (pad_value.size() != 1)
    throw std::invalid_argument("[pad] pad_value must be a scalar, got shape " +
                                shape_str(pad_value.shape()));
  Shape out = a.shape();
  Shape start(a.ndim(), 0);
  auto ax = axes;
  for (size_t i = 0; i < axes.size(); ++i) {
    ax[i] = normalize_axis(axes[i], a.ndim(), "pad");
    if (low_pad[i] < 0 || high_pad[i] < 0)
      throw std::invalid_argument("[pad] negative padding is not supported");
    out[ax[i]] += low_pad[i] + high_pad[i];
    start[ax[i]] = low_pad[i];
  }
  Shape stop = start;
  for (int i = 0; i < a.ndim(); ++i) stop[i] += a.shape()[i];
  array base = full(out, astype(reshape(pad_value, {}, s), a.dtype(), s), a.dtype(), s);
  return slice_update(base, a, start, stop, s);
}
array pad(const array& a, const std::vector<std::pair<int, int>>& pad_width,
          const array& pad_value, StreamOrDevice s) {
  std::vector<int> axes;
  Shape lo, hi;
  if (pad_width.size() == 1) {
    for (int i = 0; i < a.ndim(); ++i) {
      axes.push_back(i);
      lo.push_back(pad_width[0].first);
      hi.push_back(pad_width[0].second);
    }
  } else {
    if (static_cast<int>(pad_width.size()) != a.ndim())
      throw std::invalid_argument("[pad] pad_width has " + std::to_string(pad_width.size()) +
                                  " entries for an array with " + std::to_string(a.ndim()) +
                                  " dimensions");
    for (int i = 0; i < a.ndim(); ++i) {
      axes.push_back(i);
      lo.push_back(pad_width[i].first);
      hi.push_back(pad_width[i].second);
    }
  }
  return pad(a, axes, lo, hi, pad_value, s);
}

array tile(const array& a, std::vector<int> reps, StreamOrDevice s) {
  for (int r : reps)
    if (r < 0) throw std::invalid_argument("[tile] repetitions must be non-negative");
  int nd = std::max(a.ndim(), static_cast<int>(reps.size()));
  while (static_cast<int>(reps.size()) < nd) reps.insert(reps.begin(), 1);
  Shape sh = a.shape();
  while (static_cast<int>(sh.size()) < nd) sh.insert(sh.begin(), 1);
  // reshape to (1, d0, 1, d1, ...), broadcast to (r0, d0, r1, d1, ...), reshape
  Shape ex, bc, out;
  for (int i = 0; i < nd; ++i) {
    ex.push_back(1);
    ex.push_back(sh[i]);
    bc.push_back(reps[i]);
    bc.push_back(sh[i]);
    out.push_back(reps[i] * sh[i]);
  }
  return reshape(broadcast_to(reshape(a, ex, s), bc, s), out, s);
}

array repeat(const array& a, int repeats, int axis, StreamOrDevice s) {
  if (repeats < 0) throw std::invalid_argument("[repeat] repeats must be non-negative");
  int ax = normalize_axis(axis, a.ndim(), "repeat");
  Shape ex = a.shape();
  ex.insert(ex.begin() + ax + 1, 1);
  Shape bc = ex;
  bc[ax + 1] = repeats;
  Shape out = a.shape();
  out[ax] *= repeats;
  return reshape(broadcast_to(reshape(a, ex, s), bc, s), out, s);
}
array repeat(const array& a, int repeats, StreamOrDevice s) {
  return repeat(flatten(a, 0, -1, s), repeats, 0, s);
}

array flip(const array& a, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "flip");
  Shape start(a.ndim(), 0), stop = a.shape(), strides(a.ndim(), 1);
  start[ax] = a.shape()[ax] - 1;
  stop[ax] = -a.shape()[ax] - 1;
  strides[ax] = -1;
  return slice(a, start, stop, strides, s);
}
array flip(const array& a, StreamOrDevice s) {
  array out = a;
  for (int i = 0; i < a.ndim(); ++i) out = flip(out, i, s);
  return out;
}

}  // namespace kiln
