#include "bucket.h"

#include <algorithm>
#include <string>

#include "../core/ops.h"

namespace kiln {

namespace {
std::string list_str(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
}  // namespace

int bucket_size(int n, const std::vector<int>& sizes) {
  if (sizes.empty()) throw std::invalid_argument("[bucket_pad] the list of bucket sizes is empty");
  int best = -1, largest = 0;
  for (int s : sizes) {
    if (s <= 0)
      throw std::invalid_argument("[bucket_pad] bucket sizes must be positive, got " +
                                  list_str(sizes));
    largest = std::max(largest, s);
    if (s >= n && (best < 0 || s < best)) best = s;
  }
  if (best < 0)
    throw std::invalid_argument("[bucket_pad] length " + std::to_string(n) +
                                " is larger than the largest bucket " + std::to_string(largest) +
                                " of " + list_str(sizes));
  return best;
}

std::pair<array, int> bucket_pad(const array& x, int axis, const std::vector<int>& sizes,
                                 StreamOrDevice s) {
  if (!x.valid()) throw std::invalid_argument("[bucket_pad] empty array handle");
  int nd = x.ndim();
  if (axis < -nd || axis >= nd)
    throw std::invalid_argument("[bucket_pad] axis " + std::to_string(axis) +
                                " is out of range for an array of shape " +
                                detail::shape_str(x.shape()));
  if (axis < 0) axis += nd;
  int n = x.shape(axis);
  int target = bucket_size(n, sizes);
  if (target == n) return {x, n};
  return {pad(x, {axis}, {0}, {target - n}, array(0), s), n};
}

}  // namespace kiln
