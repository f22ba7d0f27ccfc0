// safetensors (https://github.com/huggingface/safetensors): named arrays in the format that
// PyTorch, MLX and Hugging Face tools read. An 8-byte little-endian header length N, N bytes of
// JSON ({"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {string: string}}), then
// the tensors' bytes, contiguous and in offset order. Supported dtypes: F32, F16, BF16, I32,
// U32, I64, BOOL. Loading validates the header (a small hardened parser of our own), every
// shape and offset against the file before allocating, and throws kiln::CheckpointError.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../core/array.h"
#include "../core/errors.h"

namespace kiln {

// Arrays and string metadata of a safetensors file (MLX's SafetensorsLoad).
using SafetensorsLoad = std::pair<std::map<std::string, array>, std::map<std::string, std::string>>;

// Writes arrays (evaluated, copied back from the GPU if needed) crash-safely. Names must be
// valid UTF-8 and not "__metadata__".
void save_safetensors(const std::string& path, const std::map<std::string, array>& arrays,
                      const std::map<std::string, std::string>& metadata = {});
// Reads a safetensors file; the arrays are created on the host.
SafetensorsLoad load_safetensors(const std::string& path);

namespace detail {
// The whole file image of save_safetensors, and load_safetensors on an image in memory.
std::vector<uint8_t> encode_safetensors(const std::map<std::string, array>& arrays,
                                        const std::map<std::string, std::string>& metadata = {});
SafetensorsLoad decode_safetensors(const void* data, size_t n, const std::string& name);
}  // namespace detail

}  // namespace kiln
