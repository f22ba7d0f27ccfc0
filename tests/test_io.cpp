// io/: container (CRC32C, framing, atomic writes), checkpoints of training states.
#include <gtest/gtest.h>
#include <kiln/core/errors.h>
#include <kiln/core/ops.h>
#include <kiln/core/random.h>
#include <kiln/io/checkpoint.h>
#include <kiln/io/container.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace kx = kiln;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kiln-io-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> bytes_of(kx::array a) {
  a.eval();
  const auto* p = a.data<uint8_t>();
  return std::vector<uint8_t>(p, p + a.nbytes());
}

// Same dtype, shape and bytes.
::testing::AssertionResult same_array(kx::array a, kx::array b) {
  if (a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "dtype " << a.dtype() << " vs " << b.dtype();
  if (a.shape() != b.shape()) return ::testing::AssertionFailure() << "shapes differ";
  if (bytes_of(a) != bytes_of(b)) return ::testing::AssertionFailure() << "bytes differ";
  return ::testing::AssertionSuccess();
}

// One array of every dtype, with awkward values (NaN, -0, extremes, empty, scalar).
std::map<std::string, kx::array> every_dtype() {
  std::map<std::string, kx::array> m;
  m["bool"] = kx::array(std::vector<bool>{true, false, true, true}, {2, 2});
  m["uint32"] = kx::array({0u, 1u, 0xffffffffu}, kx::uint32);
  m["int32"] = kx::array({-2147483647 - 1, 0, 2147483647}, kx::int32);
  m["int64"] = kx::array(std::vector<int64_t>{INT64_MIN, -1, INT64_MAX}, {3}, kx::int64);
  m["float16"] = kx::array({1.5f, -0.f, 65504.f, NAN}, kx::float16);
  m["bfloat16"] = kx::array({1.5f, -3.f, 1e30f, INFINITY}, kx::bfloat16);
  m["float32"] = kx::random::normal({3, 4, 5}, kx::float32, 0.f, 1.f, kx::random::key(7));
  m["scalar"] = kx::array(3.25f);
  m["empty"] = kx::zeros({0, 3});
  return m;
}

kx::TrainingState sample_state() {
  kx::TrainingState s;
  s.parameters = every_dtype();
  s.optimizer = "Adam";
  s.optimizer_state["step"] = kx::array(12u, kx::uint32);
  s.optimizer_state["learning_rate"] = kx::array(0.001f);
  s.optimizer_state["layers.0.weight.m"] = kx::ones({4, 3});
  s.rng_state = {kx::random::key(42)};
  s.step = 1234567890123ull;
  s.metadata = {
      {"run", "alpha"}, {"epoch", "3"}, {"", "empty key"}, {"bytes", std::string("a\0b", 3)}};
  return s;
}

void expect_same_state(const kx::TrainingState& a, const kx::TrainingState& b) {
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (auto& [k, v] : a.parameters) {
    ASSERT_TRUE(b.parameters.count(k)) << k;
    EXPECT_TRUE(same_array(v, b.parameters.at(k))) << k;
  }
  EXPECT_EQ(a.optimizer, b.optimizer);
  ASSERT_EQ(a.optimizer_state.size(), b.optimizer_state.size());
  for (auto& [k, v] : a.optimizer_state) EXPECT_TRUE(same_array(v, b.optimizer_state.at(k))) << k;
  ASSERT_EQ(a.rng_state.size(), b.rng_state.size());
  for (size_t i = 0; i < a.rng_state.size(); ++i)
    EXPECT_TRUE(same_array(a.rng_state[i], b.rng_state[i]));
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.metadata, b.metadata);
}

// The message of the CheckpointError thrown by f (fails the test if none is thrown).
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

}  // namespace

// ------------------------------------------------------------ CRC32C
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(kx::crc32c("123456789", 9), 0xE3069283u);  // the standard check value
  EXPECT_EQ(kx::crc32c("", 0), 0u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff);
  EXPECT_EQ(kx::crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(kx::crc32c(ones.data(), 32), 0x62A8AB43u);
  std::vector<uint8_t> inc(32);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(kx::crc32c(inc.data(), 32), 0x46DD794Eu);
}

TEST(Crc32c, IncrementalAndUnaligned) {
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  uint32_t whole = kx::crc32c(data.data(), data.size());
  for (size_t split : {0, 1, 3, 8, 13, 500, 999, 1000}) {
    uint32_t c = kx::crc32c(data.data(), split);
    c = kx::crc32c(data.data() + split, data.size() - split, c);
    EXPECT_EQ(c, whole) << split;
  }
  // Bytewise reference over unaligned starts.
  for (size_t off = 0; off < 9; ++off) {
    uint32_t ref = ~0u;
    for (size_t i = off; i < data.size(); ++i) {
      ref ^= data[i];
      for (int k = 0; k < 8; ++k) ref = (ref & 1) ? (ref >> 1) ^ 0x82F63B78u : ref >> 1;
    }
    EXPECT_EQ(kx::crc32c(data.data() + off, data.size() - off), ~ref) << off;
  }
}

// ------------------------------------------------------------ container
TEST(Container, FrameAndCheck) {
  std::string payload = "hello, checkpoint";
  auto img = kx::frame_container(payload.data(), payload.size());
  ASSERT_EQ(img.size(), kx::kContainerHeaderSize + payload.size());
  auto h = kx::check_container(img.data(), img.size(), "mem");
  EXPECT_EQ(h.format_version, kx::kContainerFormatVersion);
  EXPECT_EQ(h.payload_length, payload.size());
  EXPECT_EQ(h.kiln_version, kx::kiln_version());
  EXPECT_FALSE(h.kiln_version.empty());
}

TEST(Container, RejectsDamage) {
  std::string payload(100, 'x');
  auto img = kx::frame_container(payload.data(), payload.size());
  auto msg = [&](std::vector<uint8_t> b) {
    return checkpoint_error([&] { kx::check_container(b.data(), b.size(), "f"); });
  };
  auto b = img;
  b[0] ^= 1;
  EXPECT_NE(msg(b).find("bad magic"), std::string::npos);
  b = img;
  b[20] ^= 1;  // payload length
  EXPECT_NE(msg(b).find("header (checksum"), std::string::npos);
  b = img;
  b[100] ^= 1;
  EXPECT_NE(msg(b).find("payload checksum"), std::string::npos);
  b = img;
  b.resize(b.size() - 1);
  EXPECT_NE(msg(b).find("truncated"), std::string::npos);
  b = img;
  b.push_back(0);
  EXPECT_NE(msg(b).find("unexpected bytes"), std::string::npos);
  b.assign(img.begin(), img.begin() + 30);
  EXPECT_NE(msg(b).find("truncated"), std::string::npos);
  EXPECT_NE(msg({}).find("bad magic"), std::string::npos);
  std::vector<uint8_t> npy = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  EXPECT_NE(msg(npy).find(".npy"), std::string::npos);
}

// A file from a newer kiln: the message names both format versions (and the writer's version).
TEST(Container, NewerFormatNamesBothVersions) {
  std::string payload = "future";
  auto img = kx::frame_container(payload.data(), payload.size());
  img[8] = 7;  // format version 7
  uint32_t c = kx::crc32c(img.data(), 60);
  for (int i = 0; i < 4; ++i) img[60 + i] = static_cast<uint8_t>(c >> (8 * i));
  auto m = checkpoint_error([&] { kx::check_container(img.data(), img.size(), "f"); });
  EXPECT_NE(m.find("format version 7"), std::string::npos) << m;
  EXPECT_NE(m.find("up to 1"), std::string::npos) << m;
  EXPECT_NE(m.find(kx::kiln_version()), std::string::npos) << m;
}

TEST(AtomicWrite, WritesAndRotates) {
  TempDir d;
  std::string p = d.file("a.bin");
  for (int i = 0; i < 5; ++i) {
    std::string s = "version " + std::to_string(i);
    kx::atomic_write_file(p, s.data(), s.size(), {.keep_last = 3});
  }
  auto text = [](const std::string& f) {
    auto b = read_all(f);
    return std::string(b.begin(), b.end());
  };
  EXPECT_EQ(text(p), "version 4");
  EXPECT_EQ(text(p + ".1"), "version 3");
  EXPECT_EQ(text(p + ".2"), "version 2");
  EXPECT_FALSE(fs::exists(p + ".3"));
  // Only the three files remain (no temporaries).
  int n = 0;
  for (auto& e : fs::directory_iterator(d.path())) n += static_cast<int>(e.is_regular_file());
  EXPECT_EQ(n, 3);
  EXPECT_THROW(kx::atomic_write_file(d.file("nodir/x"), "x", 1), kx::CheckpointError);
  EXPECT_THROW(kx::atomic_write_file(p, "x", 1, {.keep_last = 0}), std::invalid_argument);
}

TEST(FileSource, RejectsMissingDirectoryAndFifo) {
  TempDir d;
  EXPECT_THROW(kx::FileSource(d.file("missing")), kx::CheckpointError);
  EXPECT_THROW(kx::FileSource(d.path()), kx::CheckpointError);
  std::string fifo = d.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Must not block waiting for a writer.
  EXPECT_THROW(kx::load_training_state(fifo), kx::CheckpointError);
}

// ------------------------------------------------------------ training state
TEST(TrainingState, RoundTripEveryDtype) {
  TempDir d;
  auto s = sample_state();
  std::string p = d.file("state.kiln");
  kx::save_training_state(p, s);
  kx::CheckpointInfo info;
  auto r = kx::load_training_state(p, &info);
  expect_same_state(s, r);
  EXPECT_EQ(info.step, s.step);
  EXPECT_EQ(info.metadata, s.metadata);
  EXPECT_EQ(info.optimizer, "Adam");
  EXPECT_EQ(info.kiln_version, kx::kiln_version());
  EXPECT_EQ(info.format_version, kx::kContainerFormatVersion);
  // Loaded arrays live on the host, evaluated.
  for (auto& [k, a] : r.parameters) EXPECT_TRUE(a.is_available()) << k;
}

TEST(TrainingState, LazyArraysAreEvaluatedOnSave) {
  TempDir d;
  kx::TrainingState s;
  s.parameters["w"] = kx::add(kx::ones({2, 3}), kx::array(2.f));
  kx::save_training_state(d.file("s"), s);
  auto r = kx::load_training_state(d.file("s"));
  EXPECT_EQ(r.parameters.at("w").to_vector<float>(), std::vector<float>(6, 3.f));
}

TEST(TrainingState, EmptyState) {
  TempDir d;
  kx::TrainingState s;
  kx::save_training_state(d.file("e"), s);
  auto r = kx::load_training_state(d.file("e"));
  expect_same_state(s, r);
}

TEST(TrainingState, EncodeDecodeInMemory) {
  auto s = sample_state();
  auto payload = kx::detail::encode_training_state(s);
  auto img = kx::frame_container(payload.data(), payload.size());
  expect_same_state(s, kx::detail::decode_training_state(img.data(), img.size(), "mem"));
}

TEST(TrainingState, ForeignAndMissingFiles) {
  TempDir d;
  auto m = checkpoint_error([&] { kx::load_training_state(d.file("nope")); });
  EXPECT_NE(m.find("nope"), std::string::npos);
  write_all(d.file("text"), {'h', 'e', 'l', 'l', 'o'});
  m = checkpoint_error([&] { kx::load_training_state(d.file("text")); });
  EXPECT_NE(m.find("not a kiln checkpoint"), std::string::npos) << m;
  write_all(d.file("empty"), {});
  checkpoint_error([&] { kx::load_training_state(d.file("empty")); });
}

// A payload whose cereal records come from a newer kiln: the message names both versions.
// Layout of the start of a payload (docs/checkpoints.md): endianness byte, training-state
// record version (u32), parameter count (u64), name length (u64), name, array record
// version (u32), ...
TEST(TrainingState, NewerRecordVersionsNameBothVersions) {
  kx::TrainingState s;
  s.parameters["w"] = kx::ones({2});
  auto payload = kx::detail::encode_training_state(s);
  ASSERT_EQ(payload[0], 1);   // little endian
  ASSERT_EQ(payload[1], 1);   // training state record version 1
  ASSERT_EQ(payload[13], 1);  // name length 1
  ASSERT_EQ(payload[21], 'w');
  ASSERT_EQ(payload[22], 1);  // array record version 1
  auto load = [](std::vector<uint8_t> p) {
    auto img = kx::frame_container(p.data(), p.size());
    return checkpoint_error(
        [&] { kx::detail::decode_training_state(img.data(), img.size(), "f"); });
  };
  auto p = payload;
  p[1] = 3;
  auto m = load(p);
  EXPECT_NE(m.find("training state record version 3"), std::string::npos) << m;
  EXPECT_NE(m.find("up to version 1"), std::string::npos) << m;
  p = payload;
  p[22] = 2;
  m = load(p);
  EXPECT_NE(m.find("array record version 2"), std::string::npos) << m;
  EXPECT_NE(m.find("parameter 'w'"), std::string::npos) << m;
  // Unknown dtype code and a byte count that disagrees with the shape.
  p = payload;
  p[26] = 99;
  EXPECT_NE(load(p).find("unknown dtype code 99"), std::string::npos);
  p = payload;
  p[39] = 9;  // byte count 8 -> 9
  m = load(p);
  EXPECT_NE(m.find("holds 9 bytes"), std::string::npos) << m;
}
