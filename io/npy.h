// .npy files (NumPy's format,
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): one array per file.
// Written as version 1.0, little-endian, C order. bfloat16 is written with descr '<V2' as MLX does.
// Reading accepts versions 1.0/2.0/3.0, either byte order and fortran_order, and converts the NumPy
// types kiln lacks losslessly where it can (int8, uint8, int16, uint16 → int32) and float64 →
// float32 (rounded). Failures throw kiln::CheckpointError.
#pragma once
#include <string>
#include <vector>

#include "../core/array.h"
#include "../core/errors.h"

namespace kiln {

// Writes `a` (evaluated, copied back from the GPU if needed) crash-safely to `path`.
void save_npy(const std::string& path, array a);
// Reads an .npy file; the array is created on the host.
array load_npy(const std::string& path);

// MLX's names for the same functions.
inline void save(const std::string& path, const array& a) { save_npy(path, a); }
inline array load(const std::string& path) { return load_npy(path); }

namespace detail {
std::vector<uint8_t> encode_npy(array a);
array decode_npy(const void* data, size_t n, const std::string& name);
}  // namespace detail

}  // namespace kiln
