// Gradient checker for tests (header-only, GoogleTest).
//
//   EXPECT_TRUE(kiln::testing::check_grads(fun, {x, y}));
//
// For fun at the given primals it checks, with random directions:
//  1. jvp against central finite differences (Richardson-extrapolated, evaluated in float32
//     with the differences and comparisons done in double), and
//  2. the inner-product identity <vjp(u), v> == <u, jvp(v)>, which ties the vjp to the jvp
//     exactly (up to float32 rounding), so a vjp rule is checked even where finite
//     differences are too coarse.
// Only floating primals are perturbed (others are held fixed; pass integer indices through
// a closure or as primals); only floating outputs are compared. Pick inputs away from kinks
// (|x| near 0 for abs, ties for max, integers for floor): the step is opts.eps times a
// direction with entries in [-1, 1].
#pragma once
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace kiln::testing {

struct GradCheckOptions {
  double eps = 1e-2;      // finite-difference step
  double rtol = 2e-3;     // jvp vs finite differences, relative to the tangents' max-norm
  double atol = 1e-4;     // ... plus this, plus float32 rounding of f amplified by 1/eps
  double ip_rtol = 1e-4;  // inner-product identity, relative to the sum of |terms|
  bool finite_differences = true;
  bool inner_product = true;
  uint32_t seed = 1234;
};

namespace grad_check_detail {

inline std::vector<double> host(const array& a) {
  array f = a.dtype() == float32 ? a : astype(a, float32);
  std::vector<float> v = f.to_vector<float>();
  return std::vector<double>(v.begin(), v.end());
}

// Entries uniform in [-1, 1] (float), zeros for other dtypes.
inline array direction(const array& like, std::mt19937& rng) {
  if (!is_floating(like.dtype())) return zeros_like(like);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(like.size());
  for (auto& x : v) x = u(rng);
  return astype(array(v, like.shape()), like.dtype());
}

inline double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

inline bool all_finite(const std::vector<double>& v) {
  for (double x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

inline std::string shape_of(const array& a) { return kiln::detail::shape_str(a.shape()); }

// primals + s * dirs, computed in double and rounded to the primal's dtype.
inline std::vector<array> shifted(const std::vector<array>& primals,
                                  const std::vector<std::vector<double>>& base,
                                  const std::vector<std::vector<double>>& dirs, double s) {
  std::vector<array> out;
  for (size_t i = 0; i < primals.size(); ++i) {
    if (!is_floating(primals[i].dtype())) {
      out.push_back(primals[i]);
      continue;
    }
    std::vector<float> v(base[i].size());
    for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>(base[i][k] + s * dirs[i][k]);
    out.push_back(astype(array(v, primals[i].shape()), primals[i].dtype()));
  }
  return out;
}

}  // namespace grad_check_detail

inline ::testing::AssertionResult check_grads(const VectorFn& fun,
                                              const std::vector<array>& primals,
                                              const GradCheckOptions& opts = {}) {
  using namespace grad_check_detail;
  std::mt19937 rng(opts.seed);
  std::vector<array> outs = fun(primals);
  eval(outs);
  std::vector<array> v;
  for (auto& p : primals) v.push_back(direction(p, rng));

  auto [jvp_outs, tangents] = jvp(fun, primals, v);
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!is_floating(outs[k].dtype())) continue;
    if (jvp_outs[k].shape() != outs[k].shape() || tangents[k].shape() != outs[k].shape())
      return ::testing::AssertionFailure()
             << "jvp output/tangent " << k << " has shape " << shape_of(tangents[k])
             << ", expected " << shape_of(outs[k]);
    auto a = host(jvp_outs[k]), b = host(outs[k]);
    for (size_t i = 0; i < a.size(); ++i)
      if (std::abs(a[i] - b[i]) > 1e-5 * (1 + std::abs(b[i])) &&
          !(std::isnan(a[i]) && std::isnan(b[i])))
        return ::testing::AssertionFailure() << "jvp's output " << k << " differs from fun's at "
                                             << i << ": " << a[i] << " vs " << b[i];
  }

  if (opts.finite_differences) {
    std::vector<std::vector<double>> base, dirs;
    for (size_t i = 0; i < primals.size(); ++i) {
      base.push_back(is_floating(primals[i].dtype()) ? host(primals[i]) : std::vector<double>{});
      dirs.push_back(is_floating(primals[i].dtype()) ? host(v[i]) : std::vector<double>{});
    }
    auto eval_at = [&](double s) {
      std::vector<array> o = fun(shifted(primals, base, dirs, s));
      std::vector<std::vector<double>> r;
      for (auto& x : o) r.push_back(is_floating(x.dtype()) ? host(x) : std::vector<double>{});
      return r;
    };
    double h = opts.eps;
    auto fp = eval_at(h), fm = eval_at(-h), fp2 = eval_at(h / 2), fm2 = eval_at(-h / 2);
    for (size_t k = 0; k < outs.size(); ++k) {
      if (!is_floating(outs[k].dtype())) continue;
      std::vector<double> jt = host(tangents[k]), f0 = host(outs[k]);
      if (!all_finite(jt))
        return ::testing::AssertionFailure() << "jvp tangent of output " << k << " is not finite";
      std::vector<double> fd(jt.size());
      for (size_t i = 0; i < fd.size(); ++i) {
        double d1 = (fp[k][i] - fm[k][i]) / (2 * h);
        double d2 = (fp2[k][i] - fm2[k][i]) / h;
        fd[i] = (4 * d2 - d1) / 3;
      }
      double scale = std::max(max_abs(jt), max_abs(fd));
      double tol = opts.atol + opts.rtol * scale + 64 * 6e-8 * max_abs(f0) / h;
      for (size_t i = 0; i < fd.size(); ++i)
        if (!(std::abs(fd[i] - jt[i]) <= tol))
          return ::testing::AssertionFailure()
                 << "jvp disagrees with finite differences: output " << k << " of shape "
                 << shape_of(outs[k]) << ", element " << i << ": jvp " << jt[i]
                 << ", finite differences " << fd[i] << " (tolerance " << tol << ")";
    }
  }

  if (opts.inner_product) {
    std::vector<array> u;
    for (auto& o : outs) u.push_back(direction(o, rng));
    auto [vjp_outs, cots] = vjp(fun, primals, u);
    if (cots.size() != primals.size())
      return ::testing::AssertionFailure() << "vjp returned " << cots.size() << " cotangents for "
                                           << primals.size() << " primals";
    double lhs = 0, rhs = 0, mag = 0;
    for (size_t i = 0; i < primals.size(); ++i) {
      if (!is_floating(primals[i].dtype())) continue;
      if (cots[i].shape() != primals[i].shape())
        return ::testing::AssertionFailure()
               << "vjp cotangent " << i << " has shape " << shape_of(cots[i]) << ", expected "
               << shape_of(primals[i]);
      auto g = host(cots[i]), d = host(v[i]);
      if (!all_finite(g))
        return ::testing::AssertionFailure() << "vjp cotangent " << i << " is not finite";
      for (size_t e = 0; e < g.size(); ++e) {
        lhs += g[e] * d[e];
        mag += std::abs(g[e] * d[e]);
      }
    }
    for (size_t k = 0; k < outs.size(); ++k) {
      if (!is_floating(outs[k].dtype())) continue;
      auto a = host(u[k]), t = host(tangents[k]);
      for (size_t e = 0; e < a.size(); ++e) {
        rhs += a[e] * t[e];
        mag += std::abs(a[e] * t[e]);
      }
    }
    if (!(std::abs(lhs - rhs) <= opts.ip_rtol * mag + 1e-6))
      return ::testing::AssertionFailure()
             << "<vjp(u), v> = " << lhs << " but <u, jvp(v)> = " << rhs << " (sum of |terms| "
             << mag << ")";
  }
  return ::testing::AssertionSuccess();
}

// Single-argument form.
inline ::testing::AssertionResult check_grads(const std::function<array(const array&)>& fun,
                                              const array& x, const GradCheckOptions& opts = {}) {
  return check_grads([fun](const std::vector<array>& a) { return std::vector<array>{fun(a[0])}; },
                     {x}, opts);
}

}  // namespace kiln::testing
