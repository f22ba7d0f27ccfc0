// eval_cpu of QR and SVD through Eigen, one matrix at a time over the batch.
#include <Eigen/Dense>
#include <Eigen/SVD>
#include <cmath>
#include <string>

#include "../core/errors.h"
#include "../cpu/cpu_utils.h"
#include "primitives.h"

namespace kiln::linalg {

namespace {
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Mat = Eigen::MatrixXf;

// A decomposition of a non-finite matrix is undefined (and LAPACK-style iterations may
// not converge on it): fail clearly instead of returning garbage.
void check_finite(const float* p, size_t n, const char* op) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i]))
      throw Error(std::string("[") + op + "] the input contains NaN or Inf (element " +
                  std::to_string(i) + "); the decomposition of a non-finite matrix is undefined");
}

struct BatchDims {
  size_t batch;
  int m, n, k;
};
BatchDims dims_of(const array& a) {
  int m = a.shape(-2), n = a.shape(-1);
  size_t mn = static_cast<size_t>(m) * n;
  return {mn == 0 ? 0 : a.size() / mn, m, n, std::min(m, n)};
}

// Runs f(i) for every matrix of the batch, across threads when there are several.
template <typename F>
void for_batch(size_t batch, F&& f) {
  if (batch <= 1) {
    for (size_t i = 0; i < batch; ++i) f(i);
    return;
  }
  cpu::parallel_for(batch, 1, [&](size_t b0, size_t b1) {
    for (size_t i = b0; i < b1; ++i) f(i);
  });
}
}  // namespace

void QR::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  array &q_out = outputs[0], &r_out = outputs[1];
  cpu::alloc(q_out);
  cpu::alloc(r_out);
  auto [batch, m, n, k] = dims_of(a);
  if (batch == 0 || k == 0) return;
  const float* pa = cpu::cdata<float>(a);
  check_finite(pa, a.size(), "linalg::qr");
  float* pq = cpu::mdata<float>(q_out);
  float* pr = cpu::mdata<float>(r_out);
  for_batch(batch, [&](size_t i) {
    Mat A = Eigen::Map<const RowMat>(pa + i * m * n, m, n);
    Eigen::HouseholderQR<Mat> qr(A);
    Eigen::Map<RowMat> Q(pq + i * m * k, m, k), R(pr + i * k * n, k, n);
    Q = qr.householderQ() * Mat::Identity(m, k);
    R = qr.matrixQR().topRows(k).triangularView<Eigen::Upper>();
  });
}

void SVD::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  for (auto& o : outputs) cpu::alloc(o);
  auto [batch, m, n, k] = dims_of(a);
  if (batch == 0 || k == 0) return;
  const float* pa = cpu::cdata<float>(a);
  check_finite(pa, a.size(), "linalg::svd");
  float* pu = cpu::mdata<float>(outputs[0]);
  float* ps = cpu::mdata<float>(outputs[1]);
  float* pvt = cpu::mdata<float>(outputs[2]);
  constexpr int opts = Eigen::ComputeThinU | Eigen::ComputeThinV;
  for_batch(batch, [&](size_t i) {
    Eigen::Map<const RowMat> A(pa + i * m * n, m, n);
    Eigen::Map<RowMat> U(pu + i * m * k, m, k), Vt(pvt + i * k * n, k, n);
    Eigen::Map<Eigen::VectorXf> S(ps + i * k, k);
    // One-sided Jacobi is the most accurate and as fast for small matrices; divide and
    // conquer (BDCSVD) is faster from k = 16 on (512x40: 0.37 ms vs 0.58 ms here).
    if (k <= 16) {
      Eigen::JacobiSVD<Mat, Eigen::ColPivHouseholderQRPreconditioner> svd(A, opts);
      U = svd.matrixU();
      S = svd.singularValues();
      Vt = svd.matrixV().transpose();
    } else {
      Eigen::BDCSVD<Mat> svd(A, opts);
      U = svd.matrixU();
      S = svd.singularValues();
      Vt = svd.matrixV().transpose();
    }
  });
}

}  // namespace kiln::linalg
