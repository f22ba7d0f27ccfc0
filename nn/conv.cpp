#include "conv.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "../core/ops.h"
#include "../core/random.h"

namespace kiln::nn {

namespace {

std::string shp(const array& x) { return detail::shape_str(x.shape()); }
std::string pair_str(std::pair<int, int> p) {
  return "(" + std::to_string(p.first) + ", " + std::to_string(p.second) + ")";
}

// Windows of x (N, S_1..S_d, C) over its d spatial axes, stacked on a new axis before C:
// (N, O_1..O_d, K_1*..*K_d, C). Padding is applied first with pad_value.
array windows(const array& x, const std::vector<int>& kernel, const std::vector<int>& stride,
              const std::vector<int>& padding, const std::vector<int>& dilation,
              const array& pad_value, const char* op) {
  int d = static_cast<int>(kernel.size());
  if (x.ndim() != d + 2)
    throw std::invalid_argument(std::string("[") + op + "] expects an input of " +
                                std::to_string(d + 2) + " dimensions (channels last), got shape " +
                                shp(x));
  for (int i = 0; i < d; ++i)
    if (kernel[i] <= 0 || stride[i] <= 0 || dilation[i] <= 0 || padding[i] < 0)
      throw std::invalid_argument(std::string("[") + op +
                                  "] kernel, stride and dilation must be positive and padding "
                                  "non-negative");
  array xp = x;
  bool any_pad = false;
  for (int p : padding) any_pad |= p > 0;
  if (any_pad) {
    std::vector<int> axes;
    for (int i = 0; i < d; ++i) axes.push_back(i + 1);
    xp = pad(x, axes, padding, padding, pad_value);
  }
  std::vector<int> out(d);
  for (int i = 0; i < d; ++i) {
    int span = dilation[i] * (kernel[i] - 1) + 1;
    int len = xp.shape(i + 1);
    if (len < span)
      throw std::invalid_argument(std::string("[") + op + "] the window (" + std::to_string(span) +
                                  ") is larger than the padded input " + shp(xp));
    out[i] = (len - span) / stride[i] + 1;
  }
  std::vector<array> parts;
  std::vector<int> idx(d, 0);
  while (true) {
    Shape start(x.ndim(), 0), stop = xp.shape(), strides(x.ndim(), 1);
    for (int i = 0; i < d; ++i) {
      start[i + 1] = idx[i] * dilation[i];
      stop[i + 1] = start[i + 1] + stride[i] * (out[i] - 1) + 1;
      strides[i + 1] = stride[i];
    }
    parts.push_back(slice(xp, start, stop, strides));
    int i = d - 1;
    while (i >= 0 && ++idx[i] == kernel[i]) idx[i--] = 0;
    if (i < 0) break;
  }
  return stack(parts, d + 1);
}

array conv_nd(const array& x, const array& weight, const std::vector<int>& stride,
              const std::vector<int>& padding, const std::vector<int>& dilation, int groups,
              const char* op) {
  int d = static_cast<int>(stride.size());
  if (weight.ndim() != d + 2)
    throw std::invalid_argument(std::string("[") + op + "] the weight must have " +
                                std::to_string(d + 2) + " dimensions, got shape " + shp(weight));
  int cin = x.ndim() == d + 2 ? x.shape(-1) : -1;
  int cout = weight.shape(0);
  if (groups <= 0 || cin % groups != 0 || cout % groups != 0 || weight.shape(-1) * groups != cin)
    throw std::invalid_argument(std::string("[") + op + "] input " + shp(x) + " and weight " +
                                shp(weight) +
                                " do not match with groups = " + std::to_string(groups));
  std::vector<int> kernel(weight.shape().begin() + 1, weight.shape().end() - 1);
  array zero = zeros({}, x.dtype());
  array cols = windows(x, kernel, stride, padding, dilation, zero, op);
  // cols: (N, O..., K, C_in) -> per group (N, O..., K * C_g) @ (K * C_g, C_out_g)
  Shape out_shape(cols.shape().begin(), cols.shape().end() - 2);
  int k = cols.shape(-2), cg = cin / groups, og = cout / groups;
  std::vector<array> ys;
  for (int g = 0; g < groups; ++g) {
    array c = cols;
    array w = weight;
    if (groups > 1) {
      Shape start(cols.ndim(), 0), stop = cols.shape();
      start.back() = g * cg;
      stop.back() = (g + 1) * cg;
      c = slice(cols, start, stop);
      Shape ws(weight.ndim(), 0), we = weight.shape();
      ws[0] = g * og;
      we[0] = (g + 1) * og;
      w = slice(weight, ws, we);
    }
    Shape flat = out_shape;
    flat.push_back(k * cg);
    ys.push_back(matmul(reshape(c, flat), transpose(reshape(w, {og, k * cg}))));
  }
  return groups == 1 ? ys[0] : concatenate(ys, -1);
}

}  // namespace

array conv1d(const array& x, const array& weight, int stride, int padding, int dilation,
             int groups) {
  return conv_nd(x, weight, {stride}, {padding}, {dilation}, groups, "conv1d");
}

array conv2d(const array& x, const array& weight, std::pair<int, int> stride,
             std::pair<int, int> padding, std::pair<int, int> dilation, int groups) {
  return conv_nd(x, weight, {stride.first, stride.second}, {padding.first, padding.second},
                 {dilation.first, dilation.second}, groups, "conv2d");
}

// ------------------------------------------------------------------ Conv1d
Conv1d::Conv1d(int in_channels, int out_channels, int kernel_size, int stride, int padding,
               int dilation, int groups, bool bias)
    : in_(in_channels),
      out_(out_channels),
      k_(kernel_size),
      stride_(stride),
      padding_(padding),
      dilation_(dilation),
      groups_(groups) {
  if (in_channels <= 0 || out_channels <= 0 || kernel_size <= 0 || groups <= 0 ||
      in_channels % groups != 0 || out_channels % groups != 0)
    throw std::invalid_argument("[Conv1d] invalid channels/kernel/groups");
  float scale = static_cast<float>(std::sqrt(1.0 / (in_channels * kernel_size)));
  register_parameter(
      "weight", random::uniform(-scale, scale, {out_channels, kernel_size, in_channels / groups}));
  if (bias) register_parameter("bias", zeros({out_channels}));
}

array Conv1d::operator()(const array& x) {
  array y = conv1d(x, param("weight"), stride_, padding_, dilation_, groups_);
  return has_param("bias") ? y + param("bias") : y;
}

std::string Conv1d::describe() const {
  return "Conv1d(" + std::to_string(in_) + ", " + std::to_string(out_) +
         ", kernel_size=" + std::to_string(k_) + ", stride=" + std::to_string(stride_) +
         ", padding=" + std::to_string(padding_) + ", dilation=" + std::to_string(dilation_) +
         ", groups=" + std::to_string(groups_) +
         ", bias=" + (has_param("bias") ? "true" : "false") + ")";
}

// ------------------------------------------------------------------ Conv2d
Conv2d::Conv2d(int in_channels, int out_channels, std::pair<int, int> kernel_size,
               std::pair<int, int> stride, std::pair<int, int> padding,
               std::pair<int, int> dilation, int groups, bool bias)
    : in_(in_channels),
      out_(out_channels),
      groups_(groups),
      k_(kernel_size),
      stride_(stride),
      padding_(padding),
      dilation_(dilation) {
  if (in_channels <= 0 || out_channels <= 0 || kernel_size.first <= 0 || kernel_size.second <= 0 ||
      groups <= 0 || in_channels % groups != 0 || out_channels % groups != 0)
    throw std::invalid_argument("[Conv2d] invalid channels/kernel/groups");
  float scale =
      static_cast<float>(std::sqrt(1.0 / (in_channels * kernel_size.first * kernel_size.second)));
  register_parameter("weight", random::uniform(-scale, scale,
                                               {out_channels, kernel_size.first, kernel_size.second,
                                                in_channels / groups}));
  if (bias) register_parameter("bias", zeros({out_channels}));
}

Conv2d::Conv2d(int in_channels, int out_channels, int kernel_size, int stride, int padding,
               int dilation, int groups, bool bias)
    : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride},
             {padding, padding}, {dilation, dilation}, groups, bias) {}

array Conv2d::operator()(const array& x) {
  array y = conv2d(x, param("weight"), stride_, padding_, dilation_, groups_);
  return has_param("bias") ? y + param("bias") : y;
}

std::string Conv2d::describe() const {
  return "Conv2d(" + std::to_string(in_) + ", " + std::to_string(out_) +
         ", kernel_size=" + pair_str(k_) + ", stride=" + pair_str(stride_) +
         ", padding=" + pair_str(padding_) + ", dilation=" + pair_str(dilation_) +
         ", groups=" + std::to_string(groups_) +
         ", bias=" + (has_param("bias") ? "true" : "false") + ")";
}

// ------------------------------------------------------------------ pooling
namespace {
array pool(const array& x, std::vector<int> k, std::vector<int> s, std::vector<int> p, bool max_,
           const char* op) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] < 0) s[i] = k[i];
  std::vector<int> dil(k.size(), 1);
  array pv =
      max_ ? array(-std::numeric_limits<float>::infinity(), x.dtype()) : zeros({}, x.dtype());
  array w = windows(x, k, s, p, dil, pv, op);
  int axis = static_cast<int>(k.size()) + 1;
  return max_ ? max(w, axis) : mean(w, axis);
}
}  // namespace

array max_pool1d(const array& x, int kernel_size, int stride, int padding) {
  return pool(x, {kernel_size}, {stride}, {padding}, true, "max_pool1d");
}
array avg_pool1d(const array& x, int kernel_size, int stride, int padding) {
  return pool(x, {kernel_size}, {stride}, {padding}, false, "avg_pool1d");
}
array max_pool2d(const array& x, std::pair<int, int> k, std::pair<int, int> s,
                 std::pair<int, int> p) {
  return pool(x, {k.first, k.second}, {s.first, s.second}, {p.first, p.second}, true, "max_pool2d");
}
array avg_pool2d(const array& x, std::pair<int, int> k, std::pair<int, int> s,
                 std::pair<int, int> p) {
  return pool(x, {k.first, k.second}, {s.first, s.second}, {p.first, p.second}, false,
              "avg_pool2d");
}

MaxPool2d::MaxPool2d(std::pair<int, int> k, std::pair<int, int> s, std::pair<int, int> p)
    : k_(k), s_{s.first < 0 ? k.first : s.first, s.second < 0 ? k.second : s.second}, p_(p) {}
AvgPool2d::AvgPool2d(std::pair<int, int> k, std::pair<int, int> s, std::pair<int, int> p)
    : k_(k), s_{s.first < 0 ? k.first : s.first, s.second < 0 ? k.second : s.second}, p_(p) {}

std::string MaxPool1d::describe() const {
  return "MaxPool1d(kernel_size=" + std::to_string(k_) + ", stride=" + std::to_string(s_) +
         ", padding=" + std::to_string(p_) + ")";
}
std::string AvgPool1d::describe() const {
  return "AvgPool1d(kernel_size=" + std::to_string(k_) + ", stride=" + std::to_string(s_) +
         ", padding=" + std::to_string(p_) + ")";
}
std::string MaxPool2d::describe() const {
  return "MaxPool2d(kernel_size=" + pair_str(k_) + ", stride=" + pair_str(s_) +
         ", padding=" + pair_str(p_) + ")";
}
std::string AvgPool2d::describe() const {
  return "AvgPool2d(kernel_size=" + pair_str(k_) + ", stride=" + pair_str(s_) +
         ", padding=" + pair_str(p_) + ")";
}

}  // namespace kiln::nn
