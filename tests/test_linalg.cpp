// kiln::linalg: QR, SVD, norms, randomized top-k SVD and its subspace step.
#include <gtest/gtest.h>
#include <kiln/kiln.h>
#include <kiln/gpu/stats.h>
#include <kiln/linalg/primitives.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace kx = kiln;
namespace la = kiln::linalg;

namespace {

// A dense row-major double matrix on the host: the reference side of every check.
struct Mat {
  int rows = 0, cols = 0;
  std::vector<double> v;
  Mat(int r, int c) : rows(r), cols(c), v(static_cast<size_t>(r) * c, 0.0) {}
  double& operator()(int i, int j) { return v[static_cast<size_t>(i) * cols + j]; }
  double operator()(int i, int j) const { return v[static_cast<size_t>(i) * cols + j]; }
};

Mat matmul(const Mat& a, const Mat& b) {
  Mat c(a.rows, b.cols);
  for (int i = 0; i < a.rows; ++i)
    for (int k = 0; k < a.cols; ++k)
      for (int j = 0; j < b.cols; ++j) c(i, j) += a(i, k) * b(k, j);
  return c;
}
Mat transpose(const Mat& a) {
  Mat t(a.cols, a.rows);
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < a.cols; ++j) t(j, i) = a(i, j);
  return t;
}
double fro(const Mat& a) {
  double s = 0;
  for (double x : a.v) s += x * x;
  return std::sqrt(s);
}
double fro_diff(const Mat& a, const Mat& b) {
  double s = 0;
  for (size_t i = 0; i < a.v.size(); ++i) s += (a.v[i] - b.v[i]) * (a.v[i] - b.v[i]);
  return std::sqrt(s);
}
// max |QᵀQ - I| for a matrix with orthonormal columns.
double orth_error(const Mat& q) {
  Mat g = matmul(transpose(q), q);
  double e = 0;
  for (int i = 0; i < g.rows; ++i)
    for (int j = 0; j < g.cols; ++j) e = std::max(e, std::abs(g(i, j) - (i == j ? 1.0 : 0.0)));
  return e;
}

// Matrix `index` of a (..., r, c) kiln array.
Mat host(kx::array a, size_t index = 0) {
  int r = a.shape(-2), c = a.shape(-1);
  auto f = a.to_vector<float>();
  Mat m(r, c);
  for (size_t i = 0; i < m.v.size(); ++i) m.v[i] = f[index * m.v.size() + i];
  return m;
}
std::vector<double> host_vec(kx::array a) {
  auto f = a.to_vector<float>();
  return {f.begin(), f.end()};
}
kx::array device(const std::vector<Mat>& ms, kx::Shape batch = {}) {
  std::vector<float> f;
  for (auto& m : ms)
    for (double x : m.v) f.push_back(static_cast<float>(x));
  batch.push_back(ms[0].rows);
  batch.push_back(ms[0].cols);
  return kx::array(f, batch);
}
kx::array device(const Mat& m) { return device(std::vector<Mat>{m}); }
Mat cast_f32(const Mat& m) {
  Mat r = m;
  for (double& x : r.v) x = static_cast<float>(x);
  return r;
}

Mat gaussian(int r, int c, std::mt19937& g) {
  std::normal_distribution<double> n;
  Mat m(r, c);
  for (double& x : m.v) x = n(g);
  return m;
}
// r x c with orthonormal columns (Gram-Schmidt twice, in double).
Mat orthonormal(int r, int c, std::mt19937& g) {
  Mat m = gaussian(r, c, g);
  for (int j = 0; j < c; ++j)
    for (int pass = 0; pass < 2; ++pass) {
      for (int p = 0; p < j; ++p) {
        double d = 0;
        for (int i = 0; i < r; ++i) d += m(i, p) * m(i, j);
        for (int i = 0; i < r; ++i) m(i, j) -= d * m(i, p);
      }
      double nrm = 0;
      for (int i = 0; i < r; ++i) nrm += m(i, j) * m(i, j);
      nrm = std::sqrt(nrm);
      for (int i = 0; i < r; ++i) m(i, j) /= nrm;
    }
  return m;
}
// U diag(s) Vᵀ with random orthonormal U (m, k), V (n, k): a matrix of known spectrum s.
Mat with_spectrum(int m, int n, const std::vector<double>& s, std::mt19937& g,
                  Mat* u_out = nullptr, Mat* v_out = nullptr) {
  int k = static_cast<int>(s.size());
  Mat u = orthonormal(m, k, g), v = orthonormal(n, k, g);
  if (u_out) *u_out = u;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < k; ++j) u(i, j) *= s[j];
  Mat a = matmul(u, transpose(v));
  if (v_out) *v_out = v;
  return a;
}
// Geometric spectrum from 1 down to 1/cond.
std::vector<double> geometric(int k, double cond) {
  std::vector<double> s(k);
  for (int i = 0; i < k; ++i) s[i] = std::pow(cond, -static_cast<double>(i) / std::max(1, k - 1));
  return s;
}

void expect_qr_ok(const Mat& a, const Mat& q, const Mat& r, double tol = 1e-5) {
  int k = std::min(a.rows, a.cols);
  ASSERT_EQ(q.rows, a.rows);
  ASSERT_EQ(q.cols, k);
  ASSERT_EQ(r.rows, k);
  ASSERT_EQ(r.cols, a.cols);
  EXPECT_LE(fro_diff(a, matmul(q, r)) / fro(a), tol);
  EXPECT_LE(orth_error(q), tol);
  for (int i = 0; i < r.rows; ++i)
    for (int j = 0; j < std::min(i, r.cols); ++j) EXPECT_EQ(r(i, j), 0.0) << i << "," << j;
}

// U diag(s) Vt from kiln's outputs.
Mat reconstruct(const Mat& u, const std::vector<double>& s, const Mat& vt) {
  Mat us = u;
  for (int i = 0; i < us.rows; ++i)
    for (int j = 0; j < us.cols; ++j) us(i, j) *= s[j];
  return matmul(us, vt);
}

class Linalg : public ::testing::Test {
 protected:
  void SetUp() override { kx::set_default_device(kx::Device::cpu); }
  std::mt19937 gen{1234};
};

}  // namespace

// ------------------------------------------------------------------------------ QR
TEST_F(Linalg, QrTallWideSquare) {
  for (auto [m, n] : std::vector<std::pair<int, int>>{{20, 7}, {6, 11}, {9, 9}, {1, 4}, {5, 1}}) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n));
    Mat a = cast_f32(gaussian(m, n, gen));
    auto [q, r] = la::qr(device(a));
    EXPECT_EQ(q.dtype(), kx::float32);
    expect_qr_ok(a, host(q), host(r));
  }
}

TEST_F(Linalg, QrBatchedMatchesPerMatrix) {
  std::vector<Mat> ms;
  for (int i = 0; i < 6; ++i) ms.push_back(cast_f32(gaussian(8, 5, gen)));
  auto [q, r] = la::qr(device(ms, {2, 3}));
  EXPECT_EQ(q.shape(), kx::Shape({2, 3, 8, 5}));
  EXPECT_EQ(r.shape(), kx::Shape({2, 3, 5, 5}));
  for (size_t i = 0; i < ms.size(); ++i) {
    SCOPED_TRACE(i);
    expect_qr_ok(ms[i], host(q, i), host(r, i));
    auto [q1, r1] = la::qr(device(ms[i]));
    EXPECT_LE(fro_diff(host(q, i), host(q1)), 1e-6);
  }
}

TEST_F(Linalg, QrIllConditioned) {
  for (double cond : {1e2, 1e4}) {
    SCOPED_TRACE(cond);
    Mat a = cast_f32(with_spectrum(60, 24, geometric(24, cond), gen));
    auto [q, r] = la::qr(device(a));
    expect_qr_ok(a, host(q), host(r));
  }
}

TEST_F(Linalg, QrHalfInputComputesInFloat32AndEmptyShapes) {
  Mat a = gaussian(6, 4, gen);
  auto [q, r] = la::qr(kx::astype(device(a), kx::float16));
  EXPECT_EQ(q.dtype(), kx::float32);
  Mat a16 = host(kx::astype(kx::astype(device(a), kx::float16), kx::float32));
  expect_qr_ok(a16, host(q), host(r));

  auto [q0, r0] = la::qr(kx::zeros({0, 3}));
  EXPECT_EQ(q0.shape(), kx::Shape({0, 0}));
  EXPECT_EQ(r0.shape(), kx::Shape({0, 3}));
  kx::eval(q0, r0);
}

// ------------------------------------------------------------------------------ SVD
TEST_F(Linalg, SvdKnownSpectra) {
  struct Case {
    int m, n;
    std::vector<double> s;
    const char* what;
  };
  std::vector<double> random_s(24);
  std::uniform_real_distribution<double> u(1.0, 10.0);
  for (double& x : random_s) x = u(gen);
  std::sort(random_s.rbegin(), random_s.rend());
  std::vector<double> big_s(48);
  for (double& x : big_s) x = u(gen);
  std::sort(big_s.rbegin(), big_s.rend());
  std::vector<double> small_s(random_s.begin(), random_s.begin() + 12);
  std::vector<Case> cases = {
      {30, 12, small_s, "random, Jacobi path"},
      {12, 30, small_s, "wide, Jacobi path"},
      {30, 12, geometric(12, 1e4), "cond 1e4, Jacobi path"},
      {40, 24, random_s, "random"},
      {24, 40, random_s, "wide"},
      {40, 24, geometric(24, 1e4), "cond 1e4"},
      {96, 48, big_s, "random, divide-and-conquer path"},
      {96, 48, geometric(48, 1e4), "cond 1e4, divide-and-conquer path"},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    Mat a = cast_f32(with_spectrum(c.m, c.n, c.s, gen));
    auto [uu, ss, vt] = la::svd(device(a));
    int k = std::min(c.m, c.n);
    ASSERT_EQ(uu.shape(), kx::Shape({c.m, k}));
    ASSERT_EQ(ss.shape(), kx::Shape({k}));
    ASSERT_EQ(vt.shape(), kx::Shape({k, c.n}));
    auto s = host_vec(ss);
    // A backward-stable float32 SVD moves each singular value by O(eps * s_max).
    for (int i = 0; i < k; ++i) EXPECT_NEAR(s[i], c.s[i], 1e-5 * c.s[0]) << "sigma " << i;
    EXPECT_TRUE(std::is_sorted(s.rbegin(), s.rend()));
    Mat U = host(uu), Vt = host(vt);
    EXPECT_LE(fro_diff(a, reconstruct(U, s, Vt)) / fro(a), 1e-5);
    EXPECT_LE(orth_error(U), 1e-5);
    EXPECT_LE(orth_error(transpose(Vt)), 1e-5);
  }
}

TEST_F(Linalg, SvdBatched) {
  std::vector<Mat> ms;
  for (int i = 0; i < 4; ++i) ms.push_back(cast_f32(gaussian(7, 10, gen)));
  auto [u, s, vt] = la::svd(device(ms, {4}));
  EXPECT_EQ(u.shape(), kx::Shape({4, 7, 7}));
  EXPECT_EQ(s.shape(), kx::Shape({4, 7}));
  EXPECT_EQ(vt.shape(), kx::Shape({4, 7, 10}));
  auto sall = host_vec(s);
  for (size_t i = 0; i < ms.size(); ++i) {
    std::vector<double> si(sall.begin() + 7 * i, sall.begin() + 7 * (i + 1));
    EXPECT_LE(fro_diff(ms[i], reconstruct(host(u, i), si, host(vt, i))) / fro(ms[i]), 1e-5);
    auto [u1, s1, vt1] = la::svd(device(ms[i]));
    auto s1h = host_vec(s1);
    for (int j = 0; j < 7; ++j) EXPECT_NEAR(si[j], s1h[j], 1e-5 * s1h[0]);
  }
}

// ------------------------------------------------------------------------------ norm
TEST_F(Linalg, VectorNorms) {
  std::vector<float> x = {3.f, -4.f, 0.f, 1.f, -2.f};
  kx::array a(x, {5});
  auto near = [](kx::array v, double want) {
    EXPECT_NEAR(v.item<float>(), want, 1e-5 * std::max(1.0, std::abs(want)));
  };
  near(la::norm(a), std::sqrt(30.0));
  near(la::norm(a, 2.0), std::sqrt(30.0));
  near(la::norm(a, 1.0), 10.0);
  near(la::norm(a, std::numeric_limits<double>::infinity()), 4.0);
  near(la::norm(a, -std::numeric_limits<double>::infinity()), 0.0);
  near(la::norm(a, 0.0), 4.0);
  near(la::norm(a, 3.0), std::cbrt(27.0 + 64 + 1 + 8));
  near(la::norm(kx::array({1.f, 2.f, 4.f}), -1.0), 1.0 / (1 + 0.5 + 0.25));
  // integer inputs are measured in float32
  EXPECT_EQ(la::norm(kx::array({3, 4})).dtype(), kx::float32);
  near(la::norm(kx::array({3, 4})), 5.0);
}

TEST_F(Linalg, NormAxesAndKeepdims) {
  // (2, 3, 4) with known values
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[i] = static_cast<float>(i % 7) - 3.f;
  kx::array a(x, {2, 3, 4});
  auto at = [&](int i, int j, int k) { return static_cast<double>(x[(i * 3 + j) * 4 + k]); };

  kx::array n1 = la::norm(a, 1.0, std::vector<int>{1});
  EXPECT_EQ(n1.shape(), kx::Shape({2, 4}));
  EXPECT_EQ(la::norm(a, 1.0, std::vector<int>{1}, true).shape(), kx::Shape({2, 1, 4}));
  auto h1 = host_vec(n1);
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 4; ++k) {
      double s = 0;
      for (int j = 0; j < 3; ++j) s += std::abs(at(i, j, k));
      EXPECT_NEAR(h1[i * 4 + k], s, 1e-5);
    }

  // Frobenius over axes (0, 2), negative axis spelling
  kx::array nf = la::norm(a, "fro", std::vector<int>{0, -1});
  EXPECT_EQ(nf.shape(), kx::Shape({3}));
  EXPECT_EQ(la::norm(a, "fro", std::vector<int>{0, 2}, true).shape(), kx::Shape({1, 3, 1}));
  EXPECT_EQ(la::norm(a, std::vector<int>{2, 0}, true).shape(), kx::Shape({1, 3, 1}));
  auto hf = host_vec(nf);
  for (int j = 0; j < 3; ++j) {
    double s = 0;
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 4; ++k) s += at(i, j, k) * at(i, j, k);
    EXPECT_NEAR(hf[j], std::sqrt(s), 1e-5);
  }
  // no ord, no axis: flattened 2-norm of any ndim
  double all = 0;
  for (float v : x) all += double(v) * v;
  EXPECT_NEAR(la::norm(a).item<float>(), std::sqrt(all), 1e-4);
  EXPECT_EQ(la::norm(a, std::nullopt, true).shape(), kx::Shape({1, 1, 1}));
}

TEST_F(Linalg, MatrixNorms) {
  Mat m = cast_f32(gaussian(5, 3, gen));
  kx::array a = device(m);
  double col_max = 0, col_min = 1e300, row_max = 0, row_min = 1e300;
  for (int j = 0; j < 3; ++j) {
    double s = 0;
    for (int i = 0; i < 5; ++i) s += std::abs(m(i, j));
    col_max = std::max(col_max, s), col_min = std::min(col_min, s);
  }
  for (int i = 0; i < 5; ++i) {
    double s = 0;
    for (int j = 0; j < 3; ++j) s += std::abs(m(i, j));
    row_max = std::max(row_max, s), row_min = std::min(row_min, s);
  }
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_NEAR(la::norm(a, 1.0).item<float>(), col_max, 1e-5);
  EXPECT_NEAR(la::norm(a, -1.0).item<float>(), col_min, 1e-5);
  EXPECT_NEAR(la::norm(a, inf).item<float>(), row_max, 1e-5);
  EXPECT_NEAR(la::norm(a, -inf).item<float>(), row_min, 1e-5);
  EXPECT_NEAR(la::norm(a, "fro").item<float>(), fro(m), 1e-5);
  EXPECT_EQ(la::norm(a, 1.0, std::nullopt, true).shape(), kx::Shape({1, 1}));
  std::vector<double> s3 = {3.0, 2.0, 1.0};
  kx::array k3 = device(cast_f32(with_spectrum(5, 3, s3, gen)));
  EXPECT_NEAR(la::norm(k3, 2.0).item<float>(), 3.0, 1e-5);
  EXPECT_NEAR(la::norm(k3, -2.0).item<float>(), 1.0, 1e-5);
  EXPECT_NEAR(la::norm(k3, "nuc").item<float>(), 6.0, 1e-5);
  EXPECT_NEAR(la::norm(kx::transpose(k3), 2.0).item<float>(), 3.0, 1e-5);

  // spectral and nuclear norms against a known spectrum, batched over a leading axis
  std::vector<double> s = {5.0, 2.0, 0.5};
  Mat b0 = cast_f32(with_spectrum(6, 3, s, gen)), b1 = cast_f32(with_spectrum(6, 3, s, gen));
  kx::array b = device({b0, b1}, {2});
  // matrices over axes (1, 2) of a (2, 6, 3), and transposed spellings
  auto n2 = host_vec(la::norm(b, 2.0, std::vector<int>{1, 2}));
  auto nm2 = host_vec(la::norm(b, -2.0, std::vector<int>{2, 1}));
  auto nuc = host_vec(la::norm(b, "nuc", std::vector<int>{1, 2}));
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(n2[i], 5.0, 1e-5);
    EXPECT_NEAR(nm2[i], 0.5, 1e-5);
    EXPECT_NEAR(nuc[i], 7.5, 2e-5);
  }
  EXPECT_EQ(la::norm(b, 2.0, std::vector<int>{2, 1}, true).shape(), kx::Shape({2, 1, 1}));
  // matrix axes that are not the last two: (0, 2) of a (6, 2, 3) view of the same data
  kx::array bt = kx::transpose(b, {1, 0, 2});
  auto n2t = host_vec(la::norm(bt, 2.0, std::vector<int>{0, 2}));
  EXPECT_EQ(la::norm(bt, "nuc", std::vector<int>{0, 2}, true).shape(), kx::Shape({1, 2, 1}));
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(n2t[i], 5.0, 1e-5);
}

TEST_F(Linalg, NormErrors) {
  kx::array v({1.f, 2.f});
  kx::array m = kx::ones({2, 3});
  kx::array t = kx::ones({2, 3, 4});
  EXPECT_THROW(la::norm(v, "fro"), std::invalid_argument);
  EXPECT_THROW(la::norm(m, "bogus"), std::invalid_argument);
  EXPECT_THROW(la::norm(m, 3.0), std::invalid_argument);  // no matrix 3-norm
  EXPECT_THROW(la::norm(t, 2.0), std::invalid_argument);  // 3-D needs axes
  EXPECT_THROW(la::norm(t, std::vector<int>{0, 1, 2}), std::invalid_argument);
  EXPECT_THROW(la::norm(t, 2.0, std::vector<int>{1, -2}), std::invalid_argument);
  EXPECT_THROW(la::norm(t, 2.0, std::vector<int>{3}), std::invalid_argument);
  EXPECT_THROW(la::norm(v, std::nan(""), std::nullopt), std::invalid_argument);
}

// ------------------------------------------------------------------------------ top-k
TEST_F(Linalg, TopkSvdWithSpectralGap) {
  // top 6 singular values 10..5, then a tail below 0.5: after 3 iterations the top
  // triplets are found to well within 1e-3.
  int m = 120, n = 80, k = 6;
  std::vector<double> s = {10, 9, 8, 7, 6, 5};
  for (int i = 0; i < 40; ++i) s.push_back(0.5 * std::pow(0.95, i));
  Mat U(0, 0), V(0, 0);
  Mat a = cast_f32(with_spectrum(m, n, s, gen, &U, &V));
  auto [u, sv, vt] = la::topk_svd(device(a), k, {.iters = 3, .key = kx::random::key(7)});
  ASSERT_EQ(u.shape(), kx::Shape({m, k}));
  ASSERT_EQ(sv.shape(), kx::Shape({k}));
  ASSERT_EQ(vt.shape(), kx::Shape({k, n}));
  auto sh = host_vec(sv);
  for (int i = 0; i < k; ++i) EXPECT_NEAR(sh[i], s[i], 1e-3 * s[i]) << "sigma " << i;
  Mat Uh = host(u), Vth = host(vt);
  EXPECT_LE(orth_error(Uh), 1e-5);
  EXPECT_LE(orth_error(transpose(Vth)), 1e-5);
  // singular vectors match the true ones up to sign
  for (int j = 0; j < k; ++j) {
    double du = 0, dv = 0;
    for (int i = 0; i < m; ++i) du += Uh(i, j) * U(i, j);
    for (int i = 0; i < n; ++i) dv += Vth(j, i) * V(i, j);
    EXPECT_GE(std::abs(du), 1 - 1e-3) << j;
    EXPECT_GE(std::abs(dv), 1 - 1e-3) << j;
    EXPECT_GT(du * dv, 0) << "u and v signs must agree";
  }
}

TEST_F(Linalg, TopkSvdWideAndKeyed) {
  int m = 30, n = 70, k = 4;
  std::vector<double> s = {8, 6, 4, 3};
  for (int i = 0; i < 20; ++i) s.push_back(0.2);
  Mat a = cast_f32(with_spectrum(m, n, s, gen));
  kx::array A = device(a);
  auto r1 = la::topk_svd(A, k, {.iters = 3, .oversample = 4, .key = kx::random::key(1)});
  auto r2 = la::topk_svd(A, k, {.iters = 3, .oversample = 4, .key = kx::random::key(1)});
  auto r3 = la::topk_svd(A, k, {.iters = 3, .oversample = 4, .key = kx::random::key(2)});
  auto s1 = host_vec(std::get<1>(r1));
  EXPECT_EQ(host_vec(std::get<1>(r2)), s1);  // same key, same result
  EXPECT_EQ(host_vec(std::get<0>(r2)), host_vec(std::get<0>(r1)));
  auto s3 = host_vec(std::get<1>(r3));
  for (int i = 0; i < k; ++i) {
    EXPECT_NEAR(s1[i], s[i], 1e-3 * s[i]);
    EXPECT_NEAR(s3[i], s[i], 1e-3 * s[i]);
  }
  // oversample clamps at min(m, n) - k; k = min(m, n) is exact up to rounding
  auto [u, sv, vt] = la::topk_svd(device(cast_f32(gaussian(9, 5, gen))), 5,
                                  {.iters = 1, .oversample = 100});
  EXPECT_EQ(sv.shape(), kx::Shape({5}));
  // iters = 0 is a plain randomized range finder (still orthonormal outputs)
  auto [u0, s0, vt0] = la::topk_svd(A, k, {.iters = 0, .key = kx::random::key(3)});
  EXPECT_LE(orth_error(host(u0)), 1e-5);
}

TEST_F(Linalg, DegenerateInputs) {
  // zero matrix: finite factors, zero singular values
  auto [q, r] = la::qr(kx::zeros({5, 3}));
  for (float x : r.to_vector<float>()) EXPECT_EQ(x, 0.f);
  for (float x : q.to_vector<float>()) EXPECT_TRUE(std::isfinite(x));
  auto [u, s, vt] = la::svd(kx::zeros({4, 6}));
  for (float x : s.to_vector<float>()) EXPECT_EQ(x, 0.f);
  auto [uz, sz, vtz] = la::topk_svd(kx::zeros({8, 6}), 2, {.key = kx::random::key(0)});
  for (float x : sz.to_vector<float>()) EXPECT_EQ(x, 0.f);

  // rank 2 with k + oversample = 10 > rank: the extra directions are noise-free zeros
  std::vector<double> s2 = {3.0, 1.0};
  Mat a = cast_f32(with_spectrum(30, 20, s2, gen));
  auto [u2, sv2, vt2] = la::topk_svd(device(a), 2, {.key = kx::random::key(4)});
  auto h = host_vec(sv2);
  EXPECT_NEAR(h[0], 3.0, 1e-5);
  EXPECT_NEAR(h[1], 1.0, 1e-5);
  EXPECT_LE(orth_error(host(u2)), 1e-5);

  // entries near the float32 limits: Aᵀ(A V) would overflow / underflow without scaling
  for (double mag : {1e30, 1e-30}) {
    SCOPED_TRACE(mag);
    Mat b = with_spectrum(30, 20, {4.0, 2.0, 0.1}, gen);
    for (double& x : b.v) x *= mag;
    auto [ub, sb, vtb] = la::topk_svd(device(cast_f32(b)), 2, {.key = kx::random::key(5)});
    auto hb = host_vec(sb);
    EXPECT_NEAR(hb[0] / mag, 4.0, 1e-4);
    EXPECT_NEAR(hb[1] / mag, 2.0, 1e-4);
  }
}

TEST_F(Linalg, SubspaceStepIsQrOfAtAV) {
  Mat a = cast_f32(gaussian(40, 20, gen));
  Mat v = cast_f32(gaussian(20, 6, gen));
  kx::array A = device(a), V = device(v);
  kx::array q = la::subspace_step(A, V);
  EXPECT_EQ(q.shape(), kx::Shape({20, 6}));
  Mat qh = host(q);
  EXPECT_LE(orth_error(qh), 1e-5);
  // span(Q) = span(AᵀA V): the residual of projecting AᵀA V onto Q is tiny
  Mat z = matmul(transpose(a), matmul(a, v));
  Mat proj = matmul(qh, matmul(transpose(qh), z));
  EXPECT_LE(fro_diff(z, proj) / fro(z), 1e-5);
  // equals qr(...) built by hand
  kx::array q2 = la::qr(kx::matmul(kx::transpose(A), kx::matmul(A, V))).first;
  EXPECT_LE(fro_diff(qh, host(q2)), 1e-6);
}

TEST_F(Linalg, SubspaceStepCompiledEqualsEager) {
  auto step = kx::compile([](const kx::array& a, const kx::array& v) {
    return la::subspace_step(a, v);
  });
  kx::array A = device(cast_f32(gaussian(32, 16, gen)));
  kx::array V = device(cast_f32(gaussian(16, 5, gen)));
  Mat eager = host(la::subspace_step(A, V));
  for (int call = 0; call < 2; ++call) EXPECT_LE(fro_diff(host(step(A, V)), eager), 1e-6);
}

// ------------------------------------------------------------------------------ GPU
// SVD and small QRs (< 4096 elements) have no Vulkan kernels: on the GPU they download, run
// the CPU code and hand back host data that later GPU ops upload. Results must be the CPU's.
TEST_F(Linalg, GpuMatchesCpu) {
  if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device";
  const kx::Device gpu = kx::Device::gpu, cpu = kx::Device::cpu;
  Mat a = cast_f32(with_spectrum(48, 20, geometric(20, 1e3), gen));
  // produced on the GPU, so the decompositions read a device buffer
  kx::array A = kx::multiply(device(a), kx::array(1.f), gpu);

  auto [qg, rg] = la::qr(A, gpu);
  auto [qc, rc] = la::qr(device(a), cpu);
  EXPECT_EQ(host_vec(qg), host_vec(qc));
  EXPECT_EQ(host_vec(rg), host_vec(rc));
  // the host factors feed a later GPU op
  EXPECT_LE(fro_diff(host(kx::matmul(qg, rg, gpu)), a) / fro(a), 1e-5);

  auto [ug, sg, vtg] = la::svd(A, gpu);
  auto [uc, sc, vtc] = la::svd(device(a), cpu);
  EXPECT_EQ(host_vec(sg), host_vec(sc));
  EXPECT_EQ(host_vec(ug), host_vec(uc));

  la::TopkSvdOptions opts{.iters = 3, .key = kx::random::key(11)};
  auto [tug, tsg, tvtg] = la::topk_svd(A, 4, opts, gpu);
  auto [tuc, tsc, tvtc] = la::topk_svd(device(a), 4, opts, cpu);
  auto hg = host_vec(tsg), hc = host_vec(tsc);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(hg[i], hc[i], 1e-4 * hc[0]);

  kx::array V = device(cast_f32(gaussian(20, 6, gen)));
  Mat step_gpu = host(la::subspace_step(A, V, gpu));
  EXPECT_LE(fro_diff(step_gpu, host(la::subspace_step(device(a), V, cpu))), 1e-4);
}

// The Vulkan QR (gpu/qr.cpp): float32, n <= min(m, 256); by default only from m n² = 2^18 on,
// so these tests force it with KILN_GPU_QR=1.
namespace {
struct ForceGpuQr {
  explicit ForceGpuQr(const char* v = "1") { setenv("KILN_GPU_QR", v, 1); }
  ~ForceGpuQr() { unsetenv("KILN_GPU_QR"); }
};
struct GpuQr {
  Mat q, r;
};
GpuQr gpu_qr(const Mat& a) {
  // produced on the GPU, so the QR reads a device buffer
  kx::array A = kx::multiply(device(a), kx::array(1.f), kx::Device::gpu);
  auto [q, r] = la::qr(A, kx::Device::gpu);
  return {host(q), host(r)};
}
double max_abs_diff(const Mat& a, const Mat& b) {
  double e = 0;
  for (size_t i = 0; i < a.v.size(); ++i) e = std::max(e, std::abs(a.v[i] - b.v[i]));
  return e;
}
}  // namespace

TEST_F(Linalg, GpuQrMatchesCpuFactors) {
  if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device";
  ForceGpuQr force;
  // k = 20, 64: the factor kept in shared memory; 80, 256: in device memory (on lavapipe
  // 64 is in device memory too); 64 x 64 square: the last sign has no reflection
  for (auto [m, n] : std::vector<std::pair<int, int>>{
           {300, 20}, {512, 64}, {64, 64}, {200, 80}, {600, 256}, {4096, 8}}) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n));
    Mat a = cast_f32(gaussian(m, n, gen));
    auto [q, r] = gpu_qr(a);
    expect_qr_ok(a, q, r);
    auto [qc, rc] = la::qr(device(a), kx::Device::cpu);
    // Householder's signs, as on the CPU: the same factors up to rounding
    EXPECT_LE(max_abs_diff(q, host(qc)), 2e-4);
    EXPECT_LE(max_abs_diff(r, host(rc)) / fro(a), 2e-5);
  }
}

TEST_F(Linalg, GpuQrIllConditionedAndBatched) {
  if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device";
  ForceGpuQr force;
  for (double cond : {1e2, 1e4, 1e5}) {
    SCOPED_TRACE(cond);
    Mat a = cast_f32(with_spectrum(1024, 48, geometric(48, cond), gen));
    auto [q, r] = gpu_qr(a);
    expect_qr_ok(a, q, r);
  }
  std::vector<Mat> ms;
  for (int i = 0; i < 6; ++i) ms.push_back(cast_f32(gaussian(160, 30, gen)));
  kx::array A = kx::multiply(device(ms, {2, 3}), kx::array(1.f), kx::Device::gpu);
  auto [q, r] = la::qr(A, kx::Device::gpu);
  EXPECT_EQ(q.shape(), kx::Shape({2, 3, 160, 30}));
  EXPECT_EQ(r.shape(), kx::Shape({2, 3, 30, 30}));
  for (size_t i = 0; i < ms.size(); ++i) {
    SCOPED_TRACE(i);
    expect_qr_ok(ms[i], host(q, i), host(r, i));
    EXPECT_LE(max_abs_diff(host(q, i), host(la::qr(device(ms[i]), kx::Device::cpu).first)), 2e-4);
  }
}

TEST_F(Linalg, GpuQrRankDeficient) {
  if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device";
  ForceGpuQr force;
  // zero matrix, repeated columns, rank 10 of 40: Q stays orthonormal, Q R = A, R has zero
  // rows where a column adds nothing
  Mat zero(256, 24);
  Mat dup = cast_f32(gaussian(200, 30, gen));
  for (int i = 0; i < dup.rows; ++i) dup(i, 7) = dup(i, 2), dup(i, 20) = dup(i, 2);
  Mat low = cast_f32(matmul(gaussian(300, 10, gen), gaussian(10, 40, gen)));
  for (const Mat* a : {&zero, &dup, &low}) {
    auto [q, r] = gpu_qr(*a);
    EXPECT_LE(orth_error(q), 1e-5);
    double scale = std::max(fro(*a), 1.0);
    EXPECT_LE(fro_diff(*a, matmul(q, r)) / scale, 1e-5);
    for (int i = 0; i < r.rows; ++i)
      for (int j = 0; j < i; ++j) EXPECT_EQ(r(i, j), 0.0);
  }
  auto [qd, rd] = gpu_qr(dup);
  EXPECT_LE(std::abs(rd(7, 7)), 1e-4 * fro(dup));
}

TEST_F(Linalg, GpuQrEdgeShapes) {
  if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device";
  ForceGpuQr force;
  // one column, a square matrix, the identity and an upper-triangular input (Householder
  // leaves those unreflected: the same factors as the CPU's), a 1 x 1
  Mat tri = cast_f32(gaussian(12, 12, gen));
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < i; ++j) tri(i, j) = 0;
  Mat eye(9, 9);
  for (int i = 0; i < 9; ++i) eye(i, i) = 1;
  Mat one(1, 1);
  one(0, 0) = -3;
  for (const Mat& a : {cast_f32(gaussian(500, 1, gen)), cast_f32(gaussian(16, 16, gen)), eye, tri,
                       one}) {
    SCOPED_TRACE(std::to_string(a.rows) + "x" + std::to_string(a.cols));
    auto [q, r] = gpu_qr(a);
    expect_qr_ok(a, q, r);
    auto [qc, rc] = la::qr(device(a), kx::Device::cpu);
    EXPECT_LE(max_abs_diff(q, host(qc)), 2e-4);
    EXPECT_LE(max_abs_diff(r, host(rc)), 2e-5 * std::max(1.0, fro(a)));
  }
  // a batch whose middle matrix is zero: its own Q is still orthonormal, the others unaffected
  std::vector<Mat> ms = {cast_f32(gaussian(64, 8, gen)), Mat(64, 8), cast_f32(gaussian(64, 8, gen))};
  kx::array A = kx::multiply(device(ms, {3}), kx::array(1.f), kx::Device::gpu);
  auto [q, r] = la::qr(A, kx::Device::gpu);
  for (size_t i = 0; i < ms.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_LE(orth_error(host(q, i)), 1e-5);
    EXPECT_LE(fro_diff(ms[i], matmul(host(q, i), host(r, i))), 1e-5 * std::max(1.0, fro(ms[i])));
  }
}

TEST_F(Linalg, GpuQrRunsOnDeviceAndElsewhereFallsBack) {
  if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device";
  const kx::Device gpu = kx::Device::gpu;
  auto on_gpu = [&](const Mat& m) { return kx::multiply(device(m), kx::array(1.f), gpu); };
  auto gpu_work = [&](const kx::array& x) {
    kx::eval(x);
    kx::gpu::detail::reset_kernel_stats();
    auto [q, r] = la::qr(x, gpu);
    kx::eval(q, r);
    return kx::gpu::detail::kernel_stats();
  };
  {
    // by default (auto): from m n² = 2^18 on, on the device, no host round trip
    Mat big = cast_f32(gaussian(1024, 64, gen));
    auto st = gpu_work(on_gpu(big));
    EXPECT_EQ(st.fallbacks, 0u);
    EXPECT_EQ(st.downloads, 0u);
    EXPECT_EQ(st.dispatches, 9u);  // 2 x (gram, gram_sum, chol, apply) + sign
    // smaller: the CPU path
    Mat small = cast_f32(gaussian(128, 32, gen));
    EXPECT_EQ(gpu_work(on_gpu(small)).fallbacks, 1u);
    ForceGpuQr never("0");
    EXPECT_EQ(gpu_work(on_gpu(big)).fallbacks, 1u);
  }
  ForceGpuQr force;
  Mat a = cast_f32(gaussian(256, 32, gen));
  EXPECT_EQ(gpu_work(on_gpu(a)).fallbacks, 0u);
  // NaN propagates on the device path (the CPU raises; see docs/linalg.md)
  Mat bad = a;
  bad(5, 3) = std::numeric_limits<double>::quiet_NaN();
  auto [qn, rn] = la::qr(on_gpu(bad), gpu);
  EXPECT_TRUE(kx::any(kx::isnan(rn)).item<bool>());
  // MLX's documented example: LAPACK's signs on either device
  auto [q2, r2] = la::qr(kx::multiply(kx::array({2.f, 3.f, 1.f, 2.f}, {2, 2}), kx::array(1.f), gpu),
                         gpu);
  std::vector<float> want_q = {-0.894427f, -0.447214f, -0.447214f, 0.894427f};
  std::vector<float> want_r = {-2.23607f, -3.57771f, 0.f, 0.447214f};
  auto hq = q2.to_vector<float>(), hr = r2.to_vector<float>();
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(hq[i], want_q[i], 1e-5f) << i;
    EXPECT_NEAR(hr[i], want_r[i], 1e-5f) << i;
  }
  // wide, more than 256 columns: the CPU path even when forced, exactly the CPU's factors
  for (auto [m, n] : std::vector<std::pair<int, int>>{{64, 128}, {300, 260}}) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n));
    Mat w = cast_f32(gaussian(m, n, gen));
    kx::array W = on_gpu(w);
    EXPECT_EQ(gpu_work(W).fallbacks, 1u);
    auto [qw, rw] = la::qr(W, gpu);
    auto [qc, rc] = la::qr(device(w), kx::Device::cpu);
    EXPECT_EQ(host_vec(qw), host_vec(qc));
    EXPECT_EQ(host_vec(rw), host_vec(rc));
  }
}

TEST_F(Linalg, GpuSubspaceStepCompiledReplays) {
  if (!kx::gpu::is_available()) GTEST_SKIP() << "no Vulkan device";
  ForceGpuQr force;
  const kx::Device gpu = kx::Device::gpu;
  kx::set_default_device(gpu);
  Mat a = cast_f32(gaussian(512, 256, gen));
  kx::array A = kx::multiply(device(a), kx::array(1.f));
  kx::array V = kx::multiply(device(cast_f32(gaussian(256, 32, gen))), kx::array(1.f));
  auto step = kx::compile([](const kx::array& x, const kx::array& v) {
    return la::subspace_step(x, v);
  });
  Mat eager = host(la::subspace_step(A, V));
  Mat cpu = host(la::subspace_step(device(a), V, kx::Device::cpu));
  EXPECT_LE(max_abs_diff(eager, cpu), 1e-3);
  for (int call = 0; call < 3; ++call) {
    kx::gpu::detail::reset_kernel_stats();
    Mat got = host(step(A, V));
    EXPECT_LE(max_abs_diff(got, eager), 1e-5) << call;
    EXPECT_EQ(kx::gpu::detail::kernel_stats().fallbacks, 0u);
  }
  EXPECT_GE(kx::gpu::detail::kernel_stats().replays, 1u);
}

// ------------------------------------------------------------------------------ errors
TEST_F(Linalg, InvalidArguments) {
  kx::array v({1.f, 2.f});
  kx::array m = kx::ones({4, 3});
  EXPECT_THROW(la::qr(v), std::invalid_argument);
  EXPECT_THROW(la::svd(kx::array(1.f)), std::invalid_argument);
  EXPECT_THROW(la::qr(kx::ones({3, 3}, kx::int32)), std::invalid_argument);
  EXPECT_THROW(la::svd(kx::ones({3, 3}, kx::bool_)), std::invalid_argument);
  EXPECT_THROW(la::topk_svd(kx::ones({2, 4, 3}), 1), std::invalid_argument);
  EXPECT_THROW(la::topk_svd(v, 1), std::invalid_argument);
  EXPECT_THROW(la::topk_svd(m, 0), std::invalid_argument);
  EXPECT_THROW(la::topk_svd(m, 4), std::invalid_argument);
  EXPECT_THROW(la::topk_svd(kx::ones({4, 3}, kx::int32), 1), std::invalid_argument);
  EXPECT_THROW(la::topk_svd(m, 1, {.iters = -1}), std::invalid_argument);
  EXPECT_THROW(la::topk_svd(m, 1, {.oversample = -1}), std::invalid_argument);
  EXPECT_THROW(la::subspace_step(m, kx::ones({4, 2})), std::invalid_argument);
  try {
    la::topk_svd(m, 5);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("k must be in [1, min(m, n)] = [1, 3]"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Linalg, NonFiniteInputFailsAtEval) {
  float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  kx::array with_nan({1.f, 2.f, nan, 4.f}, {2, 2});
  kx::array with_inf({1.f, inf, 3.f, 4.f, 5.f, 6.f}, {3, 2});
  auto [q, r] = la::qr(with_nan);  // lazy: building the graph does not throw
  EXPECT_THROW(q.eval(), kx::Error);
  EXPECT_THROW(std::get<1>(la::svd(with_inf)).eval(), kx::Error);
  try {
    std::get<0>(la::svd(with_nan)).eval();
    FAIL();
  } catch (const kx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN or Inf"), std::string::npos) << e.what();
  }
  // topk_svd: the non-finite values reach its first QR, which fails (never hangs)
  kx::array big = kx::where(kx::equal(kx::reshape(kx::arange(64 * 32), {64, 32}), kx::array(100)),
                            kx::array(nan), kx::ones({64, 32}));
  EXPECT_THROW(std::get<1>(la::topk_svd(big, 2)).eval(), kx::Error);
}

TEST_F(Linalg, NotDifferentiable) {
  kx::array a = device(cast_f32(gaussian(4, 3, gen)));
  auto [q, r] = la::qr(a);
  auto [u, s, vt] = la::svd(a);
  for (kx::array out : {q, u}) {
    auto& p = out.primitive();
    try {
      p.vjp({a}, {kx::ones_like(out)}, {0}, out.outputs());
      FAIL() << p.name();
    } catch (const kx::TransformError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("not differentiable"), std::string::npos) << msg;
      EXPECT_NE(msg.find("stop_gradient"), std::string::npos) << msg;
    }
    EXPECT_THROW(p.jvp({a}, {kx::ones_like(a)}, {0}), kx::TransformError);
  }
}

// ------------------------------------------------------------------------------ transforms
TEST_F(Linalg, VectorAndFrobeniusNormsAreDifferentiable) {
  std::vector<float> xs = {0.5f, -2.f, 1.5f, 3.f, -1.f, 0.25f};
  kx::array x(xs, {2, 3});
  auto check = [&](std::function<kx::array(const kx::array&)> f, std::vector<double> want,
                   const char* what) {
    SCOPED_TRACE(what);
    auto g = kx::grad(f)(x).to_vector<float>();
    ASSERT_EQ(g.size(), want.size());
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-5) << i;
  };
  double fro2 = 0;
  for (float v : xs) fro2 += double(v) * v;
  std::vector<double> w_fro, w_l1, w_l3;
  double p3 = 0;
  for (float v : xs) p3 += std::pow(std::abs(v), 3.0);
  double n3 = std::cbrt(p3);
  for (float v : xs) {
    w_fro.push_back(v / std::sqrt(fro2));
    w_l1.push_back(v > 0 ? 1.0 : -1.0);
    w_l3.push_back(std::abs(v) * v / (n3 * n3));
  }
  check([](const kx::array& a) { return la::norm(a); }, w_fro, "flattened 2-norm");
  check([](const kx::array& a) { return la::norm(a, "fro"); }, w_fro, "fro");
  check([](const kx::array& a) { return kx::sum(la::norm(a, 1.0, std::vector<int>{1})); }, w_l1,
        "row 1-norms");
  check([](const kx::array& a) { return la::norm(kx::reshape(a, {6}), 3.0); }, w_l3, "3-norm");
  // inf-norm: the derivative picks the largest |x| (3 at index 3)
  check([](const kx::array& a) {
    return la::norm(kx::reshape(a, {6}), std::numeric_limits<double>::infinity());
  }, {0, 0, 0, 1, 0, 0}, "inf-norm");
}

TEST_F(Linalg, TransformsThroughDecompositionsThrowClearly) {
  kx::array x = device(cast_f32(gaussian(4, 4, gen)));
  auto expect_clear = [](const std::function<void()>& f, const char* op) {
    try {
      f();
      FAIL() << "no error for " << op;
    } catch (const kx::TransformError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(op), std::string::npos) << msg;
      EXPECT_NE(msg.find("not differentiable"), std::string::npos) << msg;
      EXPECT_NE(msg.find("stop_gradient"), std::string::npos) << msg;
    }
  };
  expect_clear([&] { kx::grad([](const kx::array& a) { return kx::sum(la::qr(a).second); })(x); },
               "linalg::qr");
  expect_clear([&] {
    kx::grad([](const kx::array& a) { return kx::sum(std::get<1>(la::svd(a))); })(x);
  }, "linalg::svd");
  expect_clear([&] {
    kx::grad([](const kx::array& a) { return la::norm(a, "nuc"); })(x);
  }, "linalg::svd");
  expect_clear([&] {
    kx::grad([](const kx::array& a) {
      return kx::sum(std::get<1>(la::topk_svd(a, 2, {.key = kx::random::key(0)})));
    })(x);
  }, "linalg::");
  expect_clear([&] {
    kx::jvp([](const kx::array& a) { return la::qr(a).first; }, x, kx::ones_like(x));
  }, "linalg::qr");

  // stop_gradient makes them usable inside a differentiated function: d/dx sum(R ⊙ x) = R
  auto f = [](const kx::array& a) {
    return kx::sum(kx::multiply(la::qr(kx::stop_gradient(a)).second, a));
  };
  auto g = kx::grad(f)(x).to_vector<float>();
  auto r = la::qr(x).second.to_vector<float>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], r[i], 1e-6);
}
