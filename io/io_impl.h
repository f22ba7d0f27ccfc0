// Internals shared by the io/ formats: host copies of arrays, arrays built from file bytes,
// checked size arithmetic.
#pragma once
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../core/array.h"
#include "../core/errors.h"
#include "container.h"

namespace kiln::io_detail {

// Evaluates all arrays together (one GPU submission) so their host bytes can be read.
inline void eval_for_save(std::vector<array> arrays) {
  std::vector<array> todo;
  for (auto& a : arrays)
    if (!a.is_available()) todo.push_back(a);
  if (!todo.empty()) eval(todo);
}

// The row-major bytes of an evaluated array (copied back from the GPU if needed).
inline const uint8_t* host_bytes(array& a) {
  return a.nbytes() == 0 ? nullptr : static_cast<const uint8_t*>(a.raw_host_ptr());
}

// A host array of `shape`/`dtype` whose storage the caller fills (nbytes() bytes).
inline array make_host_array(const Shape& shape, Dtype dtype, uint8_t** out) {
  auto data = std::make_shared<Data>(detail::shape_size(shape) * static_cast<size_t>(dtype.size()));
  *out = static_cast<uint8_t*>(data->host());
  return array(shape, dtype, std::move(data));
}

// bool arrays hold exactly 0 or 1 per byte; any other byte from a file becomes 1.
inline void normalize_bools(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = p[i] != 0;
}

// a * b, or false on uint64 overflow.
inline bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Validates dims read from a file as a kiln Shape; returns the element count (at most 2^60,
// so count * itemsize cannot overflow) through `count`.
// Throws CheckpointError(prefix + ...) on a negative, too large or overflowing shape.
inline Shape checked_shape(const std::vector<int64_t>& dims, uint64_t* count,
                           const std::string& prefix) {
  if (dims.size() > 64)
    throw CheckpointError(prefix + " has " + std::to_string(dims.size()) +
                          " dimensions (at most 64 are supported)");
  Shape s;
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || d > INT_MAX)
      throw CheckpointError(prefix + " has an invalid dimension " + std::to_string(d));
    if (!mul_ok(n, static_cast<uint64_t>(d), &n) || n > (uint64_t{1} << 60))
      throw CheckpointError(prefix + " has a shape whose element count overflows");
    s.push_back(static_cast<int>(d));
  }
  *count = n;
  return s;
}

// Compares the named arrays of a file with a model's: names missing from the file (reported
// only when `strict`), names the model lacks (likewise), shapes, and (when `check_dtype`)
// dtypes. Returns "" when they match, else a message naming every offending parameter.
std::string describe_mismatch(const std::map<std::string, array>& file,
                              const std::map<std::string, array>& model, bool strict,
                              bool check_dtype);

// An in-memory image read like a FileSource (the decode_* entry points and the tests).
class MemSource {
 public:
  MemSource(const void* p, size_t n, std::string name)
      : p_(static_cast<const uint8_t*>(p)), n_(n), name_(std::move(name)) {}
  uint64_t size() const { return n_; }
  void read(uint64_t off, void* dst, size_t n, const char* what) const {
    if (off > n_ || n > n_ - off)
      throw CheckpointError("[load] '" + name_ + "' is truncated (" + what + ")");
    if (n) std::memcpy(dst, p_ + off, n);
  }

 private:
  const uint8_t* p_;
  size_t n_;
  std::string name_;
};

// Collects written bytes in memory.
class VecSink : public FileSink {
 public:
  void write(const void* d, size_t n) override {
    auto* p = static_cast<const uint8_t*>(d);
    out.insert(out.end(), p, p + n);
  }
  std::vector<uint8_t> out;
};

}  // namespace kiln::io_detail
