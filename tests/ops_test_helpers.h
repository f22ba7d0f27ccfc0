// Shared helpers of the tests/test_ops_*.cpp and tests/test_random.cpp suites.
#pragma once
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kx = kiln;

namespace kt {

inline const std::vector<kx::Dtype> kAllDtypes = {kx::bool_,   kx::int32,    kx::uint32, kx::int64,
                                                  kx::float16, kx::bfloat16, kx::float32};
inline const std::vector<kx::Dtype> kNumericDtypes = {kx::int32,   kx::uint32,   kx::int64,
                                                      kx::float16, kx::bfloat16, kx::float32};
inline const std::vector<kx::Dtype> kFloatDtypes = {kx::float16, kx::bfloat16, kx::float32};

inline std::vector<float> fv(kx::array a) { return a.to_vector<float>(); }
inline std::vector<int> iv(kx::array a) { return a.to_vector<int>(); }
inline std::vector<int64_t> lv(kx::array a) { return a.to_vector<int64_t>(); }
inline std::vector<uint32_t> uv(kx::array a) { return a.to_vector<uint32_t>(); }
inline std::vector<bool> bv(kx::array a) { return a.to_vector<bool>(); }

// Relative tolerance that fits a dtype's precision.
inline float tol_for(kx::Dtype d) {
  if (d == kx::float16) return 2e-3f;
  if (d == kx::bfloat16) return 1.6e-2f;
  return 2e-6f;
}

// |a - e| <= atol + rtol |e| elementwise (NaN matches NaN, inf matches same-signed inf), and
// the sizes agree.
inline ::testing::AssertionResult all_close(kx::array a, const std::vector<float>& expected,
                                            float rtol = 2e-6f, float atol = 1e-6f) {
  auto got = a.to_vector<float>();
  if (got.size() != expected.size())
    return ::testing::AssertionFailure()
           << "size " << got.size() << " != expected " << expected.size();
  for (size_t i = 0; i < got.size(); ++i) {
    float g = got[i], e = expected[i];
    if (std::isnan(e) && std::isnan(g)) continue;
    if (std::isinf(e) && g == e) continue;
    if (!(std::fabs(g - e) <= atol + rtol * std::fabs(e)))
      return ::testing::AssertionFailure() << "element " << i << ": got " << g << ", expected " << e
                                           << " (dtype " << a.dtype() << ")";
  }
  return ::testing::AssertionSuccess();
}

// Same shape and values (NaN equals NaN).
inline ::testing::AssertionResult same_values(kx::array a, kx::array b) {
  if (a.shape() != b.shape()) return ::testing::AssertionFailure() << "shapes differ";
  auto x = a.to_vector<float>(), y = b.to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]))))
      return ::testing::AssertionFailure() << "element " << i << ": " << x[i] << " vs " << y[i];
  return ::testing::AssertionSuccess();
}

inline std::string str(const kx::array& a) {
  std::ostringstream os;
  os << a;
  return os.str();
}

// Forces evaluation of whatever an op returned, so that errors raised at eval count too.
inline void force(kx::array a) { a.eval(); }
inline void force(std::vector<kx::array> v) { kx::eval(v); }
inline void force(std::pair<kx::array, kx::array> p) { kx::eval(p.first, p.second); }
template <typename T>
inline void force(const T&) {}

// Non-contiguous producers: each returns an array equal to `a` (shape and values) that is
// computed from a differently laid out parent, so kernels see transposed/strided/broadcast
// inputs where the backend supports views and copies otherwise.
inline kx::array via_transpose(const kx::array& a) {
  // a == transpose(transpose(a))
  return kx::transpose(kx::copy(kx::transpose(a)));
}
inline kx::array via_reversed_slice(const kx::array& a) {
  // flip twice along the last axis through negative-stride slices
  if (a.ndim() == 0) return a;
  return kx::flip(kx::flip(a, -1), -1);
}

}  // namespace kt

// The statement must throw std::invalid_argument whose message contains "[name]".
#define EXPECT_OP_THROWS(stmt, name)                                                             \
  do {                                                                                           \
    try {                                                                                        \
      kt::force(stmt);                                                                           \
      ADD_FAILURE() << #stmt " did not throw";                                                   \
    } catch (const std::invalid_argument& e_) {                                                  \
      if (std::string(e_.what()).find(std::string("[") + (name) + "]") == std::string::npos)     \
        ADD_FAILURE() << #stmt " threw a message not naming [" << (name) << "]: " << e_.what();  \
    } catch (const std::exception& e_) {                                                         \
      ADD_FAILURE() << #stmt " threw something other than std::invalid_argument: " << e_.what(); \
    }                                                                                            \
  } while (0)
