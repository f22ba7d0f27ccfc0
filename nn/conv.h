// Convolutions and pooling, channels last as in MLX: inputs (N, L, C) for 1-D and (N, H, W, C)
// for 2-D. Built from ops (strided slices gathered into patches, then one matmul), so they
// run on every device, differentiate and compile.
#pragma once
#include <utility>

#include "module.h"

namespace kiln::nn {

// x (N, L, C_in), weight (C_out, K, C_in / groups) -> (N, L_out, C_out) with
// L_out = (L + 2 padding - dilation (K - 1) - 1) / stride + 1.
array conv1d(const array& x, const array& weight, int stride = 1, int padding = 0, int dilation = 1,
             int groups = 1);
// x (N, H, W, C_in), weight (C_out, KH, KW, C_in / groups) -> (N, H_out, W_out, C_out).
array conv2d(const array& x, const array& weight, std::pair<int, int> stride = {1, 1},
             std::pair<int, int> padding = {0, 0}, std::pair<int, int> dilation = {1, 1},
             int groups = 1);

// Defaults stride = 1, padding = 0, dilation = 1, groups = 1, bias = true. Weight
// (out_channels, kernel_size, in_channels / groups) sampled from uniform(-s, s) with
// s = sqrt(1 / (in_channels * kernel_size)) (MLX's scale, also with groups); bias zeros.
class Conv1d : public Module {
 public:
  Conv1d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0,
         int dilation = 1, int groups = 1, bool bias = true);
  array operator()(const array& x) override;
  std::string name() const override { return "Conv1d"; }
  std::string describe() const override;

 private:
  int in_, out_, k_, stride_, padding_, dilation_, groups_;
};

// Defaults stride = 1, padding = 0, dilation = 1, groups = 1, bias = true. Weight
// (out_channels, KH, KW, in_channels / groups) sampled from uniform(-s, s) with
// s = sqrt(1 / (in_channels * KH * KW)) (MLX's scale, also with groups); bias zeros.
class Conv2d : public Module {
 public:
  Conv2d(int in_channels, int out_channels, std::pair<int, int> kernel_size,
         std::pair<int, int> stride = {1, 1}, std::pair<int, int> padding = {0, 0},
         std::pair<int, int> dilation = {1, 1}, int groups = 1, bool bias = true);
  Conv2d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0,
         int dilation = 1, int groups = 1, bool bias = true);
  array operator()(const array& x) override;
  std::string name() const override { return "Conv2d"; }
  std::string describe() const override;

 private:
  int in_, out_, groups_;
  std::pair<int, int> k_, stride_, padding_, dilation_;
};

// Pooling over windows of the spatial axes; padding adds -inf (max) or 0 (average) cells.
// Default stride = kernel_size, padding = 0.
array max_pool1d(const array& x, int kernel_size, int stride = -1, int padding = 0);
array avg_pool1d(const array& x, int kernel_size, int stride = -1, int padding = 0);
array max_pool2d(const array& x, std::pair<int, int> kernel_size,
                 std::pair<int, int> stride = {-1, -1}, std::pair<int, int> padding = {0, 0});
array avg_pool2d(const array& x, std::pair<int, int> kernel_size,
                 std::pair<int, int> stride = {-1, -1}, std::pair<int, int> padding = {0, 0});

class MaxPool1d : public Module {
 public:
  explicit MaxPool1d(int kernel_size, int stride = -1, int padding = 0)
      : k_(kernel_size), s_(stride < 0 ? kernel_size : stride), p_(padding) {}
  array operator()(const array& x) override { return max_pool1d(x, k_, s_, p_); }
  std::string name() const override { return "MaxPool1d"; }
  std::string describe() const override;

 private:
  int k_, s_, p_;
};

class AvgPool1d : public Module {
 public:
  explicit AvgPool1d(int kernel_size, int stride = -1, int padding = 0)
      : k_(kernel_size), s_(stride < 0 ? kernel_size : stride), p_(padding) {}
  array operator()(const array& x) override { return avg_pool1d(x, k_, s_, p_); }
  std::string name() const override { return "AvgPool1d"; }
  std::string describe() const override;

 private:
  int k_, s_, p_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(std::pair<int, int> kernel_size, std::pair<int, int> stride = {-1, -1},
                     std::pair<int, int> padding = {0, 0});
  explicit MaxPool2d(int kernel_size, int stride = -1, int padding = 0)
      : MaxPool2d({kernel_size, kernel_size}, {stride, stride}, {padding, padding}) {}
  array operator()(const array& x) override { return max_pool2d(x, k_, s_, p_); }
  std::string name() const override { return "MaxPool2d"; }
  std::string describe() const override;

 private:
  std::pair<int, int> k_, s_, p_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(std::pair<int, int> kernel_size, std::pair<int, int> stride = {-1, -1},
                     std::pair<int, int> padding = {0, 0});
  explicit AvgPool2d(int kernel_size, int stride = -1, int padding = 0)
      : AvgPool2d({kernel_size, kernel_size}, {stride, stride}, {padding, padding}) {}
  array operator()(const array& x) override { return avg_pool2d(x, k_, s_, p_); }
  std::string name() const override { return "AvgPool2d"; }
  std::string describe() const override;

 private:
  std::pair<int, int> k_, s_, p_;
};

}  // namespace kiln::nn
