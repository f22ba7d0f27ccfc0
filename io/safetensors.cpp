#include "safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "container.h"
#include "io_impl.h"

namespace kiln {

static_assert(std::endian::native == std::endian::little,
              "safetensors and npy writers assume a little-endian host");

namespace {

// The header may not exceed this (the reference implementation's limit).
constexpr uint64_t kMaxHeader = 100'000'000;

struct DtypeName {
  const char* name;
  Dtype dtype;
};
constexpr DtypeName kDtypes[] = {{"F32", float32}, {"F16", float16}, {"BF16", bfloat16},
                                 {"I32", int32},   {"U32", uint32},  {"I64", int64},
                                 {"BOOL", bool_}};

const char* safetensors_dtype(Dtype d) {
  for (auto& e : kDtypes)
    if (e.dtype == d) return e.name;
  return "?";
}

// ---------------------------------------------------------------- JSON
bool valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    int len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < static_cast<size_t>(len)) return false;
    for (int k = 1; k < len; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

// A streaming reader for the header: it interprets the schema as it parses, skips unknown
// values without building them, and bounds nesting, so its memory is a small multiple of
// what it returns.
class JsonReader {
 public:
  JsonReader(std::string_view s, std::string where) : s_(s), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& msg) const {
    throw CheckpointError(where_ + ": invalid header JSON at byte " + std::to_string(i_) + ": " +
                          msg);
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
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  bool at_end() {
    ws();
    return i_ == s_.size();
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      char e = s_[i_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u')
              fail("unpaired surrogate");
            i_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xdc00 || lo > 0xdfff) fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            fail("unpaired surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("invalid escape");
      }
    }
  }

  // A non-negative integer (what shapes and offsets are).
  uint64_t uint() {
    ws();
    size_t start = i_;
    uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (v > (UINT64_MAX - 9) / 10) fail("integer too large");
      v = v * 10 + static_cast<uint64_t>(s_[i_] - '0');
      ++i_;
    }
    if (i_ == start) fail("expected a non-negative integer");
    if (i_ - start > 1 && s_[start] == '0') fail("leading zero in an integer");
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E'))
      fail("expected an integer");
    return v;
  }

  // Calls f(key) for each member of an object; f must consume the value.
  template <typename F>
  void object(F&& f) {
    expect('{');
    if (peek() == '}') {
      ++i_;
      return;
    }
    while (true) {
      std::string key = string();
      expect(':');
      f(key);
      char c = peek();
      ++i_;
      if (c == '}') return;
      if (c != ',') fail("expected ',' or '}'");
    }
  }
  // Calls f() for each element of an array; f must consume the element.
  template <typename F>
  void array_of(F&& f) {
    expect('[');
    if (peek() == ']') {
      ++i_;
      return;
    }
    while (true) {
      f();
      char c = peek();
      ++i_;
      if (c == ']') return;
      if (c != ',') fail("expected ',' or ']'");
    }
  }

  // Skips any value (unknown fields), nesting at most kMaxDepth deep.
  void skip(int depth = 0) {
    if (depth > kMaxDepth) fail("nested too deeply");
    char c = peek();
    if (c == '{') {
      object([&](const std::string&) { skip(depth + 1); });
    } else if (c == '[') {
      array_of([&] { skip(depth + 1); });
    } else if (c == '"') {
      string();
    } else if (c == 't') {
      literal("true");
    } else if (c == 'f') {
      literal("false");
    } else if (c == 'n') {
      literal("null");
    } else {
      number();
    }
  }

 private:
  static constexpr int kMaxDepth = 32;

  uint32_t hex4() {
    if (i_ + 4 > s_.size()) fail("short \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        fail("bad hex digit in \\u escape");
    }
    return v;
  }
  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  void literal(const char* w) {
    size_t n = std::strlen(w);
    if (s_.substr(i_, n) != w) fail("invalid literal");
    i_ += n;
  }
  void number() {
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    auto digits = [&] {
      size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > d;
    };
    if (!digits()) fail("invalid value");
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) fail("invalid number");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) fail("invalid number");
    }
    (void)start;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string where_;
};

// ---------------------------------------------------------------- header
struct TensorInfo {
  std::string name;
  Dtype dtype = float32;
  Shape shape;
  uint64_t begin = 0, end = 0, nbytes = 0;
};

struct Header {
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
};

Header parse_header(std::string_view json, uint64_t data_size, const std::string& where) {
  if (!valid_utf8(json)) throw CheckpointError(where + ": the header is not valid UTF-8");
  JsonReader r(json, where);
  Header h;
  std::map<std::string, size_t> seen;
  bool have_meta = false;
  r.object([&](const std::string& key) {
    if (key == "__metadata__") {
      if (have_meta) r.fail("'__metadata__' appears twice");
      have_meta = true;
      r.object([&](const std::string& k) {
        if (r.peek() != '"') r.fail("metadata value of '" + k + "' is not a string");
        if (!h.metadata.emplace(k, r.string()).second) r.fail("metadata '" + k + "' appears twice");
      });
      return;
    }
    if (!seen.emplace(key, h.tensors.size()).second) r.fail("tensor '" + key + "' appears twice");
    TensorInfo t;
    t.name = key;
    const std::string what = where + ": tensor '" + key + "'";
    bool have_dtype = false, have_shape = false, have_offsets = false;
    r.object([&](const std::string& field) {
      if (field == "dtype") {
        if (have_dtype) r.fail("tensor '" + key + "' has two dtypes");
        have_dtype = true;
        std::string d = r.string();
        auto it = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                               [&](const DtypeName& e) { return d == e.name; });
        if (it == std::end(kDtypes))
          throw CheckpointError(what + " has dtype '" + d +
                                "', which kiln does not support (F32, F16, BF16, I32, U32, I64, "
                                "BOOL)");
        t.dtype = it->dtype;
      } else if (field == "shape") {
        if (have_shape) r.fail("tensor '" + key + "' has two shapes");
        have_shape = true;
        std::vector<int64_t> dims;
        r.array_of([&] {
          uint64_t d = r.uint();
          if (dims.size() >= 64) r.fail("tensor '" + key + "' has more than 64 dimensions");
          if (d > INT_MAX)
            throw CheckpointError(what + " has an invalid dimension " + std::to_string(d));
          dims.push_back(static_cast<int64_t>(d));
        });
        uint64_t count;
        t.shape = io_detail::checked_shape(dims, &count, what);
      } else if (field == "data_offsets") {
        if (have_offsets) r.fail("tensor '" + key + "' has two data_offsets");
        have_offsets = true;
        std::vector<uint64_t> o;
        r.array_of([&] {
          if (o.size() >= 2) r.fail("data_offsets of '" + key + "' must have two entries");
          o.push_back(r.uint());
        });
        if (o.size() != 2) r.fail("data_offsets of '" + key + "' must have two entries");
        t.begin = o[0];
        t.end = o[1];
      } else {
        r.skip();  // unknown fields are ignored, as by the reference reader
      }
    });
    if (!have_dtype || !have_shape || !have_offsets)
      throw CheckpointError(what + " lacks " +
                            (!have_dtype   ? "'dtype'"
                             : !have_shape ? "'shape'"
                                           : "'data_offsets'"));
    t.nbytes = detail::shape_size(t.shape) * static_cast<uint64_t>(t.dtype.size());
    if (t.begin > t.end)
      throw CheckpointError(what + " has data_offsets [" + std::to_string(t.begin) + ", " +
                            std::to_string(t.end) + "] that run backwards");
    if (t.end - t.begin != t.nbytes)
      throw CheckpointError(what + " of dtype " + safetensors_dtype(t.dtype) + " and shape " +
                            detail::shape_str(t.shape) + " needs " + std::to_string(t.nbytes) +
                            " bytes but data_offsets span " + std::to_string(t.end - t.begin));
    h.tensors.push_back(std::move(t));
  });
  if (!r.at_end()) r.fail("unexpected content after the header object");

  // The data must be exactly the tensors, back to back (the reference reader's rule).
  std::vector<const TensorInfo*> order;
  for (auto& t : h.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  for (auto* t : order) {
    if (t->begin != pos)
      throw CheckpointError(where + ": tensor '" + t->name + "' starts at byte " +
                            std::to_string(t->begin) +
                            " of the data but the previous one ends at " + std::to_string(pos) +
                            (t->begin < pos ? " (overlap)" : " (gap)"));
    pos = t->end;
  }
  if (pos != data_size)
    throw CheckpointError(where + ": the tensors cover " + std::to_string(pos) +
                          " bytes but the file holds " + std::to_string(data_size) +
                          " bytes of data" + (pos > data_size ? " (truncated)" : ""));
  return h;
}

template <typename Source>
SafetensorsLoad load_from(const Source& src, const std::string& name) {
  const std::string where = "[load_safetensors] '" + name + "'";
  uint64_t size = src.size();
  if (size < 8)
    throw CheckpointError(where + " is truncated: " + std::to_string(size) +
                          " bytes, the header length alone needs 8");
  uint8_t lenb[8];
  src.read(0, lenb, 8, "the header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{lenb[i]} << (8 * i);
  if (n > kMaxHeader)
    throw CheckpointError(where + ": header length " + std::to_string(n) +
                          " exceeds the limit of " + std::to_string(kMaxHeader) +
                          " bytes (not a safetensors file, or damaged)");
  if (n > size - 8)
    throw CheckpointError(where + " is truncated: the header length " + std::to_string(n) +
                          " exceeds the " + std::to_string(size - 8) + " bytes that follow it");
  if (n < 2)
    throw CheckpointError(where + ": header length " + std::to_string(n) + " is too short");
  std::string json(static_cast<size_t>(n), '\0');
  src.read(8, json.data(), json.size(), "the header");
  if (json[0] != '{')
    throw CheckpointError(where +
                          " is not a safetensors file (the header does not start with '{')");
  Header h = parse_header(json, size - 8 - n, where);

  SafetensorsLoad out;
  out.second = std::move(h.metadata);
  for (auto& t : h.tensors) {
    uint8_t* p = nullptr;
    array a = io_detail::make_host_array(t.shape, t.dtype, &p);
    src.read(8 + n + t.begin, p, static_cast<size_t>(t.nbytes), "tensor data");
    if (t.dtype == bool_) io_detail::normalize_bools(p, static_cast<size_t>(t.nbytes));
    out.first.emplace(t.name, std::move(a));
  }
  return out;
}

// ---------------------------------------------------------------- writing
void json_string(std::string& out, const std::string& s, const char* what) {
  if (!valid_utf8(s))
    throw std::invalid_argument(std::string("[save_safetensors] ") + what + " is not valid UTF-8");
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// The header (padded with spaces so the data starts 8-byte aligned) and the arrays in
// data order.
std::string make_header(const std::map<std::string, array>& arrays,
                        const std::map<std::string, std::string>& metadata) {
  std::string h = "{";
  bool first = true;
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    for (auto& [k, v] : metadata) {
      if (!first) h += ",";
      first = false;
      json_string(h, k, "a metadata key");
      h += ":";
      json_string(h, v, "a metadata value");
    }
    h += "}";
    first = false;
  }
  uint64_t off = 0;
  for (auto& [name, a] : arrays) {
    if (name == "__metadata__")
      throw std::invalid_argument("[save_safetensors] '__metadata__' cannot name an array");
    if (!first) h += ",";
    first = false;
    json_string(h, name, ("array name '" + name + "'").c_str());
    h += ":{\"dtype\":\"";
    h += safetensors_dtype(a.dtype());
    h += "\",\"shape\":[";
    for (int i = 0; i < a.ndim(); ++i) {
      if (i) h += ",";
      h += std::to_string(a.shape(i));
    }
    h += "],\"data_offsets\":[" + std::to_string(off) + ",";
    off += a.nbytes();
    h += std::to_string(off) + "]}";
  }
  h += "}";
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  return h;
}

void write_to(FileSink& sink, const std::map<std::string, array>& arrays,
              const std::map<std::string, std::string>& metadata) {
  std::string header = make_header(arrays, metadata);
  std::vector<array> all;
  for (auto& [k, a] : arrays) all.push_back(a);
  io_detail::eval_for_save(all);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i));
  sink.write(len, 8);
  sink.write(header.data(), header.size());
  for (auto& a : all) {
    if (a.nbytes()) sink.write(io_detail::host_bytes(a), a.nbytes());
  }
}

void check_arrays(const std::map<std::string, array>& arrays) {
  for (auto& [k, a] : arrays)
    if (!a.valid())
      throw std::invalid_argument("[save_safetensors] array '" + k + "' is an empty handle");
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, array>& arrays,
                      const std::map<std::string, std::string>& metadata) {
  check_arrays(arrays);
  make_header(arrays, metadata);  // validates names before a file is created
  atomic_write_file(path, [&](FileSink& s) { write_to(s, arrays, metadata); });
}

SafetensorsLoad load_safetensors(const std::string& path) {
  FileSource f(path);
  return load_from(f, path);
}

namespace detail {
std::vector<uint8_t> encode_safetensors(const std::map<std::string, array>& arrays,
                                        const std::map<std::string, std::string>& metadata) {
  check_arrays(arrays);
  io_detail::VecSink s;
  write_to(s, arrays, metadata);
  return std::move(s.out);
}
SafetensorsLoad decode_safetensors(const void* data, size_t n, const std::string& name) {
  return load_from(io_detail::MemSource(data, n, name), name);
}
}  // namespace detail

}  // namespace kiln
