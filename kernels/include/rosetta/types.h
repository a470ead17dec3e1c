// rosetta kernel library: tensor element types.
//
// Type ids are GGML's (ggml.h `enum ggml_type`) so that GGUF type fields index this table directly;
// ids >= 128 are rosetta-private (APR-native block formats). The traits table (types.cpp) is the only
// dispatch point on type, as ggml's type_traits + type_traits_cpu: each entry holds the type's layout,
// its dequantizers, its vec_dot (activation) type, its dot kernels and prefill tiles, and (for the
// activation formats) its from_float, one function per ISA path. Nothing else in kernels/ or src/
// switches on a type id.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rosetta {

enum TypeId : uint32_t {
  T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, /* 4, 5: retired Q4_2/Q4_3 */
  T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8, T_Q8_1 = 9,
  T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_Q8_K = 15,
  T_IQ2_XXS = 16, T_IQ2_XS = 17, T_IQ3_XXS = 18, T_IQ1_S = 19, T_IQ4_NL = 20, T_IQ3_S = 21,
  T_IQ2_S = 22, T_IQ4_XS = 23, T_I8 = 24, T_I16 = 25, T_I32 = 26, T_I64 = 27, T_F64 = 28,
  T_IQ1_M = 29, T_BF16 = 30, T_TQ1_0 = 34, T_TQ2_0 = 35, T_MXFP4 = 39, T_NVFP4 = 40,
  T_Q1_0 = 41, T_Q2_0 = 42,  // newer than the pinned llama.cpp; known by name only
  // rosetta-private: APR-native formats (see docs/apr-format notes in src/formats/apr.ts)
  T_APR_Q4 = 128, T_APR_Q8 = 129,
};

using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);  // n: multiple of blockSize
// ggml's from_float: n f32 values (a multiple of blockSize) into blocks of this type.
using FromFloatFn = void (*)(const float* x, void* dst, int64_t n);
// from_float then read back: x as the dot products see it, f32 (act_round, rosetta/matmul.h).
using RoundFn = void (*)(const float* x, float* out, int64_t n);
// One weight row (n elements, stored blocks) against one activation row already in the vec_dot type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* a);
// A tile of the same products: rows [0, nr) of w (rb bytes apart) times tokens [0, nt) of a (activation
// rows arb bytes apart), y[t * ldy + r]; contract in rosetta/vecdot.h.
using VecDotTileFn = void (*)(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb,
                              const float* ad, int64_t nt, float* y, int64_t ldy);

// vecDotType of a type rosetta (and ggml's CPU backend) has no dot product for.
constexpr uint32_t kNoVecDot = 0xffffffffu;

// Every function array is indexed by Isa (scalar, avx2, avx512); nullptr where the type has none.
struct TypeTraits {
  const char* name;      // GGML's name ("q4_K"), or rosetta's for private ids
  int64_t blockSize;     // elements per block (1 for F32/F16/BF16)
  size_t typeSize;       // bytes per block
  bool supported;        // false: known by name, refused by rosetta (never guessed)
  ToFloatFn toFloat[3];  // dequantizers; nullptr where unsupported
  // ---- matmul (ggml numerics mode, rosetta/matmul.h) ----
  // ggml-cpu.c type_traits_cpu[type].vec_dot_type: the format the activations are converted to before
  // a matmul with weights of this type (f32, f16, bf16, q8_0, q8_1 or q8_K), kNoVecDot if none.
  uint32_t vecDotType = kNoVecDot;
  FromFloatFn fromFloat[3] = {};    // activation formats: ggml's from_float (every path byte-identical)
  RoundFn round = nullptr;          // activation formats: the scalar from_float's values, as f32
  VecDotFn vecDot[3] = {};          // weight row x activation row, ggml_vec_dot_*'s order
  VecDotFn vecDotTiny[3] = {};      // the same in tinyBLAS order (tinyblas_order() calls); null: vecDot
  VecDotTileFn tile[3] = {};        // rows x tokens at once (prefill), bit-identical; null: loop vecDot
  // Bytes before the first block (APR_Q8: its per-tensor f32 scale); toFloat then takes the tensor's
  // first byte. A tensor of n elements is headerBytes + n / blockSize * typeSize bytes.
  size_t headerBytes = 0;
  // llama.cpp's IQ panel order (ggml-cpu/iqp.cpp), taken instead of vecDot and tile for a matmul that
  // iq_panel_order() accepts: one accumulator per output, one fma per superblock; null: no such path.
  VecDotFn vecDotPanel[3] = {};
};

// Traits for a type id, or nullptr for an id nobody knows.
const TypeTraits* type_traits(uint32_t type);
// Highest type id with an entry (for enumerating the table).
uint32_t type_id_max();
// Traits by GGML name ("q4_K"), or nullptr.
const TypeTraits* type_traits_by_name(const char* name);
// The dequantizer of a supported type for the current ISA (current_isa() may throw, see isa.h).
ToFloatFn to_float_fn(const TypeTraits& t);
// Dequantize n elements (a multiple of t.blockSize) with the current ISA.
void to_float(const TypeTraits& t, const void* src, float* dst, int64_t n);
// The current ISA's dot kernel of a type (its tinyBLAS-order kernel when `tiny` and it has one), or
// nullptr when the type has none.
VecDotFn vec_dot_fn(const TypeTraits& t, bool tiny, bool panel = false);
// Whether the type has llama.cpp's IQ panel order (TypeTraits::vecDotPanel).
bool has_panel_order(const TypeTraits& t);
// The current ISA's prefill tile of a type, or nullptr (the caller then loops vec_dot_fn).
VecDotTileFn vec_dot_tile_fn(const TypeTraits& t);
// The current ISA's from_float of an activation format, or nullptr.
FromFloatFn from_float_fn(const TypeTraits& t);

}  // namespace rosetta
