// io/: safetensors and .npy — round trips of every dtype, files built by hand from the specs,
// an independent reference reader, and the error messages of damaged files.
#include <gtest/gtest.h>
#include <kiln/core/errors.h>
#include <kiln/core/ops.h>
#include <kiln/core/random.h>
#include <kiln/io/npy.h>
#include <kiln/io/safetensors.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace kx = kiln;
namespace fs = std::filesystem;

namespace {

std::string temp_file(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("kiln-io-formats-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}
struct CleanUp {
  ~CleanUp() {
    std::error_code ec;
    fs::remove_all(fs::temp_directory_path() / ("kiln-io-formats-" + std::to_string(::getpid())),
                   ec);
  }
} clean_up;

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> bytes_of(kx::array a) {
  a.eval();
  const auto* p = a.data<uint8_t>();
  return std::vector<uint8_t>(p, p + a.nbytes());
}

::testing::AssertionResult same_array(kx::array a, kx::array b) {
  if (a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "dtype " << a.dtype() << " vs " << b.dtype();
  if (a.shape() != b.shape()) return ::testing::AssertionFailure() << "shapes differ";
  if (bytes_of(a) != bytes_of(b)) return ::testing::AssertionFailure() << "bytes differ";
  return ::testing::AssertionSuccess();
}

std::map<std::string, kx::array> every_dtype() {
  std::map<std::string, kx::array> m;
  m["bool"] = kx::array(std::vector<bool>{true, false, true}, {3});
  m["uint32"] = kx::array({0u, 7u, 0xffffffffu}, kx::uint32);
  m["int32"] = kx::array({-5, 0, 2147483647}, {1, 3}, kx::int32);
  m["int64"] = kx::array(std::vector<int64_t>{INT64_MIN, 3, INT64_MAX}, {3}, kx::int64);
  m["float16"] = kx::array({1.5f, -0.f, 65504.f, NAN}, {2, 2}, kx::float16);
  m["bfloat16"] = kx::array({1.5f, -3.f, 1e30f, INFINITY}, kx::bfloat16);
  m["float32"] = kx::random::normal({2, 3, 4}, kx::float32, 0.f, 1.f, kx::random::key(3));
  m["scalar"] = kx::array(-2.5f);
  m["empty"] = kx::zeros({2, 0});
  m["layers.0.weight"] = kx::reshape(kx::arange(6.f), {2, 3});
  return m;
}

template <typename F>
std::string checkpoint_error(F&& f) {
  try {
    f();
  } catch (const kx::CheckpointError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no CheckpointError thrown";
  return "";
}

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}
template <typename T>
std::string raw(std::initializer_list<T> v) {
  std::string s(v.size() * sizeof(T), '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

// ---------------------------------------------------------------- reference reader
// Written independently of io/safetensors.cpp from the spec: a recursive JSON parser into a
// generic value, then the layout rules checked on that value.
struct JValue {
  std::variant<std::nullptr_t, bool, double, std::string, std::vector<JValue>,
               std::vector<std::pair<std::string, JValue>>>
      v;
};
struct RefJson {
  const std::string& s;
  size_t i = 0;
  void sp() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  JValue parse() {
    sp();
    char c = s.at(i);
    if (c == '{') {
      ++i;
      std::vector<std::pair<std::string, JValue>> o;
      sp();
      if (s.at(i) == '}') {
        ++i;
        return {o};
      }
      for (;;) {
        sp();
        std::string k = std::get<std::string>(parse().v);
        sp();
        if (s.at(i++) != ':') throw std::runtime_error("ref: expected :");
        o.emplace_back(k, parse());
        sp();
        char d = s.at(i++);
        if (d == '}') return {o};
        if (d != ',') throw std::runtime_error("ref: expected ,");
      }
    }
    if (c == '[') {
      ++i;
      std::vector<JValue> a;
      sp();
      if (s.at(i) == ']') {
        ++i;
        return {a};
      }
      for (;;) {
        a.push_back(parse());
        sp();
        char d = s.at(i++);
        if (d == ']') return {a};
        if (d != ',') throw std::runtime_error("ref: expected ,");
      }
    }
    if (c == '"') {
      ++i;
      std::string out;
      while (s.at(i) != '"') {
        if (s[i] == '\\') {
          ++i;
          char e = s.at(i++);
          if (e == 'u') {
            unsigned cp = std::stoul(s.substr(i, 4), nullptr, 16);
            i += 4;
            if (cp >= 0x80) throw std::runtime_error("ref: only ASCII escapes");
            out.push_back(static_cast<char>(cp));
          } else {
            out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
          }
        } else {
          out.push_back(s[i++]);
        }
      }
      ++i;
      return {out};
    }
    size_t used = 0;
    double d = std::stod(s.substr(i), &used);
    i += used;
    return {d};
  }
};

struct RefTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
std::map<std::string, RefTensor> reference_read(const std::vector<uint8_t>& file,
                                                std::map<std::string, std::string>* meta) {
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "data should start 8-byte aligned";
  std::string header(file.begin() + 8, file.begin() + 8 + static_cast<long>(n));
  RefJson p{header};
  JValue root = p.parse();
  p.sp();
  EXPECT_EQ(p.i, header.size());
  size_t data0 = 8 + n;
  std::map<std::string, RefTensor> out;
  uint64_t covered = 0;
  for (auto& [name, v] : std::get<std::vector<std::pair<std::string, JValue>>>(root.v)) {
    auto& fields = std::get<std::vector<std::pair<std::string, JValue>>>(v.v);
    if (name == "__metadata__") {
      for (auto& [k, val] : fields) (*meta)[k] = std::get<std::string>(val.v);
      continue;
    }
    RefTensor t;
    std::vector<double> off;
    for (auto& [k, val] : fields) {
      if (k == "dtype") t.dtype = std::get<std::string>(val.v);
      if (k == "shape")
        for (auto& d : std::get<std::vector<JValue>>(val.v))
          t.shape.push_back(static_cast<int64_t>(std::get<double>(d.v)));
      if (k == "data_offsets")
        for (auto& d : std::get<std::vector<JValue>>(val.v)) off.push_back(std::get<double>(d.v));
    }
    EXPECT_EQ(off.size(), 2u);
    auto b = static_cast<size_t>(off[0]), e = static_cast<size_t>(off[1]);
    covered += e - b;
    t.bytes.assign(file.begin() + static_cast<long>(data0 + b),
                   file.begin() + static_cast<long>(data0 + e));
    out[name] = t;
  }
  EXPECT_EQ(covered, file.size() - data0);
  return out;
}

const char* spec_dtype(kx::Dtype d) {
  if (d == kx::float32) return "F32";
  if (d == kx::float16) return "F16";
  if (d == kx::bfloat16) return "BF16";
  if (d == kx::int32) return "I32";
  if (d == kx::uint32) return "U32";
  if (d == kx::int64) return "I64";
  return "BOOL";
}

}  // namespace

// ---------------------------------------------------------------- safetensors
TEST(Safetensors, RoundTripEveryDtype) {
  auto m = every_dtype();
  std::map<std::string, std::string> meta{{"format", "pt"}, {"quote\"key", "line\nbreak"}};
  std::string p = temp_file("all.safetensors");
  kx::save_safetensors(p, m, meta);
  auto [arrays, md] = kx::load_safetensors(p);
  EXPECT_EQ(md, meta);
  ASSERT_EQ(arrays.size(), m.size());
  for (auto& [k, a] : m) EXPECT_TRUE(same_array(a, arrays.at(k))) << k;
}

TEST(Safetensors, ReadableByReferenceReader) {
  auto m = every_dtype();
  std::string p = temp_file("ref.safetensors");
  kx::save_safetensors(p, m, {{"who", "kiln"}});
  std::map<std::string, std::string> meta;
  auto ref = reference_read(read_all(p), &meta);
  EXPECT_EQ(meta.at("who"), "kiln");
  ASSERT_EQ(ref.size(), m.size());
  for (auto& [k, a] : m) {
    auto& t = ref.at(k);
    EXPECT_EQ(t.dtype, spec_dtype(a.dtype())) << k;
    EXPECT_EQ(t.shape, std::vector<int64_t>(a.shape().begin(), a.shape().end())) << k;
    EXPECT_EQ(t.bytes, bytes_of(a)) << k;
  }
}

// A file assembled byte by byte from the specification (little-endian u64 header length,
// JSON header padded with spaces, data in any tensor order).
TEST(Safetensors, HandBuiltFileLoads) {
  std::string header =
      R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      R"( "a" : { "shape" : [2, 2], "dtype" : "I32", "data_offsets" : [0, 16], "extra": [1, {"x": null}] },)"
      R"("caf\u00e9":{"dtype":"BF16","shape":[],"data_offsets":[24,26]},)"
      R"("z":{"dtype":"BOOL","shape":[0,3],"data_offsets":[26,26]},)"
      R"("__metadata__":{"format":"pt","note":"tab\there"}})";
  header += "    ";
  std::string data = raw<int32_t>({1, -2, 3, -4}) + raw<float>({0.5f, -1.25f}) +
                     std::string("\xc0\x3f", 2);  // bf16 of 1.5 = 0x3fc0
  std::string p = temp_file("hand.safetensors");
  write_all(p, u64le(header.size()) + header + data);
  auto [arrays, meta] = kx::load_safetensors(p);
  EXPECT_EQ(meta.at("format"), "pt");
  EXPECT_EQ(meta.at("note"), "tab\there");
  ASSERT_EQ(arrays.size(), 4u);
  EXPECT_EQ(arrays.at("a").shape(), (kx::Shape{2, 2}));
  EXPECT_EQ(arrays.at("a").to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3, -4}));
  EXPECT_EQ(arrays.at("b").to_vector<float>(), (std::vector<float>{0.5f, -1.25f}));
  EXPECT_EQ(arrays.at("caf\xc3\xa9").dtype(), kx::bfloat16);
  EXPECT_EQ(arrays.at("caf\xc3\xa9").item<float>(), 1.5f);
  EXPECT_EQ(arrays.at("z").shape(), (kx::Shape{0, 3}));
  EXPECT_EQ(arrays.at("z").dtype(), kx::bool_);
}

TEST(Safetensors, EmptyFileOfNoTensors) {
  std::string p = temp_file("none.safetensors");
  kx::save_safetensors(p, {});
  auto [arrays, meta] = kx::load_safetensors(p);
  EXPECT_TRUE(arrays.empty());
  EXPECT_TRUE(meta.empty());
}

TEST(Safetensors, DamagedHeadersAreReportedClearly) {
  auto load = [](const std::string& header, const std::string& data) {
    std::string img = u64le(header.size()) + header + data;
    return checkpoint_error([&] { kx::detail::decode_safetensors(img.data(), img.size(), "f"); });
  };
  std::string d8(8, '\0');
  EXPECT_NE(load(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", d8).find("'F64'"),
            std::string::npos);
  EXPECT_NE(load(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8).find("needs 12"),
            std::string::npos);
  EXPECT_NE(load(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 d8 + "xxxx")
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(load(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8).find("gap"),
            std::string::npos);
  EXPECT_NE(load(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d8).find("cover"),
            std::string::npos);
  EXPECT_NE(
      load(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", d8).find("truncated"),
      std::string::npos);
  EXPECT_NE(load(R"({"a":{"dtype":"F32","shape":[2]}})", d8).find("data_offsets"),
            std::string::npos);
  EXPECT_NE(load(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", "").find("integer"),
            std::string::npos);
  EXPECT_NE(load(R"({"a":{"dtype":"F32","shape":[99999999999],"data_offsets":[0,0]}})", "")
                .find("dimension"),
            std::string::npos);
  EXPECT_NE(
      load(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{}})", "").find("twice"),
      std::string::npos);
  EXPECT_NE(load(std::string(40, '[') + "]", "").find("not a safetensors"), std::string::npos);
  EXPECT_NE(load("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", "")
                .find("invalid header"),
            std::string::npos);
  EXPECT_NE(load("{\"a\xff\":1}", "").find("UTF-8"), std::string::npos);
  // Huge header length.
  std::string img = u64le(uint64_t{1} << 62) + "{}";
  auto m = checkpoint_error([&] { kx::detail::decode_safetensors(img.data(), img.size(), "f"); });
  EXPECT_NE(m.find("header length"), std::string::npos) << m;
  img = u64le(100) + "{}";
  m = checkpoint_error([&] { kx::detail::decode_safetensors(img.data(), img.size(), "f"); });
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;
}

TEST(Safetensors, SaveRejectsReservedAndInvalidNames) {
  std::string p = temp_file("bad.safetensors");
  EXPECT_THROW(kx::save_safetensors(p, {{"__metadata__", kx::array(1.f)}}), std::invalid_argument);
  EXPECT_THROW(kx::save_safetensors(p, {{"bad\xff", kx::array(1.f)}}), std::invalid_argument);
  EXPECT_FALSE(fs::exists(p));
}

// ---------------------------------------------------------------- npy
TEST(Npy, RoundTripEveryDtype) {
  for (auto& [k, a] : every_dtype()) {
    std::string p = temp_file(k + ".npy");
    kx::save(p, a);
    EXPECT_TRUE(same_array(a, kx::load(p))) << k;
  }
}

// The exact bytes NumPy writes for np.save(f, np.zeros((2, 3), np.float32)).
TEST(Npy, HeaderMatchesNumpy) {
  auto bytes = kx::detail::encode_npy(kx::zeros({2, 3}));
  std::string expect = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expect.append(128 - 10 - expect.size() - 1, ' ');
  expect += "\n";
  ASSERT_EQ(bytes.size(), 128u + 24u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(bytes[8] | (bytes[9] << 8), 118);
  EXPECT_EQ(std::string(bytes.begin() + 10, bytes.begin() + 128), expect);
  auto one = kx::detail::encode_npy(kx::zeros({5}, kx::int64));
  EXPECT_NE(std::string(one.begin(), one.end()).find("'shape': (5,), }"), std::string::npos);
  auto scalar = kx::detail::encode_npy(kx::array(true));
  EXPECT_NE(std::string(scalar.begin(), scalar.end()).find("'descr': '|b1'"), std::string::npos);
  EXPECT_NE(std::string(scalar.begin(), scalar.end()).find("'shape': (), }"), std::string::npos);
}

namespace {
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  std::string h = dict + "\n";
  std::string pre = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  if (major == 1) {
    pre += static_cast<char>(h.size() & 0xff);
    pre += static_cast<char>(h.size() >> 8);
  } else {
    pre += u64le(h.size()).substr(0, 4);
  }
  return pre + h + data;
}
kx::array npy_decode(const std::string& img) {
  return kx::detail::decode_npy(img.data(), img.size(), "f");
}
}  // namespace

TEST(Npy, HandBuiltFilesOfOtherWriters) {
  // float64 → float32.
  auto a = npy_decode(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                               raw<double>({0.5, -2.0, 1e10})));
  EXPECT_EQ(a.dtype(), kx::float32);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0.5f, -2.f, 1e10f}));
  // Fortran order: column-major [[1, 2, 3], [4, 5, 6]].
  a = npy_decode(npy_file("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }",
                          raw<int32_t>({1, 4, 2, 5, 3, 6})));
  EXPECT_EQ(a.to_vector<int32_t>(), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  // Fortran order in 3-D against the definition.
  {
    std::vector<int32_t> f(24);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) f[i + 2 * (j + 3 * k)] = 100 * i + 10 * j + k;
    std::string d(reinterpret_cast<const char*>(f.data()), f.size() * 4);
    a = npy_decode(npy_file("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", d));
    auto v = a.to_vector<int32_t>();
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) EXPECT_EQ(v[(i * 3 + j) * 4 + k], 100 * i + 10 * j + k);
  }
  // Big-endian int32, version 2.0 header, Python 2 long dims, double quotes.
  a = npy_decode(npy_file("{\"descr\": \">i4\", \"fortran_order\": False, \"shape\": (2L,)}",
                          std::string("\x00\x00\x01\x02\xff\xff\xff\xfe", 8), 2));
  EXPECT_EQ(a.to_vector<int32_t>(), (std::vector<int32_t>{0x0102, -2}));
  // uint8 and int16 widen to int32; bool bytes other than 0/1 become true.
  a = npy_decode(npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }",
                          std::string("\x00\xff", 2)));
  EXPECT_EQ(a.dtype(), kx::int32);
  EXPECT_EQ(a.to_vector<int32_t>(), (std::vector<int32_t>{0, 255}));
  a = npy_decode(npy_file("{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }", "\xfe\xff"));
  EXPECT_EQ(a.item<int32_t>(), -2);
  a = npy_decode(npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
                          std::string("\x07\x00", 2)));
  EXPECT_EQ(std::vector<uint8_t>(a.data<uint8_t>(), a.data<uint8_t>() + 2),
            (std::vector<uint8_t>{1, 0}));
  // bfloat16 as MLX writes it.
  a = npy_decode(npy_file("{'descr': '<V2', 'fortran_order': False, 'shape': (), }", "\xc0\x3f"));
  EXPECT_EQ(a.dtype(), kx::bfloat16);
  EXPECT_EQ(a.item<float>(), 1.5f);
}

TEST(Npy, DamagedFilesAreReportedClearly) {
  auto err = [](const std::string& img) { return checkpoint_error([&] { npy_decode(img); }); };
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  EXPECT_NE(err("hello").find("not an .npy"), std::string::npos);
  EXPECT_NE(err(npy_file(ok, std::string(7, 'x'))).find("truncated"), std::string::npos);
  EXPECT_NE(err(npy_file(ok, std::string(9, 'x'))).find("needs 8"), std::string::npos);
  EXPECT_NE(err(npy_file("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "12345678"))
                .find("'<c8'"),
            std::string::npos);
  EXPECT_NE(err(npy_file("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", "12345678"))
                .find("uint64"),
            std::string::npos);
  EXPECT_NE(
      err(npy_file("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,), }", "1234"))
          .find("structured"),
      std::string::npos);
  EXPECT_NE(err(npy_file("{'descr': '<f4', 'shape': (1,), }", "1234")).find("fortran_order"),
            std::string::npos);
  EXPECT_NE(err(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "1234"))
                .find("'x'"),
            std::string::npos);
  EXPECT_NE(err(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }", ""))
                .find("too large"),
            std::string::npos);
  EXPECT_NE(err(std::string("\x93NUMPY\x04\x00", 8) + "xxxxxx").find("version 4.0"),
            std::string::npos);
  // Header length beyond the file.
  EXPECT_NE(err(std::string("\x93NUMPY\x01\x00\xff\xff", 10) + "{").find("truncated"),
            std::string::npos);
}
