// kiln::array — a cheap, copyable handle to a node of a lazily evaluated graph.
// Identity is the descriptor's address. Evaluated arrays are always row-contiguous.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "device.h"
#include "dtype.h"

namespace kiln {

using Shape = std::vector<int>;
using Strides = std::vector<int64_t>;

class Primitive;
class array;

// Device-side storage owned by a backend (gpu/ subclasses this).
struct DeviceBuffer {
  virtual ~DeviceBuffer() = default;
};

// The storage of an evaluated array. Host and device copies are both valid once made;
// arrays are immutable after evaluation so they never diverge.
struct Data {
  explicit Data(size_t nbytes);  // allocates host memory
  Data(size_t nbytes, std::shared_ptr<DeviceBuffer> dev);  // device-resident
  ~Data();
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;

  // Host pointer; copies back from the device (waiting for it) on first use.
  void* host();
  bool has_host() const { return host_ != nullptr; }
  size_t nbytes() const { return nbytes_; }

  std::shared_ptr<DeviceBuffer> device;  // set when a device copy exists

 private:
  // Scalars and tiny arrays live inside the Data (no separate allocation); larger ones in
  // 64-byte aligned heap memory.
  static constexpr size_t kInlineBytes = 16;
  void* allocate_host();
  size_t nbytes_;
  void* host_ = nullptr;
  alignas(16) unsigned char inline_[kInlineBytes];
};

// Freed host buffers of 64 KiB and more are kept for reuse (fresh pages fault on first
// touch). set_cache_limit returns the previous limit (default 1 GiB) and trims to the new one;
// clear_cache frees every cached buffer; get_cache_memory is the bytes held now.
size_t set_cache_limit(size_t limit);
void clear_cache();
size_t get_cache_memory();

namespace detail {
struct ArrayDesc;
struct Node;
}

class array {
 public:
  // An empty handle; using it (other than assigning to it) throws.
  array() = default;

  // Scalars: array(1.5f) is float32, array(3) int32, array(true) bool.
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T> ||
                                                    std::is_same_v<T, float16_t> ||
                                                    std::is_same_v<T, bfloat16_t>>>
  array(T val, Dtype dtype = dtype_of_v<T>);  // NOLINT: implicit, like MLX

  // 1-D from a list, or with a shape; `array({1, 2}, int32)` casts.
  template <typename T>
  array(std::initializer_list<T> data, Dtype dtype = dtype_of_v<T>);
  template <typename T>
  array(std::initializer_list<T> data, const Shape& shape, Dtype dtype = dtype_of_v<T>);
  template <typename T>
  array(const std::vector<T>& data, const Shape& shape, Dtype dtype = dtype_of_v<T>);
  // Copies shape-many elements of type T from `data`, converting to dtype.
  template <typename T>
  array(const T* data, const Shape& shape, Dtype dtype = dtype_of_v<T>);

  // --- queries ---
  const Shape& shape() const;
  int shape(int axis) const;  // negative axes count from the end
  int ndim() const;
  size_t size() const;
  size_t itemsize() const;
  size_t nbytes() const;
  Dtype dtype() const;
  Strides strides() const;  // row-major strides in elements

  // --- values (evaluate first) ---
  void eval();
  template <typename T>
  T item();  // converts from the stored dtype
  template <typename T>
  std::vector<T> to_vector();  // converts from the stored dtype
  template <typename T>
  T* data();  // T must be the host type of dtype()
  template <typename T>
  const T* data() const;

  bool valid() const { return desc_ != nullptr; }
  uintptr_t id() const { return reinterpret_cast<uintptr_t>(desc_.get()); }
  bool is_same(const array& o) const { return desc_ == o.desc_; }

  // ---- graph and backend interface (not for typical users) ----
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive,
        std::vector<array> inputs);
  // Builds the sibling outputs of one multi-output primitive.
  static std::vector<array> make_arrays(std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                                        const std::shared_ptr<Primitive>& primitive,
                                        const std::vector<array>& inputs);
  // An evaluated array over existing storage.
  array(Shape shape, Dtype dtype, std::shared_ptr<Data> data);
  // A data-less placeholder (compile traces).
  static array placeholder(Shape shape, Dtype dtype);

  bool has_primitive() const;
  Primitive& primitive() const;
  std::shared_ptr<Primitive> primitive_ptr() const;
  const std::vector<array>& inputs() const;
  std::vector<array>& inputs();
  std::vector<array> siblings() const;  // the other outputs of its primitive
  int sibling_position() const;
  std::vector<array> outputs() const;  // all outputs of its primitive, this one in place
  void outputs(std::vector<array>& out) const;  // the same into a reused vector (eval's loop)

  bool is_available() const;  // data present (or being computed on a device)
  bool is_placeholder() const;
  bool is_tracer() const;
  void set_tracer(bool t);
  const std::shared_ptr<Data>& data_shared() const;
  void set_data(std::shared_ptr<Data> d);
  void* raw_host_ptr();  // host pointer (may download)
  void detach();        // drop primitive and inputs (after evaluation)
  void set_primitive(std::shared_ptr<Primitive> p, std::vector<array> inputs);
  Device device() const;  // where its data is / will be produced

 private:
  void check() const;
  void init_from_host(const void* src, Dtype src_dtype, const Shape& shape, Dtype dtype);
  friend struct detail::Node;
  std::shared_ptr<detail::ArrayDesc> desc_;
};

std::ostream& operator<<(std::ostream& os, array a);

// Evaluate arrays (run their graphs). Tracers of a compile trace throw TraceError.
void eval(std::vector<array> outputs);
template <typename... Arrays>
void eval(Arrays&&... outputs) {
  eval(std::vector<array>{std::forward<Arrays>(outputs)...});
}
// Schedule evaluation; on the GPU returns before the device finishes.
void async_eval(std::vector<array> outputs);
template <typename... Arrays>
void async_eval(Arrays&&... outputs) {
  async_eval(std::vector<array>{std::forward<Arrays>(outputs)...});
}

namespace detail {

// One application of a primitive; its outputs point to it (weakly back).
struct Node {
  std::shared_ptr<Primitive> primitive;
  std::vector<array> inputs;
  size_t n_outputs = 1;
  // The outputs of a multi-output node, with their shapes and dtypes to recreate one the user
  // dropped; all empty for a single output (the array asking for its outputs is that output).
  std::vector<std::weak_ptr<ArrayDesc>> outputs;
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  ~Node();  // releases long input chains iteratively (no deep recursion)
};

struct ArrayDesc {
  Shape shape;
  Dtype dtype = float32;
  size_t size = 0;
  std::shared_ptr<Node> node;  // null once evaluated and detached
  int position = 0;
  std::shared_ptr<Data> data;
  bool tracer = false;
  bool placeholder = false;
  Device device = Device::cpu;
};

// Converts n elements between dtypes (host).
void convert(const void* src, Dtype src_dtype, void* dst, Dtype dst_dtype, size_t n);
size_t shape_size(const Shape& s);
std::string shape_str(const Shape& s);
// Called by eval when a tracer of a compile trace would be evaluated.
[[noreturn]] void throw_placeholder(const char* what);

}  // namespace detail

// ---------------- template definitions ----------------
namespace detail {
// Host element type a C++ value is staged as: double narrows to float (kiln has no float64,
// dtype_of<double> is float32) and bool goes through bytes (std::vector<bool> has no data()).
template <typename T>
using host_t = std::conditional_t<std::is_same_v<T, double>, float,
                                  std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>>;
}  // namespace detail

template <typename T, typename>
array::array(T val, Dtype dtype) {
  detail::host_t<T> v = static_cast<detail::host_t<T>>(val);
  init_from_host(&v, dtype_of_v<T>, Shape{}, dtype);
}
template <typename T>
array::array(std::initializer_list<T> data, Dtype dtype) {
  std::vector<detail::host_t<T>> v(data.begin(), data.end());
  init_from_host(v.data(), dtype_of_v<T>, Shape{static_cast<int>(v.size())}, dtype);
}
template <typename T>
array::array(std::initializer_list<T> data, const Shape& shape, Dtype dtype) {
  std::vector<detail::host_t<T>> v(data.begin(), data.end());
  if (v.size() != detail::shape_size(shape))
    throw std::invalid_argument("[array] " + std::to_string(v.size()) +
                                " values cannot fill shape " + detail::shape_str(shape));
  init_from_host(v.data(), dtype_of_v<T>, shape, dtype);
}
template <typename T>
array::array(const std::vector<T>& data, const Shape& shape, Dtype dtype) {
  if (data.size() != detail::shape_size(shape))
    throw std::invalid_argument("[array] " + std::to_string(data.size()) +
                                " values cannot fill shape " + detail::shape_str(shape));
  if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, double>) {
    std::vector<detail::host_t<T>> b(data.begin(), data.end());
    init_from_host(b.data(), dtype_of_v<T>, shape, dtype);
  } else {
    init_from_host(data.data(), dtype_of_v<T>, shape, dtype);
  }
}
template <typename T>
array::array(const T* data, const Shape& shape, Dtype dtype) {
  if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, double>) {
    std::vector<detail::host_t<T>> b(data, data + detail::shape_size(shape));
    init_from_host(b.data(), dtype_of_v<T>, shape, dtype);
  } else {
    init_from_host(data, dtype_of_v<T>, shape, dtype);
  }
}

template <typename T>
T array::item() {
  check();
  if (size() != 1)
    throw std::invalid_argument("[item] can only be called on arrays of size 1, got shape " +
                                detail::shape_str(shape()));
  eval();
  T out;
  if constexpr (std::is_same_v<T, bool>) {
    uint8_t b;
    detail::convert(raw_host_ptr(), dtype(), &b, bool_, 1);
    out = b != 0;
  } else if constexpr (std::is_same_v<T, double>) {
    float f;
    detail::convert(raw_host_ptr(), dtype(), &f, float32, 1);
    out = f;
  } else {
    detail::convert(raw_host_ptr(), dtype(), &out, dtype_of_v<T>, 1);
  }
  return out;
}

template <typename T>
std::vector<T> array::to_vector() {
  check();
  eval();
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> tmp(size());
    detail::convert(raw_host_ptr(), dtype(), tmp.data(), bool_, size());
    return std::vector<bool>(tmp.begin(), tmp.end());
  } else if constexpr (std::is_same_v<T, double>) {
    std::vector<float> tmp(size());
    detail::convert(raw_host_ptr(), dtype(), tmp.data(), float32, size());
    return std::vector<double>(tmp.begin(), tmp.end());
  } else {
    std::vector<T> out(size());
    detail::convert(raw_host_ptr(), dtype(), out.data(), dtype_of_v<T>, size());
    return out;
  }
}

template <typename T>
T* array::data() {
  check();
  if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, char> || std::is_same_v<T, void>) {
    // raw byte access is allowed for every dtype
  } else {
    if (dtype_of_v<T> != dtype() || (std::is_same_v<T, double>))
      throw std::invalid_argument("[array::data] requested " + to_string(dtype_of_v<T>) +
                                  " pointer of a " + to_string(dtype()) + " array");
  }
  eval();
  return static_cast<T*>(raw_host_ptr());
}
template <typename T>
const T* array::data() const {
  return const_cast<array*>(this)->data<T>();
}

}  // namespace kiln
