#include "array.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>

#include "backend.h"
#include "errors.h"
#include "primitives.h"

namespace kiln {

namespace {
// Large host buffers are recycled through size-class free lists: a fresh multi-megabyte
// buffer from malloc is a fresh mmap whose first touch page-faults, which costs more than
// the elementwise op writing it. Classes are 4 per power of two (at most 25% slack).
constexpr size_t kCacheMinBytes = size_t(1) << 16;

size_t alloc_bytes(size_t n) {
  size_t bytes = n == 0 ? 64 : (n + 63) / 64 * 64;
  if (bytes < kCacheMinBytes) return bytes;
  int top = 63 - __builtin_clzll(bytes);
  size_t quantum = size_t(1) << (top - 2);
  return (bytes + quantum - 1) / quantum * quantum;
}

class HostCache {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lk(m_);
    auto it = free_.find(bytes);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back().ptr;
    it->second.pop_back();
    cached_ -= bytes;
    return p;
  }
  // Keeps p for reuse, evicting the least recently freed buffers to stay under the limit.
  void give(void* p, size_t bytes) {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> lk(m_);
      if (bytes > limit_) {
        drop.push_back(p);
      } else {
        evict_locked(limit_ - bytes, drop);
        free_[bytes].push_back({p, ++stamp_});
        cached_ += bytes;
      }
    }
    for (void* d : drop) std::free(d);
  }
  void clear() { set_limit_and_trim(limit()); }
  size_t set_limit_and_trim(size_t limit, size_t target = 0) {
    std::vector<void*> drop;
    size_t old;
    {
      std::lock_guard<std::mutex> lk(m_);
      old = limit_;
      limit_ = limit;
      evict_locked(std::min(limit, target == 0 ? size_t(0) : target), drop);
    }
    for (void* d : drop) std::free(d);
    return old;
  }
  size_t limit() {
    std::lock_guard<std::mutex> lk(m_);
    return limit_;
  }
  size_t cached() {
    std::lock_guard<std::mutex> lk(m_);
    return cached_;
  }

 private:
  struct Block {
    void* ptr;
    uint64_t stamp;
  };
  void evict_locked(size_t keep, std::vector<void*>& drop) {
    while (cached_ > keep) {
      std::vector<Block>* oldest = nullptr;
      size_t oldest_bytes = 0;
      for (auto& [b, v] : free_)
        if (!v.empty() && (!oldest || v.front().stamp < oldest->front().stamp)) {
          oldest = &v;
          oldest_bytes = b;
        }
      drop.push_back(oldest->front().ptr);
      oldest->erase(oldest->begin());
      cached_ -= oldest_bytes;
    }
  }
  std::mutex m_;
  std::map<size_t, std::vector<Block>> free_;
  size_t cached_ = 0;
  size_t limit_ = size_t(1) << 30;
  uint64_t stamp_ = 0;
};

HostCache& host_cache() {
  static auto* c = new HostCache;  // never destroyed: Data may be freed during exit
  return *c;
}

void* aligned_host_alloc(size_t n) {
  size_t bytes = alloc_bytes(n);
  if (bytes >= kCacheMinBytes)
    if (void* p = host_cache().take(bytes)) return p;
  void* p = std::aligned_alloc(64, bytes);
  if (!p && bytes >= kCacheMinBytes) {
    host_cache().clear();
    p = std::aligned_alloc(64, bytes);
  }
  if (!p) throw OutOfMemoryError("[array] failed to allocate " + std::to_string(n) + " bytes");
  return p;
}

void host_free(void* p, size_t n) {
  if (!p) return;
  size_t bytes = alloc_bytes(n);
  if (bytes >= kCacheMinBytes) host_cache().give(p, bytes);
  else std::free(p);
}
}  // namespace

size_t set_cache_limit(size_t limit) { return host_cache().set_limit_and_trim(limit, limit); }
void clear_cache() { host_cache().clear(); }
size_t get_cache_memory() { return host_cache().cached(); }

Data::Data(size_t nbytes) : nbytes_(nbytes), host_(allocate_host()) {}
Data::Data(size_t nbytes, std::shared_ptr<DeviceBuffer> dev)
    : device(std::move(dev)), nbytes_(nbytes) {}
Data::~Data() {
  if (host_ != inline_) host_free(host_, nbytes_);
}

void* Data::allocate_host() {
  return nbytes_ <= kInlineBytes ? inline_ : aligned_host_alloc(nbytes_);
}

void* Data::host() {
  if (!host_) {
    void* p = allocate_host();
    if (device && nbytes_ > 0) {
      try {
        gpu::detail::download(*device, p, nbytes_);
      } catch (...) {
        if (p != inline_) host_free(p, nbytes_);
        throw;
      }
    }
    host_ = p;
  }
  return host_;
}

namespace detail {

Node::~Node() {
  // Drop inputs without recursing through a long chain of nodes.
  thread_local std::vector<std::shared_ptr<Node>>* pending = nullptr;
  std::vector<std::shared_ptr<Node>> local;
  bool owner = pending == nullptr;
  if (owner) pending = &local;
  for (auto& in : inputs) {
    auto& d = in.desc_;
    if (d && d.use_count() == 1 && d->node) pending->push_back(std::move(d->node));
  }
  inputs.clear();
  if (owner) {
    while (!local.empty()) {
      auto n = std::move(local.back());
      local.pop_back();
      n.reset();
    }
    pending = nullptr;
  }
}

size_t shape_size(const Shape& s) {
  size_t n = 1;
  for (int d : s) n *= static_cast<size_t>(d);
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

void throw_placeholder(const char* what) {
  throw TraceError(std::string("[") + what +
                   "] cannot read the value of a placeholder array: compiled functions are "
                   "traced with data-less placeholders. Return the array from the function "
                   "instead, or call kiln::disable_compile() to run it eagerly while debugging.");
}

namespace {
template <typename Src, typename Dst>
void convert_typed(const Src* s, Dst* d, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<Dst, bool>) {
      d[i] = static_cast<float>(s[i]) != 0.0f || (std::is_integral_v<Src> && s[i] != Src(0));
    } else if constexpr (std::is_same_v<Src, float16_t> || std::is_same_v<Src, bfloat16_t>) {
      d[i] = static_cast<Dst>(static_cast<float>(s[i]));
    } else if constexpr (std::is_same_v<Dst, float16_t> || std::is_same_v<Dst, bfloat16_t>) {
      d[i] = Dst(static_cast<float>(s[i]));
    } else {
      d[i] = static_cast<Dst>(s[i]);
    }
  }
}
}  // namespace

void convert(const void* src, Dtype src_dtype, void* dst, Dtype dst_dtype, size_t n) {
  if (n == 0) return;  // empty arrays may have null pointers (memcpy's are declared non-null)
  if (src_dtype == dst_dtype) {
    std::memcpy(dst, src, n * src_dtype.size());
    return;
  }
  // half <-> float32 in bulk; other conversions with a half side go through float32 blocks
  if (src_dtype == float16 && dst_dtype == float32)
    return half_to_float(static_cast<const float16_t*>(src), static_cast<float*>(dst), n);
  if (src_dtype == float32 && dst_dtype == float16)
    return float_to_half(static_cast<const float*>(src), static_cast<float16_t*>(dst), n);
  if (src_dtype == bfloat16 && dst_dtype == float32)
    return bhalf_to_float(static_cast<const bfloat16_t*>(src), static_cast<float*>(dst), n);
  if (src_dtype == float32 && dst_dtype == bfloat16)
    return float_to_bhalf(static_cast<const float*>(src), static_cast<bfloat16_t*>(dst), n);
  bool half_side = src_dtype == float16 || src_dtype == bfloat16 || dst_dtype == float16 ||
                   dst_dtype == bfloat16;
  if (half_side) {
    float buf[1024];
    for (size_t b = 0; b < n; b += 1024) {
      size_t m = std::min<size_t>(1024, n - b);
      convert(static_cast<const char*>(src) + b * src_dtype.size(), src_dtype, buf, float32, m);
      convert(buf, float32, static_cast<char*>(dst) + b * dst_dtype.size(), dst_dtype, m);
    }
    return;
  }
  dispatch_dtype(src_dtype, [&](auto s) {
    using S = decltype(s);
    dispatch_dtype(dst_dtype, [&](auto t) {
      using D = decltype(t);
      convert_typed(static_cast<const S*>(src), static_cast<D*>(dst), n);
    });
  });
}

}  // namespace detail

// ------------------------------------------------------------------ construction
void array::init_from_host(const void* src, Dtype src_dtype, const Shape& shape, Dtype dtype) {
  for (int d : shape)
    if (d < 0)
      throw std::invalid_argument("[array] negative dimension in shape " +
                                  detail::shape_str(shape));
  desc_ = std::make_shared<detail::ArrayDesc>();
  desc_->shape = shape;
  desc_->dtype = dtype;
  desc_->size = detail::shape_size(shape);
  desc_->data = std::make_shared<Data>(desc_->size * dtype.size());
  desc_->device = Device::cpu;
  if (src_dtype == bool_ && dtype != bool_) {
    // bool sources arrive as bytes
    detail::convert(src, bool_, desc_->data->host(), dtype, desc_->size);
  } else {
    detail::convert(src, src_dtype, desc_->data->host(), dtype, desc_->size);
  }
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive,
             std::vector<array> inputs) {
  desc_ = std::make_shared<detail::ArrayDesc>();
  desc_->size = detail::shape_size(shape);
  desc_->shape = std::move(shape);
  desc_->dtype = dtype;
  desc_->device = primitive->device();
  auto node = std::make_shared<detail::Node>();
  node->primitive = std::move(primitive);
  for (auto& in : inputs) {
    in.check();
    if (in.desc_->tracer) desc_->tracer = true;
  }
  node->inputs = std::move(inputs);
  desc_->node = std::move(node);
}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                                      const std::shared_ptr<Primitive>& primitive,
                                      const std::vector<array>& inputs) {
  auto node = std::make_shared<detail::Node>();
  node->primitive = primitive;
  node->inputs = inputs;
  bool tracer = false;
  for (auto& in : inputs) {
    in.check();
    tracer = tracer || in.desc_->tracer;
  }
  std::vector<array> outs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    array a;
    a.desc_ = std::make_shared<detail::ArrayDesc>();
    a.desc_->shape = shapes[i];
    a.desc_->size = detail::shape_size(shapes[i]);
    a.desc_->dtype = dtypes[i];
    a.desc_->device = primitive->device();
    a.desc_->tracer = tracer;
    a.desc_->node = node;
    a.desc_->position = static_cast<int>(i);
    node->outputs.push_back(a.desc_);
    outs.push_back(a);
  }
  node->n_outputs = outs.size();
  node->shapes = std::move(shapes);
  node->dtypes = std::move(dtypes);
  return outs;
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Data> data) {
  desc_ = std::make_shared<detail::ArrayDesc>();
  desc_->size = detail::shape_size(shape);
  desc_->shape = std::move(shape);
  desc_->dtype = dtype;
  desc_->device = (data && data->device && !data->has_host()) ? Device(Device::gpu)
                                                              : Device(Device::cpu);
  desc_->data = std::move(data);
}

array array::placeholder(Shape shape, Dtype dtype) {
  array a;
  a.desc_ = std::make_shared<detail::ArrayDesc>();
  a.desc_->size = detail::shape_size(shape);
  a.desc_->shape = std::move(shape);
  a.desc_->dtype = dtype;
  a.desc_->placeholder = true;
  a.desc_->tracer = true;
  return a;
}

// ------------------------------------------------------------------ queries
void array::check() const {
  if (!desc_)
    throw std::invalid_argument(
        "[array] use of an empty array handle (default-constructed and never assigned)");
}
const Shape& array::shape() const {
  check();
  return desc_->shape;
}
int array::shape(int axis) const {
  check();
  int nd = ndim();
  int ax = axis < 0 ? axis + nd : axis;
  if (ax < 0 || ax >= nd)
    throw std::invalid_argument("[array::shape] axis " + std::to_string(axis) +
                                " is out of bounds for array of shape " +
                                detail::shape_str(desc_->shape));
  return desc_->shape[ax];
}
int array::ndim() const { return static_cast<int>(shape().size()); }
size_t array::size() const {
  check();
  return desc_->size;
}
size_t array::itemsize() const { return dtype().size(); }
size_t array::nbytes() const { return size() * itemsize(); }
Dtype array::dtype() const {
  check();
  return desc_->dtype;
}
Strides array::strides() const {
  const Shape& s = shape();
  Strides st(s.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

void array::eval() {
  check();
  if (desc_->placeholder) detail::throw_placeholder("eval");
  if (!desc_->data) kiln::eval({*this});
}

bool array::has_primitive() const {
  check();
  return desc_->node != nullptr;
}
Primitive& array::primitive() const {
  if (!has_primitive()) throw std::logic_error("[array::primitive] array has no primitive");
  return *desc_->node->primitive;
}
std::shared_ptr<Primitive> array::primitive_ptr() const {
  return has_primitive() ? desc_->node->primitive : nullptr;
}
const std::vector<array>& array::inputs() const {
  static const std::vector<array> empty;
  check();
  return desc_->node ? desc_->node->inputs : empty;
}
std::vector<array>& array::inputs() {
  if (!has_primitive()) throw std::logic_error("[array::inputs] array has no primitive");
  return desc_->node->inputs;
}
std::vector<array> array::outputs() const {
  std::vector<array> outs;
  outputs(outs);
  return outs;
}
void array::outputs(std::vector<array>& outs) const {
  check();
  outs.clear();
  if (!desc_->node || desc_->node->n_outputs == 1) {
    outs.push_back(*this);
    return;
  }
  auto& node = *desc_->node;
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    array a;
    a.desc_ = node.outputs[i].lock();
    if (!a.desc_) {
      // the user dropped this output; recreate it so the primitive has a destination
      a.desc_ = std::make_shared<detail::ArrayDesc>();
      a.desc_->shape = node.shapes[i];
      a.desc_->size = detail::shape_size(node.shapes[i]);
      a.desc_->dtype = node.dtypes[i];
      a.desc_->device = desc_->device;
      a.desc_->tracer = desc_->tracer;
      a.desc_->node = desc_->node;
      a.desc_->position = static_cast<int>(i);
      node.outputs[i] = a.desc_;
    }
    outs.push_back(a);
  }
}
std::vector<array> array::siblings() const {
  auto outs = outputs();
  outs.erase(outs.begin() + desc_->position);
  return outs;
}
int array::sibling_position() const {
  check();
  return desc_->position;
}
bool array::is_available() const {
  check();
  return desc_->data != nullptr;
}
bool array::is_placeholder() const {
  check();
  return desc_->placeholder;
}
bool array::is_tracer() const {
  check();
  return desc_->tracer;
}
void array::set_tracer(bool t) {
  check();
  desc_->tracer = t;
}
const std::shared_ptr<Data>& array::data_shared() const {
  check();
  return desc_->data;
}
void array::set_data(std::shared_ptr<Data> d) {
  check();
  desc_->data = std::move(d);
}
void* array::raw_host_ptr() {
  check();
  if (desc_->placeholder) detail::throw_placeholder("data");
  if (!desc_->data) eval();
  return desc_->data->host();
}
void array::detach() {
  check();
  desc_->node.reset();
}
void array::set_primitive(std::shared_ptr<Primitive> p, std::vector<array> inputs) {
  check();
  auto node = std::make_shared<detail::Node>();
  desc_->device = p->device();
  node->primitive = std::move(p);
  node->inputs = std::move(inputs);
  desc_->position = 0;
  desc_->node = std::move(node);
}
Device array::device() const {
  check();
  return desc_->device;
}

}  // namespace kiln
