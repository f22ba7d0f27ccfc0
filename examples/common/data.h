// A small data utility for the examples: numeric CSV files (plain or gzip-compressed) with the
// label in the last column, standardisation, a shuffled train/test split and mini-batches.
#pragma once
#include <kiln/kiln.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::examples {

// Features (n, d) float32 and labels (n,) int32.
struct Dataset {
  array x;
  array y;
  int size() const { return x.shape(0); }
  int features() const { return x.shape(1); }
};

// Reads a numeric CSV whose last column is an integer label. A first line that is not all
// numbers is a header and skipped. Files starting with the gzip magic bytes are decompressed
// (needs zlib at build time). Throws std::runtime_error naming the file and line on errors.
Dataset load_csv(const std::string& path);

// Splits after shuffling with `key`: the first (1 - test_fraction) of the permuted rows train.
std::pair<Dataset, Dataset> train_test_split(const Dataset& data, float test_fraction,
                                             const array& key);

// Standardises train and test features with the train mean and standard deviation (features
// with zero deviation are only centred).
void standardize(Dataset& train, Dataset& test);

// Mini-batches of a fixed size in a fresh random order every epoch (the key is split per
// epoch); the last incomplete batch of an epoch is dropped so shapes never change (a compiled
// step never retraces).
class Batches {
 public:
  Batches(const Dataset& data, int batch_size, const array& key);
  // The next (x, y) batch.
  std::pair<array, array> next();
  int epoch() const { return epoch_; }
  int batches_per_epoch() const { return per_epoch_; }

 private:
  void shuffle();
  Dataset data_;
  int batch_size_, per_epoch_, pos_ = 0, epoch_ = -1;
  array key_;
  array order_;
};

// Finds a data file: in `dir` when given (--data), else next to the executable
// (<exe dir>/data), else in the source tree's examples/data (a compile-time path).
std::string find_data(const std::string& name, const std::string& dir, const char* argv0);

// The fraction of rows whose argmax (or, for a single logit, sign) matches the label.
float accuracy(const array& logits, const array& labels);

}  // namespace kiln::examples
