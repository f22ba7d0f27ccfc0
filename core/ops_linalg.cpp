// matmul (NumPy semantics), addmm, outer, inner, tensordot.
#include <algorithm>

#include "ops_impl.h"

namespace kiln {

using detail::make;
using detail::shape_str;

namespace {
// Runs f, renaming a "[from] ..." error to "[to] ..." so composed ops name themselves.
template <typename F>
array renamed(const char* from, const char* to, F&& f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    std::string m = e.what(), pre = std::string("[") + from + "]";
    if (m.rfind(pre, 0) != 0) throw;
    throw std::invalid_argument(std::string("[") + to + "]" + m.substr(pre.size()));
  }
}
}  // namespace

array matmul(const array& a_in, const array& b_in, StreamOrDevice s) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0)
    throw std::invalid_argument("[matmul] got a zero-dimensional operand (shapes " +
                                shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()) +
                                "); use multiply for scalars");
  auto st = to_stream(s);
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  if (!is_floating(t))
    throw std::invalid_argument("[matmul] only floating point types are supported, got " +
                                to_string(a_in.dtype()) + " and " + to_string(b_in.dtype()));
  array a = astype(a_in, t, st), b = astype(b_in, t, st);
  bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  if (a_vec) a = reshape(a, {1, a.shape(0)}, st);
  if (b_vec) b = reshape(b, {b.shape(0), 1}, st);
  if (a.shape(-1) != b.shape(-2))
    throw std::invalid_argument("[matmul] last dimension of the first operand " +
                                shape_str(a_in.shape()) +
                                " must match the second-to-last of the second " +
                                shape_str(b_in.shape()));
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(ab, bb);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("[matmul] batch dimensions of " + shape_str(a_in.shape()) +
                                " and " + shape_str(b_in.shape()) + " cannot be broadcast");
  }
  if (b.ndim() == 2 && a.ndim() > 2) {
    // (..., M, K) @ (K, N): one (batch*M, K) @ (K, N) product instead of copying b per batch
    int rows = static_cast<int>(a.size() / std::max(a.shape(-1), 1));
    if (a.shape(-1) == 0) {
      rows = 1;
      for (int i = 0; i + 1 < a.ndim(); ++i) rows *= a.shape(i);
    }
    Shape out = a.shape();
    out.back() = b.shape(-1);
    array a2 = reshape(a, {rows, a.shape(-1)}, st);
    array r = make({rows, b.shape(-1)}, t, std::make_shared<Matmul>(st), {a2, b});
    r = reshape(r, out, st);
    if (b_vec) r = squeeze(r, -1, st);
    return r;
  }
  Shape sa = batch, sb = batch;
  sa.push_back(a.shape(-2));
  sa.push_back(a.shape(-1));
  sb.push_back(b.shape(-2));
  sb.push_back(b.shape(-1));
  a = broadcast_to(a, sa, st);
  b = broadcast_to(b, sb, st);
  Shape out = batch;
  out.push_back(a.shape(-2));
  out.push_back(b.shape(-1));
  array r = make(out, t, std::make_shared<Matmul>(st), {a, b});
  if (a_vec) r = squeeze(r, -2, st);
  if (b_vec) r = squeeze(r, -1, st);
  return r;
}

array addmm(const array& c, const array& a, const array& b, float alpha, float beta,
            StreamOrDevice s) {
  array ab = renamed("matmul", "addmm", [&] { return matmul(a, b, s); });
  if (alpha != 1.f) ab = multiply(ab, array(alpha, ab.dtype()), s);
  array cc = astype(c, ab.dtype(), s);
  if (beta != 1.f) cc = multiply(cc, array(beta, ab.dtype()), s);
  try {
    broadcast_shapes(cc.shape(), ab.shape());
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("[addmm] c of shape " + shape_str(c.shape()) +
                                " cannot be broadcast to the product's shape " +
                                shape_str(ab.shape()));
  }
  return add(ab, cc, s);
}

array outer(const array& a, const array& b, StreamOrDevice s) {
  return multiply(reshape(a, {-1, 1}, s), reshape(b, {1, -1}, s), s);
}

array inner(const array& a, const array& b, StreamOrDevice s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  if (a.shape(-1) != b.shape(-1))
    throw std::invalid_argument("[inner] last dimensions differ: " + shape_str(a.shape()) +
                                " and " + shape_str(b.shape()));
  return renamed("tensordot", "inner", [&] { return tensordot(a, b, {-1}, {-1}, s); });
}

array tensordot(const array& a, const array& b, const std::vector<int>& axes_a,
                const std::vector<int>& axes_b, StreamOrDevice s) {
  if (axes_a.size() != axes_b.size())
    throw std::invalid_argument("[tensordot] axes lists must have the same length");
  auto aa = axes_a, bb = axes_b;
  for (auto& x : aa) x = detail::normalize_axis(x, a.ndim(), "tensordot");
  for (auto& x : bb) x = detail::normalize_axis(x, b.ndim(), "tensordot");
  for (auto* v : {&aa, &bb}) {
    auto sorted = *v;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      throw std::invalid_argument("[tensordot] repeated axis in the contracted axes");
  }
  int k = 1;
  for (size_t i = 0; i < aa.size(); ++i) {
    if (a.shape()[aa[i]] != b.shape()[bb[i]])
      throw std::invalid_argument("[tensordot] contracted dimensions differ: " +
                                  shape_str(a.shape()) + " axis " + std::to_string(aa[i]) +
                                  " vs " + shape_str(b.shape()) + " axis " +
                                  std::to_string(bb[i]));
    k *= a.shape()[aa[i]];
  }
  std::vector<int> fa, fb;
  Shape out;
  int m = 1, n = 1;
  for (int i = 0; i < a.ndim(); ++i)
    if (std::find(aa.begin(), aa.end(), i) == aa.end()) {
      fa.push_back(i);
      out.push_back(a.shape()[i]);
      m *= a.shape()[i];
    }
  for (int i = 0; i < b.ndim(); ++i)
    if (std::find(bb.begin(), bb.end(), i) == bb.end()) {
      fb.push_back(i);
      out.push_back(b.shape()[i]);
      n *= b.shape()[i];
    }
  std::vector<int> pa = fa, pb = bb;
  pa.insert(pa.end(), aa.begin(), aa.end());
  pb.insert(pb.end(), fb.begin(), fb.end());
  array am = reshape(transpose(a, pa, s), {m, k}, s);
  array bm = reshape(transpose(b, pb, s), {k, n}, s);
  return reshape(renamed("matmul", "tensordot", [&] { return matmul(am, bm, s); }), out, s);
}

array tensordot(const array& a, const array& b, int axes, StreamOrDevice s) {
  if (axes < 0 || axes > a.ndim() || axes > b.ndim())
    throw std::invalid_argument("[tensordot] axes=" + std::to_string(axes) +
                                " is invalid for shapes " + shape_str(a.shape()) + " and " +
                                shape_str(b.shape()));
  std::vector<int> aa, bb;
  for (int i = 0; i < axes; ++i) {
    aa.push_back(a.ndim() - axes + i);
    bb.push_back(i);
  }
  return tensordot(a, b, aa, bb, s);
}

}  // namespace kiln
