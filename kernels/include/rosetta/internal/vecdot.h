// Per-ISA dot kernels, prefill tiles and activation converters behind the traits table (types.cpp).
// Private to kernels/: callers go through type_traits() (vec_dot_fn, vec_dot_tile_fn, from_float_fn).
// Each function reproduces the llama.cpp operation of rosetta/vecdot.h bit for bit (ggml's haswell
// variant's float order on every path). The AVX-512 path has its own kernels for the types below
// (ROSETTA_*_AVX512: VNNI integer sums, the same float operations) and uses the AVX2 functions for the
// rest (AVX2 code reproduces the haswell variant exactly on any CPU that has AVX-512).
#pragma once
#include <cstddef>
#include <cstdint>

// X(name): `float vec_dot_<name>(int64_t n, const void* w, const void* a)`, ggml_vec_dot_<name>_<vec_dot
// type>'s order (scalar reference and AVX2).
#define ROSETTA_VECDOT_TYPES(X) \
  X(f32) X(f16) X(bf16) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K) \
  X(iq4_nl) X(iq4_xs)
// X(name): `float vec_dot_<name>_tiny(...)`, the order llamafile's tinyBLAS gives a batch (f32/f16/bf16:
// one 8-lane accumulator, n % 8 == 0; iq4_nl: tinyBLAS_Q0_AVX's).
#define ROSETTA_VECDOT_TINY_TYPES(X) X(f32) X(f16) X(bf16) X(iq4_nl)
// X(name): `void vec_dot_tile_<name>(...)` (VecDotTileFn). AVX2: every quantized type; the scalar path
// only has iq4_nl's (its vec_dot and tinyBLAS orders differ, and only a tile sees nt).
#define ROSETTA_TILE_TYPES_AVX2(X) \
  X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K) X(iq4_nl) X(iq4_xs)
// X(name): the AVX-512 path's own kernels (avx512/vecdot_avx512.cpp): vec_dot_<name> and, for the
// quantized ones, vec_dot_tile_<name>; every other entry of its column is the AVX2 function.
#define ROSETTA_VECDOT_TYPES_AVX512(X) X(f16) X(bf16) X(q4_0) X(q5_0) X(q8_0) X(q4_K) X(q5_K) X(q6_K)
#define ROSETTA_TILE_TYPES_AVX512(X) X(q4_0) X(q5_0) X(q8_0) X(q4_K) X(q5_K) X(q6_K)
// X(name): `void from_float_<name>(const float* x, void* y, int64_t n)` (FromFloatFn), the activation
// formats. The scalar set is complete; AVX2 has the q8 ones (f32/f16/bf16 use the scalar converters on
// every path).
#define ROSETTA_FROM_FLOAT_TYPES_REF(X) X(f32) X(f16) X(bf16) X(q8_0) X(q8_1) X(q8_K)
#define ROSETTA_FROM_FLOAT_TYPES_AVX2(X) X(q8_0) X(q8_1) X(q8_K)
// AVX-512 has its own q8_0 and q8_K (avx512/quant_avx512.cpp); its q8_1 is the AVX2 function.
#define ROSETTA_FROM_FLOAT_TYPES_AVX512(X) X(q8_0) X(q8_K)

#define ROSETTA_DECLARE_VECDOT(name) float vec_dot_##name(int64_t n, const void* w, const void* a);
#define ROSETTA_DECLARE_VECDOT_TINY(name) float vec_dot_##name##_tiny(int64_t n, const void* w, const void* a);
// weight types with llama.cpp's IQ panel order for a batch (TypeTraits::vecDotPanel, iq_panel_order)
#define ROSETTA_VECDOT_PANEL_TYPES(X) X(iq4_xs)
#define ROSETTA_DECLARE_VECDOT_PANEL(name) float vec_dot_##name##_panel(int64_t n, const void* w, const void* a);
#define ROSETTA_DECLARE_TILE(name)                                                                         \
  void vec_dot_tile_##name(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, \
                           const float* ad, int64_t nt, float* y, int64_t ldy);
#define ROSETTA_DECLARE_FROM_FLOAT(name) void from_float_##name(const float* x, void* y, int64_t n);
// X(name) over ROSETTA_FROM_FLOAT_TYPES_REF: `void round_<name>(const float* x, float* out, int64_t n)`
// (RoundFn), the scalar from_float's values read back as the dot products see them (built on the same
// block routine as from_float_<name>, vecdot_quant_ref.cpp).
#define ROSETTA_DECLARE_ROUND(name) void round_##name(const float* x, float* out, int64_t n);

namespace rosetta {
namespace ref {
ROSETTA_VECDOT_TYPES(ROSETTA_DECLARE_VECDOT)
ROSETTA_VECDOT_TINY_TYPES(ROSETTA_DECLARE_VECDOT_TINY)
ROSETTA_VECDOT_PANEL_TYPES(ROSETTA_DECLARE_VECDOT_PANEL)
ROSETTA_DECLARE_TILE(iq4_nl)
ROSETTA_FROM_FLOAT_TYPES_REF(ROSETTA_DECLARE_FROM_FLOAT)
ROSETTA_FROM_FLOAT_TYPES_REF(ROSETTA_DECLARE_ROUND)
}  // namespace ref
namespace avx2 {
ROSETTA_VECDOT_TYPES(ROSETTA_DECLARE_VECDOT)
ROSETTA_VECDOT_TINY_TYPES(ROSETTA_DECLARE_VECDOT_TINY)
ROSETTA_VECDOT_PANEL_TYPES(ROSETTA_DECLARE_VECDOT_PANEL)
ROSETTA_TILE_TYPES_AVX2(ROSETTA_DECLARE_TILE)
ROSETTA_FROM_FLOAT_TYPES_AVX2(ROSETTA_DECLARE_FROM_FLOAT)
}  // namespace avx2
namespace avx512 {
ROSETTA_VECDOT_TYPES_AVX512(ROSETTA_DECLARE_VECDOT)
ROSETTA_TILE_TYPES_AVX512(ROSETTA_DECLARE_TILE)
ROSETTA_FROM_FLOAT_TYPES_AVX512(ROSETTA_DECLARE_FROM_FLOAT)
}  // namespace avx512
}  // namespace rosetta
