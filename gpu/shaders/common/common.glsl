// Shared by every kiln compute shader: extensions, buffer-reference types per dtype,
// loads/stores to a compute type, exact float16/bfloat16 conversions (bit-identical to the
// CPU's), and the linear index of a 2-D grid.
//
// A shader names a dtype by its suffix (f32 f16 bf16 i32 u32 i64 bool, or x8..x64 for raw
// movement) through defines such as -DT=f32; BUF(T), CT(T), LD(T), ST(T) expand to the
// buffer type, compute type, load and store of that dtype. bool is computed as uint 0/1 and
// stored as one byte; float16/bfloat16 are computed in float32.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : require

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define BUF(t) CAT(Buf_, t)
#define CT(t) CAT(CT_, t)
#define LD(t) CAT(ld_, t)
#define ST(t) CAT(st_, t)

layout(buffer_reference, std430, buffer_reference_align = 4) buffer Buf_f32 { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 2) buffer Buf_f16 { uint16_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 2) buffer Buf_bf16 { uint16_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Buf_i32 { int v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Buf_u32 { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Buf_i64 { int64_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 1) buffer Buf_bool { uint8_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Buf_u64 { uint64_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 1) buffer Buf_x8 { uint8_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 2) buffer Buf_x16 { uint16_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Buf_x32 { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Buf_x64 { uvec2 v[]; };

#define CT_f32 float
#define CT_f16 float
#define CT_bf16 float
#define CT_i32 int
#define CT_u32 uint
#define CT_i64 int64_t
#define CT_bool uint
#define CT_u64 uint64_t
#define CT_x8 uint
#define CT_x16 uint
#define CT_x32 uint
#define CT_x64 uvec2

// Traits of the dtypes named by T and O (the build adds -DT_<dtype> next to -DT=<dtype>).
#if defined(T_f32) || defined(T_f16) || defined(T_bf16)
#define T_ISF 1
#else
#define T_ISF 0
#endif
#if defined(T_i32) || defined(T_u32) || defined(T_i64)
#define T_ISINT 1
#else
#define T_ISINT 0
#endif
#if defined(T_u32) || defined(T_bool)
#define T_UNSIGNED 1
#else
#define T_UNSIGNED 0
#endif
#if defined(O_f32) || defined(O_f16) || defined(O_bf16)
#define O_ISF 1
#else
#define O_ISF 0
#endif
#if defined(O_i32) || defined(O_u32) || defined(O_i64)
#define O_ISINT 1
#else
#define O_ISINT 0
#endif
#if defined(O_u32) || defined(O_bool)
#define O_UNSIGNED 1
#else
#define O_UNSIGNED 0
#endif


// ---- float16 / bfloat16 <-> float32, exactly as core/dtype.cpp
uint f32_to_f16(float f) {
  uint x = floatBitsToUint(f);
  uint sign = (x >> 16) & 0x8000u;
  uint absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u);
  if (absx >= 0x477ff000u) return sign | 0x7c00u;
  if (absx < 0x38800000u) {
    float scaled = uintBitsToFloat(absx) * 16777216.0;
    uint m = uint(scaled);
    float rem = scaled - float(m);
    if (rem > 0.5 || (rem == 0.5 && (m & 1u) != 0u)) ++m;
    return sign | m;
  }
  uint mant = absx & 0x7fffffu;
  uint e = (absx >> 23) - 127u + 15u;
  uint h = (e << 10) | (mant >> 13);
  uint r = mant & 0x1fffu;
  if (r > 0x1000u || (r == 0x1000u && (h & 1u) != 0u)) ++h;
  return sign | h;
}
float f16_to_f32(uint b) {
  uint sign = (b & 0x8000u) << 16;
  uint e = (b >> 10) & 0x1fu;
  uint mant = b & 0x3ffu;
  if (e == 0u) {
    if (mant == 0u) return uintBitsToFloat(sign);
    float f = float(mant) / 16777216.0;
    return uintBitsToFloat(floatBitsToUint(f) | sign);
  }
  if (e == 31u) return uintBitsToFloat(sign | 0x7f800000u | (mant << 13));
  return uintBitsToFloat(sign | ((e - 15u + 127u) << 23) | (mant << 13));
}
uint f32_to_bf16(float f) {
  uint x = floatBitsToUint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return ((x >> 16) | 0x40u) & 0xffffu;
  uint lsb = (x >> 16) & 1u;
  x += 0x7fffu + lsb;
  return x >> 16;
}
float bf16_to_f32(uint b) { return uintBitsToFloat(b << 16); }

// ---- a value of the compute type from raw bits (scalars passed in push constants)
float bits_f32(uvec2 b) { return uintBitsToFloat(b.x); }
float bits_f16(uvec2 b) { return f16_to_f32(b.x & 0xffffu); }
float bits_bf16(uvec2 b) { return bf16_to_f32(b.x & 0xffffu); }
int bits_i32(uvec2 b) { return int(b.x); }
uint bits_u32(uvec2 b) { return b.x; }
#ifdef T_i64
int64_t bits_i64(uvec2 b) { return int64_t(uint64_t(b.x) | (uint64_t(b.y) << 32)); }
#endif
uint bits_bool(uvec2 b) { return (b.x & 0xffu) != 0u ? 1u : 0u; }
#define BITS(t) CAT(bits_, t)

// ---- loads and stores (compute type)
float ld_f32(Buf_f32 b, uint i) { return b.v[i]; }
void st_f32(Buf_f32 b, uint i, float x) { b.v[i] = x; }
float ld_f16(Buf_f16 b, uint i) { return f16_to_f32(uint(b.v[i])); }
void st_f16(Buf_f16 b, uint i, float x) { b.v[i] = uint16_t(f32_to_f16(x)); }
float ld_bf16(Buf_bf16 b, uint i) { return bf16_to_f32(uint(b.v[i])); }
void st_bf16(Buf_bf16 b, uint i, float x) { b.v[i] = uint16_t(f32_to_bf16(x)); }
int ld_i32(Buf_i32 b, uint i) { return b.v[i]; }
void st_i32(Buf_i32 b, uint i, int x) { b.v[i] = x; }
uint ld_u32(Buf_u32 b, uint i) { return b.v[i]; }
void st_u32(Buf_u32 b, uint i, uint x) { b.v[i] = x; }
int64_t ld_i64(Buf_i64 b, uint i) { return b.v[i]; }
void st_i64(Buf_i64 b, uint i, int64_t x) { b.v[i] = x; }
uint ld_bool(Buf_bool b, uint i) { return uint(b.v[i]) != 0u ? 1u : 0u; }
void st_bool(Buf_bool b, uint i, uint x) { b.v[i] = uint8_t(x != 0u ? 1u : 0u); }
uint ld_x8(Buf_x8 b, uint i) { return uint(b.v[i]); }
void st_x8(Buf_x8 b, uint i, uint x) { b.v[i] = uint8_t(x); }
uint ld_x16(Buf_x16 b, uint i) { return uint(b.v[i]); }
void st_x16(Buf_x16 b, uint i, uint x) { b.v[i] = uint16_t(x); }
uint ld_x32(Buf_x32 b, uint i) { return b.v[i]; }
void st_x32(Buf_x32 b, uint i, uint x) { b.v[i] = x; }
uvec2 ld_x64(Buf_x64 b, uint i) { return b.v[i]; }
void st_x64(Buf_x64 b, uint i, uvec2 x) { b.v[i] = x; }

uint64_t ld_u64(Buf_u64 b, uint i) { return b.v[i]; }
void st_u64(Buf_u64 b, uint i, uint64_t x) { b.v[i] = x; }

// Accumulator dtype of reductions and scans over T (float for all float types, uint for bool).
#if T_ISF
#define A f32
#elif defined(T_bool)
#define A u32
#else
#define A T
#endif

// Linear workgroup index of a grid laid out by grid_1d (x first, then y).
uint group_index() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
