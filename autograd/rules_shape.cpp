// Derivative rules of creation and movement primitives: Arange, Broadcast, Reshape, Flatten,
// Transpose, Slice, SliceUpdate, Concatenate. Each vjp is the adjoint movement (sum over
// broadcast axes, inverse permutation, scatter of a slice into zeros); each jvp applies the
// same movement to the tangent.
#include "rules_util.h"

namespace kiln {

using autograd_detail::sum_to;
using autograd_detail::tangent_or_zeros;

// Arange has no inputs: nothing to differentiate.
std::vector<array> Arange::vjp(const std::vector<array>&, const std::vector<array>&,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  return {};
}
std::vector<array> Arange::jvp(const std::vector<array>&, const std::vector<array>&,
                               const std::vector<int>&) {
  throw std::logic_error("[jvp] Arange has no inputs to differentiate");
}

std::vector<array> Broadcast::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  return {sum_to(cotangents[0], primals[0].shape(), stream())};
}
std::vector<array> Broadcast::jvp(const std::vector<array>& primals,
                                  const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) {
  return {broadcast_to(tangents[0], shape_, stream())};
}

std::vector<array> Reshape::vjp(const std::vector<array>& primals,
                                const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  return {reshape(cotangents[0], primals[0].shape(), stream())};
}
std::vector<array> Reshape::jvp(const std::vector<array>& primals,
                                const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  return {reshape(tangents[0], shape_, stream())};
}

std::vector<array> Flatten::vjp(const std::vector<array>& primals,
                                const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  return {reshape(cotangents[0], primals[0].shape(), stream())};
}
std::vector<array> Flatten::jvp(const std::vector<array>& primals,
                                const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  return {flatten(tangents[0], start_, end_, stream())};
}

std::vector<array> Transpose::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<int> inverse(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inverse[axes_[i]] = static_cast<int>(i);
  return {transpose(cotangents[0], inverse, stream())};
}
std::vector<array> Transpose::jvp(const std::vector<array>& primals,
                                  const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) {
  return {transpose(tangents[0], axes_, stream())};
}

// The cotangent of a slice is zero outside it: scatter it into zeros.
std::vector<array> Slice::vjp(const std::vector<array>& primals,
                              const std::vector<array>& cotangents, const std::vector<int>& argnums,
                              const std::vector<array>&) {
  return {slice_update(zeros_like(primals[0], stream()), cotangents[0], start_, stop_, strides_,
                       stream())};
}
std::vector<array> Slice::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums) {
  return {slice(tangents[0], start_, stop_, strides_, stream())};
}

// inputs (src, update): src's cotangent is zero where update overwrote it.
std::vector<array> SliceUpdate::vjp(const std::vector<array>& primals,
                                    const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& g = cotangents[0];
  std::vector<array> res;
  for (int arg : argnums) {
    if (arg == 0)
      res.push_back(
          slice_update(g, zeros_like(primals[1], stream()), start_, stop_, strides_, stream()));
    else
      res.push_back(slice(g, start_, stop_, strides_, stream()));
  }
  return res;
}
std::vector<array> SliceUpdate::jvp(const std::vector<array>& primals,
                                    const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  array ts = tangent_or_zeros(primals, tangents, argnums, 0, stream());
  array tu = tangent_or_zeros(primals, tangents, argnums, 1, stream());
  return {slice_update(ts, tu, start_, stop_, strides_, stream())};
}

std::vector<array> Concatenate::vjp(const std::vector<array>& primals,
                                    const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& g = cotangents[0];
  std::vector<int> offsets(primals.size() + 1, 0);
  for (size_t i = 0; i < primals.size(); ++i) offsets[i + 1] = offsets[i] + primals[i].shape(axis_);
  std::vector<array> res;
  for (int arg : argnums) {
    Shape start(g.ndim(), 0), stop = g.shape();
    start[axis_] = offsets[arg];
    stop[axis_] = offsets[arg + 1];
    res.push_back(slice(g, start, stop, stream()));
  }
  return res;
}
std::vector<array> Concatenate::jvp(const std::vector<array>& primals,
                                    const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  std::vector<array> ts;
  for (size_t i = 0; i < primals.size(); ++i)
    ts.push_back(tangent_or_zeros(primals, tangents, argnums, static_cast<int>(i), stream()));
  return {concatenate(ts, axis_, stream())};
}

}  // namespace kiln
