// rosetta kernel library: matrix multiplication over weights read in place (GGUF blocks in the mmap).
//
//   y[t, o] = sum_i W[o, i] * x[t, i]      W: [nOut, nIn] as stored (row o = nIn elements of `type`)
//
// Two numerics modes:
//   Ggml  - what llama.cpp's x86 CPU backend computes: activations are first rounded to the weight
//           type's vec_dot type (Q8_0, Q8_1, Q8_K, F16, BF16 or F32, see act_quant_for) with ggml's
//           AVX2 formulas, then multiplied with the weights. The block dot products of ggml are
//           integer-exact, so the dequantized-weight x rounded-activation products here are the same
//           numbers; only the order of the float accumulation differs (f32 here as in ggml).
//   Exact - dequantized weights times the f32 activations as given, accumulated in f64: the ground
//           truth that separates quantization error from bugs.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rosetta/types.h"

namespace rosetta {

enum class Numerics : int { Ggml = 0, Exact = 1 };

// How llama.cpp rounds the activations before a matmul with weights of a given type: an activation
// format, named by its type id (its traits-table entry holds its from_float).
enum class ActQuant : uint32_t { None = T_F32, F16 = T_F16, BF16 = T_BF16, Q8_0 = T_Q8_0, Q8_1 = T_Q8_1, Q8_K = T_Q8_K };

// The vec_dot type of a weight type (the traits table's vecDotType, as ggml-cpu.c
// type_traits_cpu[type].vec_dot_type). Returns false for a type without one.
bool act_quant_for(uint32_t type, ActQuant* out);
const char* act_quant_name(ActQuant q);  // the format's type name ("f32", "q8_0", ...)

// The values a ggml block dot product sees for activations x[0..n): x converted to `q` by its scalar
// from_float and read back as floats. n must be a multiple of the block size of q (32 or 256; 1 for None/F16/BF16).
void act_round(ActQuant q, const float* x, float* out, int64_t n);
int64_t act_block(ActQuant q);

// ggml mode: llamafile_sgemm takes a matmul of float weights (F32, F16, BF16) in tinyBLAS order (one
// 8-lane accumulator) when it has >= 2 tokens and the shapes suit tinyBLAS<8>; else vec_dot's order.
inline bool tinyblas_order(int64_t nTok, int64_t nOut, int64_t nIn) { return nTok >= 2 && nOut % 4 == 0 && nIn % 8 == 0; }
// ggml mode: llama.cpp's CPU backend (AVX2 builds, ggml-cpu/iqp.cpp) multiplies the IQ types it lists
// (here IQ4_XS) by decoded 8-row panels when a batch has >= 8 tokens, the rows are a multiple of 8 and
// the row length of 256: one accumulator per output, one fma per superblock (TypeTraits::vecDotPanel);
// else vec_dot's order. Measured: without it an IQ4_XS prompt differed from llama.cpp by 1-2 ulp.
inline bool iq_panel_order(int64_t nTok, int64_t nOut, int64_t nIn) { return nTok >= 8 && nOut % 8 == 0 && nIn % 256 == 0; }
// Bytes of one activation row of n elements in the vec_dot type q (n a multiple of act_block(q)).
size_t act_row_bytes(ActQuant q, int64_t n);
// One activation row converted to the vec_dot type q as real blocks (ggml's from_float); `simd`: the
// current ISA's converter, else the scalar one (byte-identical).
void act_convert(ActQuant q, const float* x, void* out, int64_t n, bool simd);

struct MatmulArgs {
  const uint8_t* w;  // nOut rows of nIn elements of `type`, rows contiguous
  size_t wBytes;     // bytes available at w (checked against the shape)
  uint32_t type;     // GGML type id
  int64_t nOut, nIn;
  const float* x;    // [nTok, nIn]
  float* y;          // [nTok, nOut]
  int64_t nTok;
  Numerics mode;
  // Bytes from one weight row to the next; 0 = packed (row_bytes(type, nIn)). Non-zero (APR per-row
  // padded K-quants) and APR-native types run on the general path (rosetta/apr_matmul.h).
  size_t rowBytes = 0;
  // [nOut] or null: added to every token's outputs once the product is done, y + b in f32 (what a
  // separate ggml ADD of a broadcast bias computes, as the q/k/v biases of Qwen2 are), each row's as
  // soon as its outputs are written.
  const float* bias = nullptr;
};

// Runs on default_pool(). Returns nullptr on success, or a message naming what is wrong (unsupported
// type, nIn not a multiple of the block size, too few weight bytes). Never reads outside w/x/y.
const char* matmul(const MatmulArgs& a);

// Bytes of one stored row of nIn elements of `type` (0 if the type is unknown or nIn is not a multiple
// of its block size).
size_t row_bytes(uint32_t type, int64_t nIn);

// ---- per-ISA dot kernels (kernels/ref, kernels/arch/x86/avx2, kernels/arch/x86/avx512) -------------
// Same contract on every path: n >= 0, no alignment required.
struct DotKernels {
  float (*dot_f32)(const float* a, const float* b, int64_t n);   // f32 accumulation (ggml mode)
  double (*dot_f64)(const float* a, const float* b, int64_t n);  // f64 accumulation (exact mode)
  // Four weight rows (w, w + ws, w + 2ws, w + 3ws) against one activation row, f32 accumulation.
  void (*dot4_f32)(const float* w, int64_t ws, const float* x, int64_t n, float out[4]);
};
const DotKernels& dot_kernels_ref();
const DotKernels& dot_kernels_avx2();
const DotKernels& dot_kernels_avx512();
// The kernels of current_isa().
const DotKernels& dot_kernels();

}  // namespace rosetta
