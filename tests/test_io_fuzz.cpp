// io/ fuzz test: thousands of truncated, extended and mutated checkpoint, safetensors and .npy
// images (byte flips, length fields set huge, truncation at every byte — for checkpoints also
// with the checksums recomputed, so that the cereal payload parser itself sees the damage).
// Every load must either succeed or throw kiln::CheckpointError: never crash, hang, throw
// anything else or make a large allocation (every allocation is watched). Deterministic.
// Run it under AddressSanitizer with a -DKILN_SANITIZE=ON build (docs/checkpoints.md).
#include <gtest/gtest.h>
#include <kiln/core/errors.h>
#include <kiln/core/ops.h>
#include <kiln/core/random.h>
#include <kiln/io/checkpoint.h>
#include <kiln/io/container.h>
#include <kiln/io/npy.h>
#include <kiln/io/safetensors.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <random>
#include <string>
#include <vector>

// ---------------------------------------------------------------- allocation watch
// The largest single allocation made while g_watch is on: operator new (containers,
// strings) and aligned_alloc (kiln's array storage).
namespace {
std::atomic<bool> g_watch{false};
std::atomic<size_t> g_max_alloc{0};
void note(size_t n) {
  if (!g_watch.load(std::memory_order_relaxed)) return;
  size_t cur = g_max_alloc.load(std::memory_order_relaxed);
  while (n > cur && !g_max_alloc.compare_exchange_weak(cur, n)) {
  }
}
void* checked_malloc(size_t n) {
  note(n);
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(size_t n) { return checked_malloc(n); }
void* operator new[](size_t n) { return checked_malloc(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  note(n);
  return std::malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  note(n);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
extern "C" void* aligned_alloc(size_t alignment, size_t n) {
  note(n);
  void* p = nullptr;
  if (::posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, n) != 0)
    return nullptr;
  return p;
}

namespace kx = kiln;

namespace {

constexpr size_t kAllocLimit = 1 << 20;  // images are a few KiB; nothing may ask for 1 MiB

struct Tally {
  size_t ok = 0, rejected = 0;
};

// Runs one load: success and CheckpointError are fine, anything else fails the test.
template <typename F>
void attempt(Tally& t, const char* what, size_t index, F&& f, bool must_reject = false) {
  bool accepted = false;
  try {
    f();
    accepted = true;
  } catch (const kx::CheckpointError&) {
    ++t.rejected;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << " #" << index << ": " << typeid(e).name() << ": " << e.what();
    return;
  }
  if (accepted) {
    ++t.ok;
    if (must_reject) ADD_FAILURE() << what << " #" << index << " was accepted";
  }
}

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Re-frames a (mutated) payload with a valid header and checksums.
std::vector<uint8_t> reframe(const std::vector<uint8_t>& payload) {
  return kx::frame_container(payload.data(), payload.size());
}

kx::TrainingState sample_state() {
  kx::TrainingState s;
  s.parameters["l1.weight"] = kx::random::normal({4, 3}, kx::float32, 0.f, 1.f, kx::random::key(1));
  s.parameters["l1.bias"] = kx::zeros({4}, kx::bfloat16);
  s.parameters["emb"] = kx::ones({2, 2}, kx::float16);
  s.parameters["ids"] = kx::array({1, 2, 3}, kx::int32);
  s.parameters["big"] = kx::array(std::vector<int64_t>{1, -1}, {2}, kx::int64);
  s.parameters["mask"] = kx::array(std::vector<bool>{true, false}, {2});
  s.parameters["u"] = kx::array({7u}, kx::uint32);
  s.parameters["scalar"] = kx::array(2.f);
  s.optimizer = "Adam";
  s.optimizer_state = {{"step", kx::array(3)},
                       {"learning_rate", kx::array(0.01f)},
                       {"l1.weight.m", kx::zeros({4, 3})}};
  s.rng_state = {kx::random::key(9)};
  s.step = 77;
  s.metadata = {{"epoch", "2"}, {"name", "fuzz"}};
  return s;
}

std::map<std::string, kx::array> sample_arrays() {
  auto s = sample_state();
  return s.parameters;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("kiln-fuzz-" + std::to_string(::getpid()) + "-" + name))
      .string();
}
void write_file(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Mutations of an image shared by the three formats.
template <typename Load>
void fuzz_image(const std::vector<uint8_t>& img, Load&& load, const char* name,
                bool flips_must_reject, Tally& t, std::mt19937& rng) {
  // Truncation at every length.
  for (size_t n = 0; n < img.size(); ++n) {
    std::vector<uint8_t> b(img.begin(), img.begin() + static_cast<long>(n));
    attempt(
        t, name, n, [&] { load(b); }, /*must_reject=*/true);
  }
  // Extension by 1..64 bytes.
  for (size_t k = 1; k <= 64; ++k) {
    auto b = img;
    for (size_t i = 0; i < k; ++i) b.push_back(static_cast<uint8_t>(rng()));
    attempt(
        t, name, k, [&] { load(b); }, true);
  }
  // 1-3 random byte flips (a mutation that changes nothing is not required to be rejected).
  for (size_t k = 0; k < 1500; ++k) {
    auto b = img;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    attempt(
        t, name, k, [&] { load(b); }, flips_must_reject && b != img);
  }
  // Every 4- and 8-byte window set to huge values (length and count fields among them).
  const uint64_t huge[] = {~uint64_t{0}, uint64_t{1} << 62, uint64_t{1} << 32, 0x7fffffffu,
                           img.size() + 1};
  for (size_t off = 0; off + 8 <= img.size(); ++off) {
    for (uint64_t v : huge) {
      auto b = img;
      put_u64(b.data() + off, v);
      attempt(
          t, name, off, [&] { load(b); }, flips_must_reject && b != img);
    }
    auto b = img;
    put_u32(b.data() + off, 0xffffffffu);
    attempt(
        t, name, off, [&] { load(b); }, flips_must_reject && b != img);
  }
}

}  // namespace

TEST(IoFuzz, DamagedFilesAreRejectedCleanly) {
  auto start = std::chrono::steady_clock::now();
  std::mt19937 rng(20240601);

  // Images (built before the allocation watch starts).
  kx::TrainingState state = sample_state();
  std::vector<uint8_t> payload = kx::detail::encode_training_state(state);
  std::vector<uint8_t> ckpt = reframe(payload);
  std::vector<uint8_t> st = kx::detail::encode_safetensors(sample_arrays(), {{"k", "v"}});
  std::vector<uint8_t> npy = kx::detail::encode_npy(state.parameters.at("l1.weight"));
  std::string ckpt_file = temp_path("ckpt"), st_file = temp_path("st"), npy_file = temp_path("npy");

  auto load_ckpt = [](const std::vector<uint8_t>& b) {
    kx::detail::decode_training_state(b.data(), b.size(), "fuzz");
  };
  auto load_st = [](const std::vector<uint8_t>& b) {
    kx::detail::decode_safetensors(b.data(), b.size(), "fuzz");
  };
  auto load_npy = [](const std::vector<uint8_t>& b) {
    kx::detail::decode_npy(b.data(), b.size(), "fuzz");
  };

  Tally ck, ckp, sft, np, files;
  g_max_alloc = 0;
  g_watch = true;

  // Checkpoints: the checksums catch every flip of the framed file...
  fuzz_image(ckpt, load_ckpt, "checkpoint", /*flips_must_reject=*/true, ck, rng);
  // ...and with the checksums recomputed the payload parser sees the same damage itself.
  auto load_payload = [&](const std::vector<uint8_t>& p) {
    auto b = reframe(p);
    load_ckpt(b);
  };
  fuzz_image(payload, load_payload, "checkpoint payload", false, ckp, rng);

  // safetensors: also every digit of the header replaced, and huge numbers spliced in.
  fuzz_image(st, load_st, "safetensors", false, sft, rng);
  uint64_t hlen = 0;
  std::memcpy(&hlen, st.data(), 8);
  for (size_t i = 8; i < 8 + hlen; ++i) {
    if (st[i] < '0' || st[i] > '9') continue;
    for (char d : {'0', '1', '5', '9'}) {
      auto b = st;
      b[i] = static_cast<uint8_t>(d);
      attempt(sft, "safetensors digit", i, [&] { load_st(b); });
    }
    for (const char* big : {"99999999999999999999", "4294967296", "18446744073709551615"}) {
      std::string h(st.begin() + 8, st.begin() + 8 + static_cast<long>(hlen));
      h.insert(i - 8, big);
      std::vector<uint8_t> b(8);
      put_u64(b.data(), h.size());
      b.insert(b.end(), h.begin(), h.end());
      b.insert(b.end(), st.begin() + 8 + static_cast<long>(hlen), st.end());
      attempt(sft, "safetensors big number", i, [&] { load_st(b); });
    }
  }

  // .npy.
  fuzz_image(npy, load_npy, "npy", false, np, rng);

  // The same loaders through real files (FileSource), on a sample of truncations and flips.
  for (size_t n = 0; n < ckpt.size(); n += 7) {
    write_file(ckpt_file, std::vector<uint8_t>(ckpt.begin(), ckpt.begin() + static_cast<long>(n)));
    attempt(
        files, "checkpoint file", n, [&] { kx::load_training_state(ckpt_file); }, true);
  }
  for (size_t k = 0; k < 200; ++k) {
    auto b = st;
    b[rng() % b.size()] ^= 0x5a;
    write_file(st_file, b);
    attempt(files, "safetensors file", k, [&] { kx::load_safetensors(st_file); });
    auto c = npy;
    c[rng() % c.size()] ^= 0x5a;
    write_file(npy_file, c);
    attempt(files, "npy file", k, [&] { kx::load_npy(npy_file); });
  }

  g_watch = false;
  std::remove(ckpt_file.c_str());
  std::remove(st_file.c_str());
  std::remove(npy_file.c_str());

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t total = ck.ok + ck.rejected + ckp.ok + ckp.rejected + sft.ok + sft.rejected + np.ok +
                 np.rejected + files.ok + files.rejected;
  std::printf(
      "fuzz: %zu loads in %.2f s; checkpoint %zu rejected / %zu accepted, payload %zu / %zu, "
      "safetensors %zu / %zu, npy %zu / %zu; largest allocation %zu bytes\n",
      total, secs, ck.rejected, ck.ok, ckp.rejected, ckp.ok, sft.rejected, sft.ok, np.rejected,
      np.ok, g_max_alloc.load());
  EXPECT_GT(total, 10000u);
  // The payload mutations must reach the parser's own checks, not only pass through.
  EXPECT_GT(ckp.rejected, 1000u);
  EXPECT_GT(ckp.ok, 0u);
  EXPECT_LT(g_max_alloc.load(), kAllocLimit);
}

// The allocation watch works (so the bound above means something).
TEST(IoFuzz, AllocationWatchSeesLargeRequests) {
  g_max_alloc = 0;
  g_watch = true;
  auto a = kx::zeros({1024, 1024});
  a.eval();
  std::vector<char> v(3 << 20);
  g_watch = false;
  EXPECT_GE(g_max_alloc.load(), size_t{3} << 20);
}
