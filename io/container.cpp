#include "container.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "../core/errors.h"

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

namespace kiln {

// ---------------------------------------------------------------- CRC32C
namespace {

using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr CrcTables make_crc_tables() {
  CrcTables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  return t;
}
constexpr CrcTables kCrc = make_crc_tables();

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = kCrc[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    --n;
  }
  // Slice-by-8 (little-endian load of 8 bytes at a time).
  while (n >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    if constexpr (std::endian::native == std::endian::big) {
      lo = __builtin_bswap32(lo);
      hi = __builtin_bswap32(hi);
    }
    lo ^= c;
    c = kCrc[7][lo & 0xff] ^ kCrc[6][(lo >> 8) & 0xff] ^ kCrc[5][(lo >> 16) & 0xff] ^
        kCrc[4][lo >> 24] ^ kCrc[3][hi & 0xff] ^ kCrc[2][(hi >> 8) & 0xff] ^
        kCrc[1][(hi >> 16) & 0xff] ^ kCrc[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = kCrc[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

// ---------------------------------------------------------------- atomic writes
namespace {

std::mutex g_hook_mutex;
std::function<void(std::string_view)> g_write_hook;

void call_hook(std::string_view stage) {
  std::function<void(std::string_view)> h;
  {
    std::lock_guard<std::mutex> lock(g_hook_mutex);
    h = g_write_hook;
  }
  if (h) h(stage);
}

std::string errno_str(int e) { return std::strerror(e); }

[[noreturn]] void io_fail(const std::string& path, const std::string& what, int e) {
  throw CheckpointError("[save] cannot write '" + path + "': " + what + ": " + errno_str(e));
}

std::pair<std::string, std::string> split_path(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  if (slash == 0) return {"/", path.substr(1)};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

void fsync_dir(const std::string& dir, const std::string& path) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_fail(path, "open directory '" + dir + "'", errno);
  // Some filesystems do not support fsync on directories (EINVAL); the rename is still done.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    int e = errno;
    ::close(fd);
    io_fail(path, "fsync directory '" + dir + "'", e);
  }
  ::close(fd);
}

// Removes temporaries of the same target left by processes that no longer exist (a crash
// during an earlier save). Temporaries of live processes (a concurrent save) are left alone.
void remove_stale_temporaries(const std::string& dir, const std::string& prefix) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string_view name(e->d_name);
    if (name.substr(0, prefix.size()) != prefix) continue;
    std::string_view rest = name.substr(prefix.size());  // "<pid>-<counter>"
    auto dash = rest.find('-');
    if (dash == std::string_view::npos || dash == 0) continue;
    long pid = 0;
    bool ok = true;
    for (char ch : rest.substr(0, dash)) {
      if (ch < '0' || ch > '9' || pid > 100000000) {
        ok = false;
        break;
      }
      pid = pid * 10 + (ch - '0');
    }
    if (!ok || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      ::unlink((dir + "/" + std::string(name)).c_str());
  }
  ::closedir(d);
}

class FdSink : public FileSink {
 public:
  FdSink(int fd, const std::string& path) : fd_(fd), path_(path) {}
  void write(const void* data, size_t n) override {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      size_t chunk = std::min<size_t>(n, size_t{1} << 20);
      ssize_t w = ::write(fd_, p, chunk);
      if (w < 0) {
        if (errno == EINTR) continue;
        io_fail(path_, "write", errno);
      }
      p += w;
      n -= static_cast<size_t>(w);
      call_hook("write");
    }
  }

 private:
  int fd_;
  const std::string& path_;
};

// Keeps `path` as `path.1`, shifting older versions up to `path.<keep-1>` (the oldest is
// dropped). `path` itself stays in place (hard link), so a crash leaves it intact.
void rotate(const std::string& path, int keep) {
  if (keep <= 1 || !exists(path)) return;
  for (int k = keep - 1; k >= 2; --k) {
    std::string from = path + "." + std::to_string(k - 1), to = path + "." + std::to_string(k);
    if (exists(from) && ::rename(from.c_str(), to.c_str()) != 0)
      io_fail(path, "rotate '" + from + "'", errno);
  }
  std::string backup = path + ".1";
  std::string link_tmp = backup + ".link-" + std::to_string(::getpid());
  ::unlink(link_tmp.c_str());
  if (::link(path.c_str(), link_tmp.c_str()) == 0) {
    if (::rename(link_tmp.c_str(), backup.c_str()) != 0) {
      int e = errno;
      ::unlink(link_tmp.c_str());
      io_fail(path, "rotate to '" + backup + "'", e);
    }
  } else if (::rename(path.c_str(), backup.c_str()) != 0) {
    // No hard links on this filesystem: move it (path is briefly absent; path.1 is complete).
    io_fail(path, "rotate to '" + backup + "'", errno);
  }
}

}  // namespace

namespace detail {
void set_write_hook(std::function<void(std::string_view)> hook) {
  std::lock_guard<std::mutex> lock(g_hook_mutex);
  g_write_hook = std::move(hook);
}
}  // namespace detail

void atomic_write_file(const std::string& path, const std::function<void(FileSink&)>& write,
                       const WriteOptions& options) {
  if (path.empty()) throw CheckpointError("[save] empty path");
  if (options.keep_last < 1)
    throw std::invalid_argument("[save] keep_last must be at least 1, got " +
                                std::to_string(options.keep_last));
  auto [dir, base] = split_path(path);
  if (base.empty()) throw CheckpointError("[save] '" + path + "' names a directory, not a file");
  std::string prefix = "." + base + ".tmp-";
  remove_stale_temporaries(dir, prefix);

  static std::atomic<uint64_t> counter{0};
  std::string tmp =
      dir + "/" + prefix + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) io_fail(path, "create temporary '" + tmp + "'", errno);
  try {
    FdSink sink(fd, path);
    write(sink);
    if (::fsync(fd) != 0) io_fail(path, "fsync", errno);
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0) io_fail(path, "close", errno);
    call_hook("synced");
    rotate(path, options.keep_last);
    if (::rename(tmp.c_str(), path.c_str()) != 0) io_fail(path, "rename", errno);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  call_hook("renamed");
  fsync_dir(dir, path);
}

void atomic_write_file(const std::string& path, const void* data, size_t n,
                       const WriteOptions& options) {
  atomic_write_file(
      path, [&](FileSink& s) { s.write(data, n); }, options);
}

// ---------------------------------------------------------------- bounded reads
FileSource::FileSource(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected below.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw CheckpointError("[load] cannot open '" + path + "': " + errno_str(errno));
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    int e = errno;
    ::close(fd_);
    throw CheckpointError("[load] cannot stat '" + path + "': " + errno_str(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw CheckpointError("[load] '" + path + "' is not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

void FileSource::read(uint64_t offset, void* dst, size_t n, const char* what) const {
  if (offset > size_ || n > size_ - offset)
    throw CheckpointError("[load] '" + path_ + "' is truncated: " + what + " needs bytes [" +
                          std::to_string(offset) + ", " + std::to_string(offset + n) +
                          ") but the file has " + std::to_string(size_));
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t r = ::pread(fd_, p, std::min<size_t>(n, size_t{1} << 30), static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw CheckpointError("[load] reading '" + path_ + "' failed: " + errno_str(errno));
    }
    if (r == 0)
      throw CheckpointError("[load] '" + path_ + "' shrank while being read (" + what + ")");
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
}

// ---------------------------------------------------------------- container
std::string kiln_version() { return KILN_VERSION; }

namespace {

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// Later formats keep bytes 0..15 (magic, format version, header size) and the header
// checksum in the last 4 bytes of the header, so any reader can authenticate a newer header
// before reporting that it is newer.
constexpr uint32_t kMaxHeaderSize = 4096;

std::string describe_foreign(const uint8_t* p, size_t n) {
  if (n >= 6 && std::memcmp(p, "\x93NUMPY", 6) == 0) return " (it looks like a .npy file)";
  if (n >= 4 && std::memcmp(p, "PK\x03\x04", 4) == 0)
    return " (it looks like a zip archive, e.g. a PyTorch .pt file)";
  if (n >= 9 && p[8] == '{') return " (it looks like a .safetensors file)";
  return "";
}

}  // namespace

std::array<uint8_t, kContainerHeaderSize> container_header(const void* payload, size_t n) {
  std::array<uint8_t, kContainerHeaderSize> out{};
  uint8_t* h = out.data();
  std::memcpy(h, kContainerMagic, 8);
  put_u32(h + 8, kContainerFormatVersion);
  put_u32(h + 12, kContainerHeaderSize);
  put_u64(h + 16, n);
  put_u32(h + 24, crc32c(payload, n));
  put_u32(h + 28, 0);
  std::string v = kiln_version().substr(0, 23);
  std::memcpy(h + 32, v.data(), v.size());
  put_u32(h + 56, 0);
  put_u32(h + 60, crc32c(h, 60));
  return out;
}

std::vector<uint8_t> frame_container(const void* payload, size_t n) {
  auto h = container_header(payload, n);
  std::vector<uint8_t> out(kContainerHeaderSize + n);
  std::memcpy(out.data(), h.data(), kContainerHeaderSize);
  if (n > 0) std::memcpy(out.data() + kContainerHeaderSize, payload, n);
  return out;
}

void write_container(const std::string& path, const void* payload, size_t n,
                     const WriteOptions& options) {
  auto h = container_header(payload, n);
  atomic_write_file(
      path,
      [&](FileSink& s) {
        s.write(h.data(), h.size());
        s.write(payload, n);
      },
      options);
}

namespace {

// Validates a header image (`avail` bytes of it are present; `file_size` is the whole file).
// Returns the header size.
ContainerHeader check_header(const uint8_t* h, size_t avail, uint64_t file_size,
                             const std::string& name) {
  const std::string where = "[load_checkpoint] '" + name + "'";
  if (file_size < 8 || std::memcmp(h, kContainerMagic, 8) != 0)
    throw CheckpointError(where + " is not a kiln checkpoint (bad magic bytes)" +
                          describe_foreign(h, avail));
  if (file_size < 16 || avail < 16)
    throw CheckpointError(where + " is truncated inside its header (" + std::to_string(file_size) +
                          " bytes)");
  uint32_t version = get_u32(h + 8);
  uint32_t header_size = get_u32(h + 12);
  if (header_size < kContainerHeaderSize || header_size > kMaxHeaderSize || header_size % 4)
    throw CheckpointError(where + " has a damaged header (header size " +
                          std::to_string(header_size) + ")");
  if (file_size < header_size || avail < header_size)
    throw CheckpointError(where + " is truncated inside its header (" + std::to_string(file_size) +
                          " bytes, header needs " + std::to_string(header_size) + ")");
  if (crc32c(h, header_size - 4) != get_u32(h + header_size - 4))
    throw CheckpointError(where + " has a damaged header (checksum mismatch)");
  ContainerHeader out;
  out.format_version = version;
  const char* v = reinterpret_cast<const char*>(h + 32);
  size_t vlen = 0;
  while (vlen < 24 && v[vlen] != '\0') {
    if (v[vlen] < 0x20 || v[vlen] > 0x7e)
      throw CheckpointError(where + " has a damaged header (kiln version field)");
    ++vlen;
  }
  out.kiln_version.assign(v, vlen);
  if (version == 0) throw CheckpointError(where + " has a damaged header (format version 0)");
  if (version > kContainerFormatVersion)
    throw CheckpointError(where + " uses checkpoint format version " + std::to_string(version) +
                          " (written by kiln " + out.kiln_version + "); this kiln (" +
                          kiln_version() + ") reads format versions up to " +
                          std::to_string(kContainerFormatVersion) + ": upgrade kiln to load it");
  if (header_size != kContainerHeaderSize)
    throw CheckpointError(where + " has a damaged header (header size " +
                          std::to_string(header_size) + " in format version 1)");
  out.payload_length = get_u64(h + 16);
  out.payload_crc = get_u32(h + 24);
  if (get_u32(h + 28) != 0)
    throw CheckpointError(where + " uses unknown header flags " + std::to_string(get_u32(h + 28)));
  uint64_t have = file_size - header_size;
  if (out.payload_length > have)
    throw CheckpointError(where + " is truncated: the header announces " +
                          std::to_string(out.payload_length) +
                          " payload bytes but the file holds " + std::to_string(have));
  if (out.payload_length < have)
    throw CheckpointError(where + " has " + std::to_string(have - out.payload_length) +
                          " unexpected bytes after its payload");
  return out;
}

void check_payload(const ContainerHeader& h, const void* payload, const std::string& name) {
  if (crc32c(payload, h.payload_length) != h.payload_crc)
    throw CheckpointError("[load_checkpoint] '" + name +
                          "' is corrupted (payload checksum mismatch)");
}

}  // namespace

ContainerHeader check_container(const void* data, size_t n, const std::string& name) {
  const auto* p = static_cast<const uint8_t*>(data);
  ContainerHeader h = check_header(p, n, n, name);
  check_payload(h, p + kContainerHeaderSize, name);
  return h;
}

std::vector<uint8_t> read_container(const std::string& path, ContainerHeader* header) {
  FileSource f(path);
  uint8_t h[kMaxHeaderSize];
  size_t avail = static_cast<size_t>(std::min<uint64_t>(f.size(), kMaxHeaderSize));
  f.read(0, h, avail, "the header");
  ContainerHeader hd = check_header(h, avail, f.size(), path);
  std::vector<uint8_t> payload(hd.payload_length);
  f.read(kContainerHeaderSize, payload.data(), payload.size(), "the payload");
  check_payload(hd, payload.data(), path);
  if (header) *header = hd;
  return payload;
}

}  // namespace kiln
