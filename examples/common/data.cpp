#include "data.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#ifdef KILN_EXAMPLES_HAVE_ZLIB
#include <zlib.h>
#endif

namespace kiln::examples {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string gunzip(const std::string& path, const std::string& raw) {
#ifdef KILN_EXAMPLES_HAVE_ZLIB
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) throw std::runtime_error("zlib init failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  char buf[1 << 16];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error(path + ": corrupt gzip data");
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
  } while (rc != Z_STREAM_END);
  inflateEnd(&zs);
  return out;
#else
  (void)raw;
  throw std::runtime_error(path + " is gzip-compressed but the examples were built without zlib");
#endif
}

bool parse_row(const std::string& line, std::vector<double>& out) {
  out.clear();
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) {
    char* end = nullptr;
    double v = std::strtod(field.c_str(), &end);
    while (end && (*end == ' ' || *end == '\r' || *end == '\t')) ++end;
    if (end == field.c_str() || (end && *end != '\0')) return false;
    out.push_back(v);
  }
  return !out.empty();
}

}  // namespace

Dataset load_csv(const std::string& path) {
  std::string text = read_file(path);
  if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0x1f &&
      static_cast<unsigned char>(text[1]) == 0x8b)
    text = gunzip(path, text);
  std::stringstream in(text);
  std::string line;
  std::vector<float> xs;
  std::vector<int> ys;
  std::vector<double> row;
  size_t cols = 0;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line == "\r") continue;
    if (!parse_row(line, row)) {
      if (lineno == 1) continue;  // header
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": not a numeric row");
    }
    if (cols == 0) cols = row.size();
    if (row.size() != cols || cols < 2)
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": expected " +
                               std::to_string(cols) + " columns, got " +
                               std::to_string(row.size()));
    for (size_t i = 0; i + 1 < cols; ++i) xs.push_back(static_cast<float>(row[i]));
    double label = row.back();
    if (label != std::floor(label))
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": label is not an integer");
    ys.push_back(static_cast<int>(label));
  }
  if (ys.empty()) throw std::runtime_error(path + ": no data rows");
  int n = static_cast<int>(ys.size()), d = static_cast<int>(cols - 1);
  return {array(xs, {n, d}), array(ys, {n})};
}

std::pair<Dataset, Dataset> train_test_split(const Dataset& data, float test_fraction,
                                             const array& key) {
  int n = data.size();
  int n_test = static_cast<int>(std::lround(n * test_fraction));
  if (n_test <= 0 || n_test >= n)
    throw std::invalid_argument("[train_test_split] test fraction leaves an empty split");
  array perm = random::permutation(n, key);
  array tr = slice(perm, {0}, {n - n_test}), te = slice(perm, {n - n_test}, {n});
  Dataset train{take(data.x, tr, 0), take(data.y, tr, 0)};
  Dataset test{take(data.x, te, 0), take(data.y, te, 0)};
  eval(train.x, train.y, test.x, test.y);
  return {train, test};
}

void standardize(Dataset& train, Dataset& test) {
  array mu = mean(train.x, 0, true);
  array sd = std(train.x, 0, true);
  sd = where(greater(sd, array(0.f)), sd, ones_like(sd));
  train.x = (train.x - mu) / sd;
  test.x = (test.x - mu) / sd;
  eval(train.x, test.x);
}

Batches::Batches(const Dataset& data, int batch_size, const array& key)
    : data_(data), batch_size_(batch_size), key_(key) {
  if (batch_size <= 0 || batch_size > data.size())
    throw std::invalid_argument("[Batches] batch size " + std::to_string(batch_size) + " for " +
                                std::to_string(data.size()) + " rows");
  per_epoch_ = data.size() / batch_size;
  shuffle();
}

void Batches::shuffle() {
  auto [next, sub] = random::split(key_);
  key_ = next;
  order_ = random::permutation(data_.size(), sub);
  eval(order_);
  pos_ = 0;
  ++epoch_;
}

std::pair<array, array> Batches::next() {
  if (pos_ == per_epoch_) shuffle();
  array idx = slice(order_, {pos_ * batch_size_}, {(pos_ + 1) * batch_size_});
  ++pos_;
  return {take(data_.x, idx, 0), take(data_.y, idx, 0)};
}

std::string find_data(const std::string& name, const std::string& dir, const char* argv0) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (!dir.empty()) {
    candidates.push_back(fs::path(dir) / name);
  } else {
    std::error_code ec;
    fs::path exe = fs::canonical(fs::path(argv0 ? argv0 : ""), ec);
    if (!ec) candidates.push_back(exe.parent_path() / "data" / name);
#ifdef KILN_EXAMPLES_DATA_DIR
    candidates.push_back(fs::path(KILN_EXAMPLES_DATA_DIR) / name);
#endif
  }
  for (auto& c : candidates)
    if (fs::exists(c)) return c.string();
  std::string tried;
  for (auto& c : candidates) tried += " " + c.string();
  throw std::runtime_error("cannot find " + name + " (tried:" + tried + "); pass --data DIR");
}

float accuracy(const array& logits, const array& labels) {
  array pred = logits.ndim() == 1 || logits.shape(-1) == 1
                   ? astype(greater(reshape(logits, {-1}), array(0.f)), int32)
                   : astype(argmax(logits, -1), int32);
  return mean(astype(equal(pred, astype(labels, int32)), float32)).item<float>();
}

}  // namespace kiln::examples
