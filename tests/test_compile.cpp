// compile: the seeds' examples, structural asserts, recompiles, compiled == eager.
#include <gtest/gtest.h>
#include <kiln/compile/compile_info.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace kx = kiln;
using kx::array;

namespace {
std::vector<std::string> tape_of(const kx::VectorFn& f) { return kx::detail::compile_info(f).tape; }
int count_prefix(const std::vector<std::string>& v, const std::string& p) {
  int n = 0;
  for (auto& s : v) n += s.rfind(p, 0) == 0;
  return n;
}
void expect_close(array a, array b, float tol = 1e-6f) {
  ASSERT_EQ(a.shape(), b.shape());
  auto x = kx::astype(a, kx::float32).to_vector<float>();
  auto y = kx::astype(b, kx::float32).to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(y[i])) {
      EXPECT_TRUE(std::isnan(x[i])) << i;
    } else if (std::isinf(y[i])) {
      EXPECT_EQ(x[i], y[i]) << i;
    } else {
      EXPECT_NEAR(x[i], y[i], tol * (1 + std::fabs(y[i]))) << "at " << i;
    }
  }
}
struct CpuDefault : ::testing::Test {
  void SetUp() override {
    kx::set_default_device(kx::Device::cpu);
    kx::enable_compile();
  }
};
using Compile = CpuDefault;
}  // namespace

TEST_F(Compile, SeedBasics) {
  auto fun = [](const array& x, const array& y) { return kx::exp(-x) + y; };
  array x(1.0f), y(2.0f);
  auto cf = kx::compile(fun);
  EXPECT_NEAR(fun(x, y).item<float>(), 2.36788f, 1e-5);
  EXPECT_NEAR(cf(x, y).item<float>(), 2.36788f, 1e-5);
}

TEST_F(Compile, CacheAndRecompileReasons) {
  kx::VectorFn f = [](const std::vector<array>& in) { return std::vector<array>{kx::exp(-in[0])}; };
  auto cf = kx::compile(f);
  cf({kx::ones({2, 3})});
  cf({kx::ones({2, 3})});
  EXPECT_EQ(kx::detail::compile_info(cf).traces, 1);
  cf({kx::ones({3, 3})});  // shape
  EXPECT_EQ(kx::detail::compile_info(cf).traces, 2);
  EXPECT_NE(kx::detail::compile_info(cf).last_reason.find("shape"), std::string::npos);
  cf({kx::ones({2, 3}, kx::float16)});  // dtype
  EXPECT_EQ(kx::detail::compile_info(cf).traces, 3);
  EXPECT_NE(kx::detail::compile_info(cf).last_reason.find("dtype"), std::string::npos);
  cf({kx::ones({6})});  // ndim
  EXPECT_EQ(kx::detail::compile_info(cf).traces, 4);
  cf({kx::ones({2, 3})});  // cached
  EXPECT_EQ(kx::detail::compile_info(cf).traces, 4);
  kx::VectorFn g = [](const std::vector<array>& in) {
    array s = in[0];
    for (size_t i = 1; i < in.size(); ++i) s = s + in[i];
    return std::vector<array>{s};
  };
  auto cg = kx::compile(g);
  cg({array(1.f)});
  cg({array(1.f), array(2.f)});  // arity
  EXPECT_EQ(kx::detail::compile_info(cg).traces, 2);
  EXPECT_NE(kx::detail::compile_info(cg).last_reason.find("number of inputs"), std::string::npos);
}

TEST_F(Compile, ShapelessDoesNotRecompile) {
  kx::VectorFn f = [](const std::vector<array>& in) {
    return std::vector<array>{kx::flatten(kx::exp(in[0]) * 2.0f, 0, 1)};
  };
  auto cf = kx::compile(f, {.shapeless = true});
  auto a = cf({kx::ones({2, 3, 4})})[0];
  EXPECT_EQ(a.shape(), kx::Shape({6, 4}));
  auto b = cf({kx::ones({5, 2, 4})})[0];
  EXPECT_EQ(b.shape(), kx::Shape({10, 4}));
  expect_close(b, kx::full({10, 4}, array(2 * std::exp(1.0f))));
  EXPECT_EQ(kx::detail::compile_info(cf).traces, 1);
  cf({kx::ones({5, 2})});  // ndim change still retraces
  EXPECT_EQ(kx::detail::compile_info(cf).traces, 2);
}

TEST_F(Compile, ShapelessReshapePitfallIsAClearError) {
  kx::VectorFn f = [](const std::vector<array>& in) {
    return std::vector<array>{kx::reshape(in[0], {in[0].shape(0) * in[0].shape(1), -1})};
  };
  auto cf = kx::compile(f, {.shapeless = true});
  EXPECT_EQ(cf({kx::ones({2, 3, 4})})[0].shape(), kx::Shape({6, 4}));
  try {
    cf({kx::ones({3, 3, 4})})[0].eval();
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Reshape"), std::string::npos) << e.what();
  }
}

TEST_F(Compile, PrintingAPlaceholderThrowsClearly) {
  kx::VectorFn f = [](const std::vector<array>& in) {
    array z = -in[0];
    std::ostringstream os;
    os << z;  // evaluating a traced array
    return std::vector<array>{kx::exp(z)};
  };
  auto cf = kx::compile(f);
  try {
    cf({array(5.0f)});
    FAIL();
  } catch (const kx::TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("disable_compile"), std::string::npos);
  }
  // the failed trace did not poison the cache; disabling compile makes it work
  kx::disable_compile();
  EXPECT_NEAR(cf({array(5.0f)})[0].item<float>(), std::exp(-5.0f), 1e-6);
  kx::enable_compile();
}

TEST_F(Compile, OutputsCaptureWritesBack) {
  kx::StateList state;
  kx::VectorFn f = [&](const std::vector<array>& in) {
    array z = in[0] + in[1];
    state.push_back(z);
    return std::vector<array>{kx::exp(z)};
  };
  auto cf = kx::compile(f, {.outputs = {&state}});
  cf({array(1.0f), array(2.0f)});
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].item<float>(), 3.0f);
  // returning the state works too
  kx::StateList st2;
  kx::VectorFn f2 = [&](const std::vector<array>& in) {
    array z = in[0] + in[1];
    st2.push_back(z);
    return std::vector<array>{kx::exp(z), z};
  };
  auto out = kx::compile(f2)({array(1.0f), array(2.0f)});
  EXPECT_EQ(out[1].item<float>(), 3.0f);
}

TEST_F(Compile, ClosureConstantsVsCapturedInputs) {
  kx::StateList state{array(1.0f)};
  kx::VectorFn f = [&](const std::vector<array>& in) {
    return std::vector<array>{in[0] + state[0]};
  };
  auto frozen = kx::compile(f);
  EXPECT_EQ(frozen({array(1.0f)})[0].item<float>(), 2.0f);
  state[0] = array(5.0f);
  EXPECT_EQ(frozen({array(1.0f)})[0].item<float>(), 2.0f);  // still prints 2
  state[0] = array(1.0f);
  auto captured = kx::compile(f, {.inputs = {&state}});
  EXPECT_EQ(captured({array(1.0f)})[0].item<float>(), 2.0f);
  state[0] = array(5.0f);
  EXPECT_EQ(captured({array(1.0f)})[0].item<float>(), 6.0f);  // prints 6
}

TEST_F(Compile, RandomStateCapturedOrFrozen) {
  kx::random::seed(7);
  kx::VectorFn f = [](const std::vector<array>& in) {
    return std::vector<array>{in[0] + kx::random::uniform({3})};
  };
  auto frozen = kx::compile(f);
  auto a = frozen({kx::zeros({3})})[0].to_vector<float>();
  auto b = frozen({kx::zeros({3})})[0].to_vector<float>();
  EXPECT_EQ(a, b);
  auto& rs = kx::random::state();
  auto fresh = kx::compile(f, {.inputs = {&rs}, .outputs = {&rs}});
  auto c = fresh({kx::zeros({3})})[0].to_vector<float>();
  auto d = fresh({kx::zeros({3})})[0].to_vector<float>();
  EXPECT_NE(c, d);
  EXPECT_EQ(kx::detail::compile_info(fresh).traces, 1);
  // same stream as eager with the same seed
  kx::random::seed(11);
  auto e1 = fresh({kx::zeros({3})})[0].to_vector<float>();
  kx::random::seed(11);
  auto e2 = f({kx::zeros({3})})[0].to_vector<float>();
  EXPECT_EQ(e1, e2);
}

TEST_F(Compile, GeluIsOneFusedKernel) {
  kx::VectorFn gelu = [](const std::vector<array>& in) {
    const array& x = in[0];
    return std::vector<array>{x * (1.0f + kx::erf(x / std::sqrt(2.0f))) / 2.0f};
  };
  auto cg = kx::compile(gelu);
  array x = kx::random::uniform({4, 33}, kx::float32, kx::random::key(1));
  expect_close(cg({x})[0], gelu({x})[0]);
  auto tape = tape_of(cg);
  ASSERT_EQ(tape.size(), 1u) << tape.size();
  EXPECT_EQ(tape[0].rfind("Compiled", 0), 0u);
}

TEST_F(Compile, CommonSubexpressionsAndConstants) {
  kx::VectorFn f = [](const std::vector<array>& in) {
    return std::vector<array>{kx::exp(in[0]) + kx::exp(in[0])};
  };
  kx::set_compile_mode(kx::CompileMode::no_fuse);
  auto cf = kx::compile(f);
  cf({kx::ones({4})});
  auto tape = tape_of(cf);
  EXPECT_EQ(count_prefix(tape, "Exp"), 1);
  kx::VectorFn g = [](const std::vector<array>& in) {
    return std::vector<array>{kx::log(in[0]) + kx::log2(in[0]) + (in[0] * 2.0f) + (in[0] * 2.0f)};
  };
  auto cg = kx::compile(g);
  expect_close(cg({kx::full({3}, array(3.0f))})[0], g({kx::full({3}, array(3.0f))})[0]);
  tape = tape_of(cg);
  EXPECT_EQ(std::count(tape.begin(), tape.end(), "Log"), 1);   // log kept
  EXPECT_EQ(std::count(tape.begin(), tape.end(), "Log2"), 1);  // not merged with log
  EXPECT_EQ(count_prefix(tape, "Multiply"), 1);  // equal scalar constants merged → CSE
  kx::set_compile_mode(kx::CompileMode::enabled);
}

TEST_F(Compile, ReductionSplitsFusionAndInteriorOutputs) {
  kx::VectorFn f = [](const std::vector<array>& in) {
    array e = kx::exp(in[0] * 2.0f);
    array s = kx::sum(e, -1, true);
    array y = kx::log(s) + 1.0f;
    array inner = kx::sin(in[0]);
    array z = inner * 3.0f;
    return std::vector<array>{y, z, inner};
  };
  auto cf = kx::compile(f);
  array x = kx::random::normal({5, 7}, kx::float32, 0.f, 1.f, kx::random::key(3));
  auto a = cf({x});
  auto b = f({x});
  for (int i = 0; i < 3; ++i) expect_close(a[i], b[i]);
  auto tape = tape_of(cf);
  EXPECT_EQ(count_prefix(tape, "Sum"), 1);
  EXPECT_EQ(count_prefix(tape, "Compiled"), 3);  // exp∘mul, log+1, sin/mul (2 outputs)
}

TEST_F(Compile, KernelKeyIndependentOfShape) {
  kx::VectorFn f = [](const std::vector<array>& in) {
    return std::vector<array>{kx::tanh(in[0]) * in[0] + 1.0f};
  };
  auto cf = kx::compile(f);
  cf({kx::ones({3})});
  auto k1 = kx::detail::compile_info(cf).kernel_keys;
  cf({kx::ones({7, 9})});
  auto k2 = kx::detail::compile_info(cf).kernel_keys;
  ASSERT_EQ(k1.size(), 1u);
  EXPECT_EQ(k1, k2);
}

TEST_F(Compile, CompiledEqualsEagerCorpus) {
  auto key = kx::random::key(42);
  array x = kx::random::normal({6, 5}, kx::float32, 0.f, 1.f, key);
  array y = kx::random::normal({5}, kx::float32, 0.f, 1.f, kx::random::key(43));
  array iv = kx::arange(0, 30, 1);
  std::vector<kx::VectorFn> corpus = {
      [](const std::vector<array>& in) {  // nan / inf constants
        array a = kx::where(in[0] > 0.0f, array(INFINITY), array(NAN));
        return std::vector<array>{a, kx::isnan(a), kx::maximum(in[0], array(-INFINITY))};
      },
      [](const std::vector<array>& in) {  // broadcasting and mixed dtypes
        array b = kx::astype(in[0] > in[1], kx::int32) * 3 + 1;
        return std::vector<array>{b, kx::astype(b, kx::float32) / (in[1] + 2.0f)};
      },
      [](const std::vector<array>& in) {  // integers and bools
        array i = in[2];
        return std::vector<array>{(i * i) % 7, kx::floor_divide(i, array(4)), i > 10,
                                  kx::logical_and(i > 3, i < 20)};
      },
      [](const std::vector<array>& in) {  // deep chain
        array a = in[0];
        for (int k = 0; k < 200; ++k) a = kx::sin(a) * 0.9f + 0.1f;
        return std::vector<array>{a};
      },
      [](const std::vector<array>& in) {  // many outputs
        std::vector<array> outs;
        for (int k = 0; k < 32; ++k) outs.push_back(in[0] * static_cast<float>(k) + kx::cos(in[1]));
        return outs;
      },
      [](const std::vector<array>& in) {  // mixed with reductions, matmul, indexing
        array h = kx::matmul(in[0], kx::reshape(in[1], {5, 1}));
        array m = kx::softmax(in[0], -1);
        array t = kx::take(in[0], kx::array({0, 2}), 0);
        return std::vector<array>{kx::tanh(h) + 1.0f, m * 2.0f, kx::exp(t)};
      },
  };
  for (size_t c = 0; c < corpus.size(); ++c) {
    auto cf = kx::compile(corpus[c]);
    auto a = cf({x, y, iv});
    auto b = corpus[c]({x, y, iv});
    ASSERT_EQ(a.size(), b.size()) << "case " << c;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].dtype(), b[i].dtype()) << "case " << c << " out " << i;
      expect_close(a[i], b[i], 1e-5f);
    }
  }
  // 20+ inputs
  kx::VectorFn many = [](const std::vector<array>& in) {
    array s = in[0];
    for (size_t i = 1; i < in.size(); ++i) s = s * 0.5f + in[i];
    return std::vector<array>{s};
  };
  std::vector<array> ins;
  for (int i = 0; i < 30; ++i) ins.push_back(kx::full({4}, array(static_cast<float>(i))));
  expect_close(kx::compile(many)(ins)[0], many(ins)[0]);
}

TEST_F(Compile, NestedCompile) {
  auto inner = kx::compile([](const array& x) { return kx::exp(-kx::abs(x)); });
  auto outer = kx::compile([&](const array& x) { return inner(inner(x)); });
  array x({-1.f, 0.5f, 2.f});
  expect_close(outer(x), kx::exp(-kx::abs(kx::exp(-kx::abs(x)))));
}

TEST_F(Compile, ClosureOverArgumentIsRejected) {
  array x({1.f, 2.f});
  kx::VectorFn f = [&](const std::vector<array>& in) { return std::vector<array>{in[0] + x}; };
  auto cf = kx::compile(f);
  EXPECT_THROW(cf({x}), std::invalid_argument);
}

TEST_F(Compile, ExportToDotShowsFusedNodes) {
  kx::VectorFn f = [](const std::vector<array>& in) {
    return std::vector<array>{kx::exp(in[0]) * 2.0f + 1.0f};
  };
  auto cf = kx::compile(f);
  auto out = cf({kx::ones({3})});
  std::ostringstream os;
  kx::export_to_dot(os, out);
  EXPECT_NE(os.str().find("Compiled"), std::string::npos);
  EXPECT_NE(os.str().find("digraph"), std::string::npos);
}

// swapaxes feeding a matmul becomes a transpose flag of the Matmul (no transpose copy), and
// swapaxes(A @ B) becomes Bᵀ @ Aᵀ; values, gradients and jvps of the flagged Matmul agree.
TEST_F(Compile, TransposesFoldIntoMatmul) {
  kx::VectorFn f = [](const std::vector<array>& in) {
    const array &a = in[0], &b = in[1], &c = in[2];
    array p = kx::matmul(a, kx::transpose(b));                      // (5,3) @ (3,4)ᵀ-stored
    array q = kx::matmul(kx::swapaxes(a, -1, -2), c);               // aᵀ (3,5) @ c (5,2)
    array r = kx::transpose(kx::matmul(kx::transpose(c), a));       // (cᵀ a)ᵀ = aᵀ c
    array s = kx::matmul(kx::swapaxes(kx::swapaxes(a, 0, 1), 0, 1), kx::transpose(a));  // a aᵀ
    return std::vector<array>{p, q, r, s};
  };
  array a = kx::random::normal({5, 3}, kx::float32, 0.f, 1.f, kx::random::key(1));
  array b = kx::random::normal({4, 3}, kx::float32, 0.f, 1.f, kx::random::key(2));
  array c = kx::random::normal({5, 2}, kx::float32, 0.f, 1.f, kx::random::key(3));
  auto cf = kx::compile(f);
  auto got = cf({a, b, c});
  auto want = f({a, b, c});
  // bit-identical on the CPU; (cᵀ a)ᵀ keeps its transpose here (swapping the product is
  // GPU-only, it would round differently from eager on the CPU)
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i], 0.f);
  EXPECT_EQ(count_prefix(tape_of(cf), "Transpose"), 1);
  // batched: swapaxes of the last two axes of a 3-d operand
  kx::VectorFn g = [](const std::vector<array>& in) {
    return std::vector<array>{kx::matmul(kx::swapaxes(in[0], -1, -2), in[1])};
  };
  array x = kx::random::normal({2, 6, 4}, kx::float32, 0.f, 1.f, kx::random::key(4));
  array y = kx::random::normal({2, 6, 3}, kx::float32, 0.f, 1.f, kx::random::key(5));
  auto cg = kx::compile(g);
  expect_close(cg({x, y})[0], g({x, y})[0], 1e-5f);
  EXPECT_EQ(count_prefix(tape_of(cg), "Transpose"), 0);
  // the derivative rules of a flagged Matmul (built directly) equal those of swapaxes + matmul
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      array u = ta ? kx::transpose(a) : a;                     // stored (3,5) or (5,3)
      array v = tb ? kx::random::normal({4, 3}, kx::float32, 0.f, 1.f, kx::random::key(6))
                   : kx::random::normal({3, 4}, kx::float32, 0.f, 1.f, kx::random::key(6));
      kx::VectorFn flagged = [=](const std::vector<array>& in) {
        auto prim = std::make_shared<kx::Matmul>(kx::Stream(kx::Device::cpu), ta, tb);
        return std::vector<array>{array({5, 4}, kx::float32, prim, {in[0], in[1]})};
      };
      kx::VectorFn plain = [=](const std::vector<array>& in) {
        return std::vector<array>{kx::matmul(ta ? kx::transpose(in[0]) : in[0],
                                             tb ? kx::transpose(in[1]) : in[1])};
      };
      array ct = kx::random::normal({5, 4}, kx::float32, 0.f, 1.f, kx::random::key(7));
      auto [of, gf] = kx::vjp(flagged, {u, v}, {ct});
      auto [op, gp] = kx::vjp(plain, {u, v}, {ct});
      expect_close(of[0], op[0], 1e-5f);
      for (int i = 0; i < 2; ++i) expect_close(gf[i], gp[i], 1e-5f);
      auto [jf, tf] = kx::jvp(flagged, {u, v}, {kx::sin(u), kx::cos(v)});
      auto [jp, tp] = kx::jvp(plain, {u, v}, {kx::sin(u), kx::cos(v)});
      expect_close(tf[0], tp[0], 1e-5f);
    }
}
