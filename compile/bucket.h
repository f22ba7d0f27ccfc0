// The seeds' pad-to-bucket pattern: pad a varying length up to one of a few fixed sizes so a
// compiled function (and the custom kernels in it) sees only those shapes and traces at most
// once per bucket.
#pragma once
#include <utility>
#include <vector>

#include "../core/array.h"

namespace kiln {

// The smallest of `sizes` that is >= n (sizes need not be sorted); throws
// std::invalid_argument when n exceeds every size.
int bucket_size(int n, const std::vector<int>& sizes);

// Pads x with zeros at the end of `axis` (negative counts from the end) up to the next bucket
// size; returns (padded, original length). x itself is returned when it already has a bucket
// length. Slice the result back with slice(out, 0, original length) along the same axis.
std::pair<array, int> bucket_pad(const array& x, int axis, const std::vector<int>& sizes,
                                 StreamOrDevice s = {});

}  // namespace kiln
