#include "checkpoint.h"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>
#include <istream>
#include <ostream>
#include <streambuf>

#include "io_impl.h"

namespace kiln::detail {

// One array inside a checkpoint payload: dtype code (u8), ndim (u32), dims (i64 each),
// byte count (u64), raw row-major little-endian bytes.
struct ArrayRec {
  array value;
};
// The training state (serialized through this wrapper so that cereal's lookup of save/load
// stays inside kiln::detail).
struct StateRec {
  TrainingState* state;
};

}  // namespace kiln::detail

// Every serialized type carries a cereal class version from the first format on; a reader
// rejects versions newer than these (see docs/checkpoints.md, "Versioning").
CEREAL_CLASS_VERSION(kiln::detail::ArrayRec, 1)
CEREAL_CLASS_VERSION(kiln::detail::StateRec, 1)

namespace kiln {

namespace {

// ---- streams over memory
// Output: appends to a byte vector (no second copy of a large payload, unlike ostringstream).
class VecBuf : public std::streambuf {
 public:
  explicit VecBuf(std::vector<uint8_t>& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.insert(out_.end(), s, s + n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out_.push_back(static_cast<uint8_t>(c));
    return traits_type::not_eof(c);
  }

 private:
  std::vector<uint8_t>& out_;
};

// Input: a read-only window over a checked payload; reads stop at its end.
class MemBuf : public std::streambuf {
 public:
  MemBuf(const uint8_t* p, size_t n) {
    char* b = const_cast<char*>(reinterpret_cast<const char*>(p));
    setg(b, b, b + n);
  }
  size_t remaining() const { return static_cast<size_t>(egptr() - gptr()); }
};

// Reachable from every load function (cereal's UserDataAdapter): the bytes that remain, so
// that no count or length is trusted before it has been checked against them.
struct LoadCtx {
  const MemBuf* buf;
  std::string where;  // "[load_checkpoint] 'path'"
  std::string item;   // what is being read, for messages

  [[noreturn]] void fail(const std::string& msg) const {
    throw CheckpointError(where + ": " + (item.empty() ? "" : item + ": ") + msg);
  }
  // `count` items of at least `each` bytes must fit in what remains.
  void need(uint64_t count, uint64_t each, const char* what) const {
    uint64_t bytes;
    if (!io_detail::mul_ok(count, each, &bytes) || bytes > buf->remaining())
      fail(std::string(what) + " count " + std::to_string(count) + " exceeds the " +
           std::to_string(buf->remaining()) + " bytes that remain (damaged file)");
  }
};

using OutArchive = cereal::PortableBinaryOutputArchive;

// The input archive with the load context attached. cereal calls the load functions with the
// base archive type, so they recover the context by a checked downcast.
class InArchive : public cereal::PortableBinaryInputArchive {
 public:
  InArchive(LoadCtx& c, std::istream& is) : PortableBinaryInputArchive(is), ctx(c) {}
  LoadCtx& ctx;
};

LoadCtx& ctx(cereal::PortableBinaryInputArchive& ar) { return dynamic_cast<InArchive&>(ar).ctx; }

template <class A>
void check_version(A& ar, const char* type, uint32_t version, uint32_t supported) {
  if (version > supported)
    ctx(ar).fail(std::string(type) + " record version " + std::to_string(version) +
                 " is newer than this kiln (" + kiln_version() + ") reads (up to version " +
                 std::to_string(supported) + "): upgrade kiln to load it");
}

// ---- strings and counts (never cereal's std::string/std::map loaders: they would allocate
// whatever length a damaged file announces)
template <class A>
void save_string(A& ar, const std::string& s) {
  ar(static_cast<uint64_t>(s.size()));
  if (!s.empty()) ar(cereal::binary_data(s.data(), s.size()));
}
template <class A>
std::string load_string(A& ar, const char* what) {
  uint64_t n;
  ar(n);
  ctx(ar).need(n, 1, what);
  std::string s(static_cast<size_t>(n), '\0');
  if (n) ar(cereal::binary_data(s.data(), s.size()));
  return s;
}
template <class A>
uint64_t load_count(A& ar, uint64_t min_bytes_each, const char* what) {
  uint64_t n;
  ar(n);
  ctx(ar).need(n, min_bytes_each, what);
  return n;
}

// Stable dtype codes of the file format (independent of Dtype's enum order).
uint8_t dtype_code(Dtype d) {
  switch (d.val()) {
    case Dtype::Val::bool_:
      return 1;
    case Dtype::Val::uint32:
      return 2;
    case Dtype::Val::int32:
      return 3;
    case Dtype::Val::int64:
      return 4;
    case Dtype::Val::float16:
      return 5;
    case Dtype::Val::bfloat16:
      return 6;
    case Dtype::Val::float32:
      return 7;
  }
  return 0;
}
bool dtype_from_code(uint8_t c, Dtype* d) {
  constexpr Dtype table[] = {bool_, uint32, int32, int64, float16, bfloat16, float32};
  if (c < 1 || c > 7) return false;
  *d = table[c - 1];
  return true;
}

// Minimum bytes of one serialized array: code + ndim + byte count.
constexpr uint64_t kMinArrayBytes = 1 + 4 + 8;
// Minimum bytes of one named array: name length + array.
constexpr uint64_t kMinNamedArrayBytes = 8 + kMinArrayBytes;

template <class A>
void save_named(A& ar, const std::map<std::string, array>& m) {
  ar(static_cast<uint64_t>(m.size()));
  for (auto& [name, a] : m) {
    save_string(ar, name);
    ar(detail::ArrayRec{a});
  }
}
template <class A>
void load_named(A& ar, std::map<std::string, array>& m, const char* kind) {
  uint64_t n = load_count(ar, kMinNamedArrayBytes, kind);
  m.clear();
  for (uint64_t i = 0; i < n; ++i) {
    ctx(ar).item.clear();
    std::string name = load_string(ar, "name length");
    ctx(ar).item = std::string(kind) + " '" + name + "'";
    detail::ArrayRec rec;
    ar(rec);
    if (!m.emplace(std::move(name), std::move(rec.value)).second) ctx(ar).fail("appears twice");
  }
  ctx(ar).item.clear();
}

}  // namespace

namespace detail {

template <class A>
void save(A& ar, const ArrayRec& r, const std::uint32_t /*version*/) {
  array a = r.value;
  uint8_t code = dtype_code(a.dtype());
  ar(code);
  ar(static_cast<uint32_t>(a.ndim()));
  for (int d : a.shape()) ar(static_cast<int64_t>(d));
  uint64_t nbytes = a.nbytes();
  ar(nbytes);
  if (nbytes == 0) return;
  const uint8_t* p = io_detail::host_bytes(a);
  // Typed so that a big-endian host would swap each element to little endian.
  switch (a.itemsize()) {
    case 2:
      ar(cereal::binary_data(reinterpret_cast<const uint16_t*>(p), nbytes));
      break;
    case 4:
      ar(cereal::binary_data(reinterpret_cast<const uint32_t*>(p), nbytes));
      break;
    case 8:
      ar(cereal::binary_data(reinterpret_cast<const uint64_t*>(p), nbytes));
      break;
    default:
      ar(cereal::binary_data(p, nbytes));
      break;
  }
}

template <class A>
void load(A& ar, ArrayRec& r, const std::uint32_t version) {
  check_version(ar, "array", version, 1);
  LoadCtx& c = ctx(ar);
  uint8_t code;
  ar(code);
  Dtype dtype = float32;
  if (!dtype_from_code(code, &dtype)) c.fail("unknown dtype code " + std::to_string(code));
  uint32_t ndim;
  ar(ndim);
  c.need(ndim, 8, "dimension");
  if (ndim > 64) c.fail("has " + std::to_string(ndim) + " dimensions (at most 64)");
  std::vector<int64_t> dims(ndim);
  for (auto& d : dims) ar(d);
  uint64_t count = 0;
  Shape shape = io_detail::checked_shape(dims, &count, c.where + ": " + c.item);
  uint64_t nbytes;
  ar(nbytes);
  uint64_t expect;
  if (!io_detail::mul_ok(count, static_cast<uint64_t>(dtype.size()), &expect) || nbytes != expect)
    c.fail("holds " + std::to_string(nbytes) + " bytes but a " + to_string(dtype) +
           " array of shape " + detail::shape_str(shape) + " needs " + std::to_string(expect));
  c.need(nbytes, 1, "byte");
  uint8_t* p = nullptr;
  array a = io_detail::make_host_array(shape, dtype, &p);
  if (nbytes > 0) {
    switch (dtype.size()) {
      case 2:
        ar(cereal::binary_data(reinterpret_cast<uint16_t*>(p), nbytes));
        break;
      case 4:
        ar(cereal::binary_data(reinterpret_cast<uint32_t*>(p), nbytes));
        break;
      case 8:
        ar(cereal::binary_data(reinterpret_cast<uint64_t*>(p), nbytes));
        break;
      default:
        ar(cereal::binary_data(p, nbytes));
        break;
    }
  }
  if (dtype == bool_) io_detail::normalize_bools(p, nbytes);
  r.value = std::move(a);
}

template <class A>
void save(A& ar, const StateRec& rec, const std::uint32_t /*version*/) {
  const TrainingState& s = *rec.state;
  save_named(ar, s.parameters);
  save_string(ar, s.optimizer);
  save_named(ar, s.optimizer_state);
  ar(static_cast<uint64_t>(s.rng_state.size()));
  for (auto& a : s.rng_state) ar(detail::ArrayRec{a});
  ar(s.step);
  ar(static_cast<uint64_t>(s.metadata.size()));
  for (auto& [k, v] : s.metadata) {
    save_string(ar, k);
    save_string(ar, v);
  }
}

template <class A>
void load(A& ar, StateRec& rec, const std::uint32_t version) {
  check_version(ar, "training state", version, 1);
  TrainingState& s = *rec.state;
  load_named(ar, s.parameters, "parameter");
  s.optimizer = load_string(ar, "optimizer name length");
  load_named(ar, s.optimizer_state, "optimizer state");
  uint64_t n = load_count(ar, kMinArrayBytes, "RNG state array");
  s.rng_state.clear();
  for (uint64_t i = 0; i < n; ++i) {
    ctx(ar).item = "RNG state array " + std::to_string(i);
    detail::ArrayRec rec;
    ar(rec);
    s.rng_state.push_back(std::move(rec.value));
  }
  ctx(ar).item.clear();
  ar(s.step);
  uint64_t m = load_count(ar, 16, "metadata entry");
  s.metadata.clear();
  for (uint64_t i = 0; i < m; ++i) {
    std::string k = load_string(ar, "metadata key length");
    ctx(ar).item = "metadata '" + k + "'";
    std::string v = load_string(ar, "metadata value length");
    if (!s.metadata.emplace(std::move(k), std::move(v)).second) ctx(ar).fail("appears twice");
    ctx(ar).item.clear();
  }
}

std::vector<uint8_t> encode_training_state(const TrainingState& state) {
  std::vector<array> all;
  for (auto& [k, a] : state.parameters) all.push_back(a);
  for (auto& [k, a] : state.optimizer_state) all.push_back(a);
  for (auto& a : state.rng_state) all.push_back(a);
  for (auto& a : all)
    if (!a.valid()) throw std::invalid_argument("[save_checkpoint] an array of the state is empty");
  io_detail::eval_for_save(all);

  std::vector<uint8_t> out;
  size_t estimate = 4096;
  for (auto& a : all) estimate += a.nbytes() + 64;
  out.reserve(estimate);  // no regrowth copies of a large payload
  VecBuf buf(out);
  std::ostream os(&buf);
  {
    OutArchive ar(os, OutArchive::Options::LittleEndian());
    ar(StateRec{const_cast<TrainingState*>(&state)});
  }
  return out;
}

namespace {
TrainingState parse_payload(const uint8_t* p, size_t n, const std::string& name) {
  MemBuf buf(p, n);
  std::istream is(&buf);
  LoadCtx c{&buf, "[load_checkpoint] '" + name + "'", ""};
  TrainingState s;
  try {
    InArchive ar(c, is);
    StateRec rec{&s};
    ar(rec);
  } catch (const CheckpointError&) {
    throw;
  } catch (const cereal::Exception& e) {
    c.fail(std::string("malformed payload (") + e.what() + ")");
  }
  if (buf.remaining() != 0)
    throw CheckpointError(c.where + ": " + std::to_string(buf.remaining()) +
                          " unexpected bytes after the training state");
  return s;
}

void fill_info(CheckpointInfo* info, const ContainerHeader& h, const TrainingState& s) {
  if (!info) return;
  info->step = s.step;
  info->metadata = s.metadata;
  info->kiln_version = h.kiln_version;
  info->format_version = h.format_version;
  info->optimizer = s.optimizer;
}
}  // namespace

TrainingState decode_training_state(const void* image, size_t n, const std::string& name,
                                    CheckpointInfo* info) {
  ContainerHeader h = check_container(image, n, name);
  TrainingState s = parse_payload(static_cast<const uint8_t*>(image) + kContainerHeaderSize,
                                  h.payload_length, name);
  fill_info(info, h, s);
  return s;
}

TrainingState load_training_state_impl(const std::string& path, CheckpointInfo* info) {
  ContainerHeader h;
  std::vector<uint8_t> payload = read_container(path, &h);
  TrainingState s = parse_payload(payload.data(), payload.size(), path);
  fill_info(info, h, s);
  return s;
}

}  // namespace detail

void save_training_state(const std::string& path, const TrainingState& state,
                         const CheckpointOptions& options) {
  std::vector<uint8_t> payload = detail::encode_training_state(state);
  write_container(path, payload.data(), payload.size(), WriteOptions{options.keep_last});
}

TrainingState load_training_state(const std::string& path, CheckpointInfo* info) {
  return detail::load_training_state_impl(path, info);
}

}  // namespace kiln
