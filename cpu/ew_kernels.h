// Elementwise span kernels: the building blocks of the elementwise primitives and of the CPU
// execution of fused (Compiled) regions. Spans are contiguous; a binary/ternary operand's
// stride is 0 (scalar broadcast) or 1.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/primitives.h"

namespace kiln::cpu {

// out[i] = op(in[i]); in has dtype `in_t`, out has unary_out_dtype(op, in_t).
void unary_span(UnaryOp op, Dtype in_t, const void* in, void* out, size_t n);
// out[i] = op(a[i*sa], b[i*sb]); a and b have dtype t; out is bool for comparisons.
void binary_span(BinaryOp op, Dtype t, const void* a, int64_t sa, const void* b, int64_t sb,
                 void* out, size_t n);
// out[i] = c[i*sc] ? a[i*sa] : b[i*sb]
void select_span(Dtype t, const uint8_t* c, int64_t sc, const void* a, int64_t sa, const void* b,
                 int64_t sb, void* out, size_t n);
// Converts n elements (contiguous) between dtypes.
void astype_span(Dtype from, const void* in, Dtype to, void* out, size_t n);

}  // namespace kiln::cpu
