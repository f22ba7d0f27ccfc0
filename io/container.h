// The byte-level layer of kiln's file formats: CRC32C, crash-safe (atomic) file writes with
// optional keep-last-N rotation, bounded file reads, and the framed container that carries a
// checkpoint's payload (magic, format version, kiln version, payload length, checksums).
// Every failure throws kiln::CheckpointError naming the file.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// CRC-32C (Castagnoli) of n bytes, continuing from `crc` (0 to start). Software, slice-by-8.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

// Receives the bytes of a file being written (see atomic_write_file).
class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual void write(const void* data, size_t n) = 0;
};

// Options of a crash-safe write.
struct WriteOptions {
  // How many versions to keep: 1 keeps only `path`; N > 1 also keeps the previous N-1 versions
  // as `path.1` (the newest) ... `path.<N-1>` (the oldest).
  int keep_last = 1;
};

// Writes a file so that a crash at any moment leaves either the old or the new complete
// file at `path`: the bytes go to a temporary file in the same directory, which is fsynced,
// renamed over `path`, and the directory is fsynced. `write` produces the content.
void atomic_write_file(const std::string& path, const std::function<void(FileSink&)>& write,
                       const WriteOptions& options = {});
void atomic_write_file(const std::string& path, const void* data, size_t n,
                       const WriteOptions& options = {});

// A file opened for bounded, positioned reads. Reads never go past the size measured at open.
class FileSource {
 public:
  explicit FileSource(const std::string& path);
  ~FileSource();
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads exactly n bytes at `offset` (throws CheckpointError naming `what` if the file is
  // shorter).
  void read(uint64_t offset, void* dst, size_t n, const char* what) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// ---- the framed container of checkpoint files
//
// A 64-byte little-endian header followed by the payload:
//   0  magic "\x89KILNCKP" (8 bytes)     28 flags (u32, 0)
//   8  format version (u32)               32 kiln version (24 bytes, NUL-padded ASCII)
//  12  header size (u32, 64)              56 reserved (u32, 0)
//  16  payload length (u64)               60 CRC32C of bytes 0..59 (u32)
//  24  payload CRC32C (u32)
// The file is exactly header size + payload length bytes long.
inline constexpr char kContainerMagic[8] = {'\x89', 'K', 'I', 'L', 'N', 'C', 'K', 'P'};
inline constexpr uint32_t kContainerHeaderSize = 64;
// The newest container format this build reads and the one it writes.
inline constexpr uint32_t kContainerFormatVersion = 1;

struct ContainerHeader {
  uint32_t format_version = kContainerFormatVersion;
  uint64_t payload_length = 0;
  uint32_t payload_crc = 0;
  std::string kiln_version;
};

// kiln's version string ("0.1.0").
std::string kiln_version();

// The header that frames `payload` (this build's format and kiln version).
std::array<uint8_t, kContainerHeaderSize> container_header(const void* payload, size_t n);
// Header + payload as one image.
std::vector<uint8_t> frame_container(const void* payload, size_t n);
// Writes header + payload to `path` with atomic_write_file.
void write_container(const std::string& path, const void* payload, size_t n,
                     const WriteOptions& options = {});
// Validates the header and the payload checksum of a whole container image and returns the
// header; `name` (a path) appears in error messages. The payload starts at
// kContainerHeaderSize.
ContainerHeader check_container(const void* data, size_t n, const std::string& name);
// Reads and validates a container file; returns the payload (allocated only after the header
// has been validated against the file size).
std::vector<uint8_t> read_container(const std::string& path, ContainerHeader* header = nullptr);

namespace detail {
// Test hook: called at named points of atomic_write_file ("write" after each chunk written to
// the temporary file, "synced" before the rename, "renamed" before the directory fsync). A
// test installs one that _exit()s to simulate a crash. Null removes it.
void set_write_hook(std::function<void(std::string_view stage)> hook);
}  // namespace detail

}  // namespace kiln
