#include "npy.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "container.h"
#include "io_impl.h"

namespace kiln {

namespace {

constexpr uint64_t kMaxHeader = 1 << 20;

const char* descr_of(Dtype d) {
  switch (d.val()) {
    case Dtype::Val::bool_:
      return "|b1";
    case Dtype::Val::uint32:
      return "<u4";
    case Dtype::Val::int32:
      return "<i4";
    case Dtype::Val::int64:
      return "<i8";
    case Dtype::Val::float16:
      return "<f2";
    case Dtype::Val::bfloat16:
      return "<V2";
    case Dtype::Val::float32:
      return "<f4";
  }
  return "";
}

std::string make_header(const array& a) {
  std::string h = "{'descr': '";
  h += descr_of(a.dtype());
  h += "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < a.ndim(); ++i) {
    h += std::to_string(a.shape(i));
    if (a.ndim() == 1 || i + 1 < a.ndim()) h += a.ndim() == 1 ? "," : ", ";
  }
  h += "), }";
  // Magic (6) + version (2) + length (2) + header, padded with spaces and ending in '\n',
  // is a multiple of 64 (what NumPy writes).
  size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h.push_back('\n');
  return h;
}

// ---- the header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3),
// }
class DictReader {
 public:
  DictReader(std::string_view s, std::string where) : s_(s), where_(std::move(where)) {}
  [[noreturn]] void fail(const std::string& msg) const {
    throw CheckpointError(where_ + ": invalid header at byte " + std::to_string(i_) + ": " + msg);
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  char peek() {
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    return s_[i_];
  }
  bool accept(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  bool at_end() {
    ws();
    return i_ == s_.size();
  }
  std::string str() {
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_++];
      if (c == q) return out;
      if (c == '\\') fail("escapes are not expected in a header string");
      out.push_back(c);
    }
  }
  bool boolean() {
    ws();
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (!accept(')')) {
      ws();
      size_t start = i_;
      int64_t v = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        v = v * 10 + (s_[i_] - '0');
        if (v > INT_MAX) fail("dimension too large");
        ++i_;
      }
      if (i_ == start) fail("expected a non-negative integer in the shape");
      if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 longs
      if (dims.size() >= 64) fail("more than 64 dimensions");
      dims.push_back(v);
      if (accept(')')) break;
      expect(',');
    }
    return dims;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
  std::string where_;
};

// What a descr means: the file's element type and the kiln dtype it becomes.
struct FileType {
  Dtype dtype = float32;  // kiln dtype of the result
  int size = 4;           // bytes per element in the file
  char kind = 'f';        // NumPy kind: b, i, u, f, V
  bool swap = false;      // big-endian data
};

FileType parse_descr(const std::string& d, const std::string& where) {
  auto bad = [&](const std::string& why) -> CheckpointError {
    return CheckpointError(where + ": unsupported dtype '" + d + "'" + why);
  };
  if (d.size() < 3) throw bad("");
  FileType t;
  char order = d[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') throw bad("");
  t.kind = d[1];
  std::string_view sz(d.data() + 2, d.size() - 2);
  if (sz == "1")
    t.size = 1;
  else if (sz == "2")
    t.size = 2;
  else if (sz == "4")
    t.size = 4;
  else if (sz == "8")
    t.size = 8;
  else
    throw bad("");
  t.swap = order == '>' && t.size > 1;
  switch (t.kind) {
    case 'b':
      if (t.size != 1) throw bad("");
      t.dtype = bool_;
      break;
    case 'i':
      t.dtype = t.size == 8 ? int64 : int32;
      break;
    case 'u':
      if (t.size == 8) throw bad(" (kiln has no uint64)");
      t.dtype = t.size == 4 ? uint32 : int32;
      break;
    case 'f':
      if (t.size == 1) throw bad("");
      t.dtype = t.size == 2 ? float16 : float32;
      break;
    case 'V':
      if (t.size != 2) throw bad("");
      t.dtype = bfloat16;  // MLX writes bfloat16 as '<V2'
      break;
    default:
      throw bad("");
  }
  return t;
}

// Converts n file elements (little-endian already) to the kiln dtype.
void convert_elements(const uint8_t* src, const FileType& t, uint8_t* dst, size_t n) {
  auto load = [&](auto tag, size_t i) {
    decltype(tag) v;
    std::memcpy(&v, src + i * sizeof(v), sizeof(v));
    return v;
  };
  if (t.kind == 'f' && t.size == 8) {
    auto* out = reinterpret_cast<float*>(dst);
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load(double{}, i));
    return;
  }
  auto* out = reinterpret_cast<int32_t*>(dst);  // the small integer kinds widen to int32
  for (size_t i = 0; i < n; ++i) {
    if (t.kind == 'i' && t.size == 1)
      out[i] = load(int8_t{}, i);
    else if (t.kind == 'u' && t.size == 1)
      out[i] = load(uint8_t{}, i);
    else if (t.kind == 'i' && t.size == 2)
      out[i] = load(int16_t{}, i);
    else
      out[i] = load(uint16_t{}, i);
  }
}

void swap_bytes(uint8_t* p, size_t n, int size) {
  for (size_t i = 0; i < n; ++i) std::reverse(p + i * size, p + (i + 1) * size);
}

// Column-major bytes of `shape` → row-major.
void fortran_to_c(const uint8_t* src, uint8_t* dst, const Shape& shape, size_t itemsize) {
  size_t n = detail::shape_size(shape);
  int nd = static_cast<int>(shape.size());
  std::vector<size_t> fstride(nd), idx(nd, 0);
  size_t s = 1;
  for (int k = 0; k < nd; ++k) {
    fstride[k] = s;
    s *= static_cast<size_t>(shape[k]);
  }
  size_t off = 0;  // column-major offset of the current row-major index
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(dst + i * itemsize, src + off * itemsize, itemsize);
    for (int k = nd - 1; k >= 0; --k) {
      if (++idx[k] < static_cast<size_t>(shape[k])) {
        off += fstride[k];
        break;
      }
      off -= fstride[k] * (idx[k] - 1);
      idx[k] = 0;
    }
  }
}

template <typename Source>
array load_from(const Source& src, const std::string& name) {
  const std::string where = "[load_npy] '" + name + "'";
  uint64_t size = src.size();
  uint8_t pre[12] = {};
  if (size < 10 || (src.read(0, pre, 10, "the preamble"), std::memcmp(pre, "\x93NUMPY", 6) != 0))
    throw CheckpointError(where + " is not an .npy file (bad magic bytes)");
  int major = pre[6], minor = pre[7];
  uint64_t hlen, hstart;
  if (major == 1 && minor == 0) {
    hlen = pre[8] | (uint64_t{pre[9]} << 8);
    hstart = 10;
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (size < 12) throw CheckpointError(where + " is truncated inside its preamble");
    src.read(10, pre + 10, 2, "the preamble");
    hlen = pre[8] | (uint64_t{pre[9]} << 8) | (uint64_t{pre[10]} << 16) | (uint64_t{pre[11]} << 24);
    hstart = 12;
  } else {
    throw CheckpointError(where + " uses .npy format version " + std::to_string(major) + "." +
                          std::to_string(minor) + "; kiln reads 1.0, 2.0 and 3.0");
  }
  if (hlen > kMaxHeader)
    throw CheckpointError(where + ": header length " + std::to_string(hlen) + " exceeds " +
                          std::to_string(kMaxHeader) + " bytes");
  if (hlen > size - hstart)
    throw CheckpointError(where + " is truncated: the header needs " + std::to_string(hlen) +
                          " bytes, " + std::to_string(size - hstart) + " remain");
  std::string header(static_cast<size_t>(hlen), '\0');
  src.read(hstart, header.data(), header.size(), "the header");

  DictReader r(header, where);
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> dims;
  bool have_descr = false, have_fortran = false, have_shape = false;
  r.expect('{');
  while (!r.accept('}')) {
    std::string key = r.str();
    r.expect(':');
    if (key == "descr" && !have_descr) {
      if (r.peek() != '\'' && r.peek() != '"')
        throw CheckpointError(where + ": structured dtypes are not supported");
      descr = r.str();
      have_descr = true;
    } else if (key == "fortran_order" && !have_fortran) {
      fortran = r.boolean();
      have_fortran = true;
    } else if (key == "shape" && !have_shape) {
      dims = r.tuple();
      have_shape = true;
    } else {
      r.fail("unexpected or repeated key '" + key + "'");
    }
    if (r.accept('}')) break;
    r.expect(',');
  }
  if (!r.at_end()) r.fail("unexpected content after the dictionary");
  if (!have_descr || !have_fortran || !have_shape)
    throw CheckpointError(where + ": the header lacks " +
                          (!have_descr     ? "'descr'"
                           : !have_fortran ? "'fortran_order'"
                                           : "'shape'"));
  FileType t = parse_descr(descr, where);
  uint64_t count;
  Shape shape = io_detail::checked_shape(dims, &count, where);
  uint64_t nbytes = count * static_cast<uint64_t>(t.size);
  uint64_t avail = size - hstart - hlen;
  if (nbytes != avail)
    throw CheckpointError(where + ": shape " + detail::shape_str(shape) + " of '" + descr +
                          "' needs " + std::to_string(nbytes) + " data bytes but the file has " +
                          std::to_string(avail) + (avail < nbytes ? " (truncated)" : ""));

  uint8_t* out = nullptr;
  array a = io_detail::make_host_array(shape, t.dtype, &out);
  bool direct = t.size == t.dtype.size() && !fortran;
  std::vector<uint8_t> raw;
  uint8_t* buf = out;
  if (!direct) {
    raw.resize(static_cast<size_t>(nbytes));
    buf = raw.data();
  }
  src.read(hstart + hlen, buf, static_cast<size_t>(nbytes), "the data");
  if (t.swap) swap_bytes(buf, static_cast<size_t>(count), t.size);
  if (fortran) {
    std::vector<uint8_t> c_order(static_cast<size_t>(nbytes));
    fortran_to_c(buf, c_order.data(), shape, static_cast<size_t>(t.size));
    raw = std::move(c_order);
    buf = raw.data();
  }
  if (t.size != t.dtype.size())
    convert_elements(buf, t, out, static_cast<size_t>(count));
  else if (buf != out && nbytes)
    std::memcpy(out, buf, static_cast<size_t>(nbytes));
  if (t.dtype == bool_) io_detail::normalize_bools(out, static_cast<size_t>(count));
  return a;
}

void write_to(FileSink& sink, array& a) {
  a.eval();
  std::string h = make_header(a);
  if (h.size() > 65535)
    throw std::invalid_argument("[save_npy] an array of " + std::to_string(a.ndim()) +
                                " dimensions is beyond the .npy 1.0 header");
  uint8_t pre[10] = {0x93,
                     'N',
                     'U',
                     'M',
                     'P',
                     'Y',
                     1,
                     0,
                     static_cast<uint8_t>(h.size() & 0xff),
                     static_cast<uint8_t>(h.size() >> 8)};
  sink.write(pre, 10);
  sink.write(h.data(), h.size());
  if (a.nbytes()) sink.write(io_detail::host_bytes(a), a.nbytes());
}

}  // namespace

void save_npy(const std::string& path, array a) {
  if (!a.valid()) throw std::invalid_argument("[save_npy] the array is an empty handle");
  atomic_write_file(path, [&](FileSink& s) { write_to(s, a); });
}

array load_npy(const std::string& path) {
  FileSource f(path);
  return load_from(f, path);
}

namespace detail {
std::vector<uint8_t> encode_npy(array a) {
  if (!a.valid()) throw std::invalid_argument("[save_npy] the array is an empty handle");
  io_detail::VecSink s;
  write_to(s, a);
  return std::move(s.out);
}
array decode_npy(const void* data, size_t n, const std::string& name) {
  return load_from(io_detail::MemSource(data, n, name), name);
}
}  // namespace detail

}  // namespace kiln
