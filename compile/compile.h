// kiln::compile — trace a function once with placeholders, simplify and fuse its graph,
// and replay it on later calls. Semantics follow MLX's mx.compile (see ../shared/seeds).
#pragma once
#include <functional>
#include <ostream>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../autograd/transforms.h"
#include "../core/array.h"
#include "../core/stateful.h"

namespace kiln {

struct CompileOptions {
  // State read before each call (swapped for placeholders while tracing).
  std::vector<Stateful*> inputs;
  // State written back after each call.
  std::vector<Stateful*> outputs;
  // Do not recompile when only input shapes change.
  bool shapeless = false;
};

// Pipeline switches (bisect a failure): disabled runs eagerly; no_simplify skips the
// simplify pass; no_fuse skips fusion.
enum class CompileMode { disabled, no_simplify, no_fuse, enabled };
void set_compile_mode(CompileMode mode);
CompileMode compile_mode();
// Make compiled functions run eagerly (also KILN_DISABLE_COMPILE=1).
void disable_compile();
void enable_compile();

// Compiles a vector function.
VectorFn compile(VectorFn fun, CompileOptions options = {});

namespace detail {
template <typename T>
struct fn_traits : fn_traits<decltype(&T::operator())> {};
template <typename C, typename R, typename... A>
struct fn_traits<R (C::*)(A...) const> {
  using ret = R;
  static constexpr size_t arity = sizeof...(A);
};
template <typename C, typename R, typename... A>
struct fn_traits<R (C::*)(A...)> {
  using ret = R;
  static constexpr size_t arity = sizeof...(A);
};
template <typename R, typename... A>
struct fn_traits<R (*)(A...)> {
  using ret = R;
  static constexpr size_t arity = sizeof...(A);
};
template <typename R, typename... A>
struct fn_traits<R(A...)> : fn_traits<R (*)(A...)> {};

template <typename R>
std::vector<array> to_vec(R&& r) {
  using D = std::decay_t<R>;
  if constexpr (std::is_same_v<D, array>) {
    return {std::forward<R>(r)};
  } else if constexpr (std::is_same_v<D, std::vector<array>>) {
    return std::forward<R>(r);
  } else {
    return std::apply([](auto&&... xs) { return std::vector<array>{array(xs)...}; },
                      std::forward<R>(r));
  }
}
template <typename R>
R from_vec(const std::vector<array>& v) {
  if constexpr (std::is_same_v<R, array>) {
    return v.at(0);
  } else if constexpr (std::is_same_v<R, std::vector<array>>) {
    return v;
  } else {
    return [&]<size_t... I>(std::index_sequence<I...>) {
      return R{v.at(I)...};
    }(std::make_index_sequence<std::tuple_size_v<R>>{});
  }
}
template <typename F, size_t... I>
auto typed_compile(F fun, CompileOptions opts, std::index_sequence<I...>) {
  using R = std::decay_t<typename fn_traits<F>::ret>;
  VectorFn vf = [fun](const std::vector<array>& in) {
    if (in.size() != sizeof...(I))
      throw std::invalid_argument("[compile] wrong number of arguments");
    return to_vec(fun(in[I]...));
  };
  VectorFn cf = kiln::compile(std::move(vf), std::move(opts));
  return [cf](std::conditional_t<true, const array&, decltype(I)>... args) -> R {
    return from_vec<R>(cf(std::vector<array>{args...}));
  };
}
}  // namespace detail

// Compiles a callable taking arrays and returning an array, a vector, a pair or a tuple of
// arrays; the result has the same signature.
template <typename F,
          typename = std::enable_if_t<!std::is_convertible_v<F, VectorFn> ||
                                      detail::fn_traits<F>::arity != 1 ||
                                      !std::is_same_v<std::decay_t<typename detail::fn_traits<F>::ret>,
                                                      std::vector<array>>>>
auto compile(F fun, CompileOptions options = {}) {
  return detail::typed_compile(std::move(fun), std::move(options),
                               std::make_index_sequence<detail::fn_traits<F>::arity>{});
}

// Writes the graph of `outputs` in Graphviz dot format (fused nodes shown as such).
void export_to_dot(std::ostream& os, const std::vector<array>& outputs);

}  // namespace kiln
