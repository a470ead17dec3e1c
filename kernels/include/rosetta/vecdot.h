// rosetta kernel library: llama.cpp-exact dot products (ggml numerics mode).
//
// llama.cpp's x86 CPU backend (the pinned `haswell` variant: AVX2+FMA+F16C, no weight repacking) computes
// a matmul row as one of these, chosen per call (ggml-cpu.c ggml_compute_forward_mul_mat):
//   - Q4_0/Q5_0/Q8_0/IQ4_NL x Q8_0: ggml_vec_dot_*_q8_0 (decode) or tinyBLAS_Q0_AVX (batch >= 2). Both
//     form, per 32-block, 8 integer lanes (lane l = the 4 products of elements 4l..4l+3), convert them to
//     f32 and fma them with d_w*d_a into 8 f32 accumulators; then one fixed horizontal sum. Same numbers,
//     except IQ4_NL's vec_dot: two accumulators (even and odd blocks of each pair), summed lane-wise
//     before the horizontal sum, and an odd last block added as a scalar fma of its integer sum.
//   - Q4_K/Q6_K x Q8_K: ggml_vec_dot_q{4,6}_K_q8_K (no tinyBLAS): per 256-superblock 8 integer lanes
//     (scale-weighted), one fma per lane with d; Q4_K adds a 4-lane min term.
//   - F16 x F16 (activations rounded to f16): ggml_vec_dot_f16 (4x8 accumulators over 32-chunks, reduced
//     to an f64 sum) or tinyBLAS (batch >= 2, nOut % 4 == 0, nIn % 8 == 0: one 8-lane accumulator).
//   - F32 x F32: ggml_vec_dot_f32 (as f16, f32 sum; the tail as the compiler emitted it) or tinyBLAS.
//   - Q5_K/Q2_K/Q3_K/IQ4_XS x Q8_K, Q4_1/Q5_1 x Q8_1, BF16 x BF16: their ggml_vec_dot_* AVX2 kernels (no
//     tinyBLAS on x86 except BF16, which follows F16's rule); see docs/engine.md.
// Every ISA path here reproduces these operations bit for bit; the scalar path is the reference.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rosetta/blocks.h"

namespace rosetta {

// One weight row (n elements, stored blocks) against one activation row already in the vec_dot type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* a);

struct VecDotKernels {
  VecDotFn q4_0, q5_0, q8_0, iq4_nl;  // x block_q8_0
  VecDotFn q4_K, q6_K;                // x block_q8_K
  VecDotFn f16_vec, f16_tiny;         // f16 x f16 (tiny: tinyBLAS order, n % 8 == 0)
  VecDotFn f32_vec, f32_tiny;         // f32 x f32
  VecDotFn q5_K;                      // x block_q8_K
  VecDotFn q4_1, q5_1;                // x block_q8_1
  VecDotFn q2_K, q3_K;                // x block_q8_K
  VecDotFn iq4_xs;                    // x block_q8_K
  VecDotFn bf16_vec, bf16_tiny;       // bf16 x bf16
  VecDotFn iq4_nl_tiny;               // x block_q8_0: tinyBLAS_Q0_AVX's order (iq4_nl: ggml_vec_dot's)
};
const VecDotKernels& vecdot_kernels_ref();
const VecDotKernels& vecdot_kernels_avx2();
// The kernels of current_isa() (the AVX-512 path uses the AVX2 kernels: ggml's haswell variant is the
// reference, and AVX2 code reproduces it exactly on any CPU that has AVX-512).
const VecDotKernels& vecdot_kernels();

// A tile of the same products: rows [0, nr) of w (rb bytes apart) times tokens [0, nt) of a (activation
// rows arb bytes apart), y[t * ldy + r]. Each output element is computed with exactly the operations of
// the type's VecDotFn (bit-identical); the tile only shares each decoded weight block across tokens.
// Q8_0 activations of a prompt (nt >= 2) come packed for the tiles instead (pack_q8_0_tiles): `a` is
// the packed quants, `ad` the packed scales, arb unused. Otherwise ad is null and `a` the rows.
using VecDotTileFn = void (*)(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb,
                              const float* ad, int64_t nt, float* y, int64_t ldy);

// Q8_0 activations packed for the Q8_0-family tiles, in groups of kQ0Group tokens: for group g and block
// b, the group's quants are 32 bytes per token at qs + ((g * nb + b) * kQ0Group + t) * 32 and its scales
// (f32) at sc[(g * nb + b) * kQ0Group + t]; slots past the last token are zeros. Packing token t of
// `nt` (tokens are independent, so a pool may pack them in parallel; the caller zeroes the padding
// slots with pack_q8_0_padding).
constexpr int kQ0Group = 8;
void pack_q8_0_token(const block_q8_0* row, int64_t nb, int64_t t, int8_t* qs, float* sc);
void pack_q8_0_padding(int64_t nb, int64_t nt, int8_t* qs, float* sc);
VecDotTileFn vecdot_tile_avx2(uint32_t type);  // null for a type without an AVX2 tile
// The tile kernel of current_isa() for `type`, or null (the caller then loops the VecDotFn).
VecDotTileFn vecdot_tile_for(uint32_t type);
// IQ4_NL on each path: llama.cpp runs ggml_vec_dot_iq4_nl_q8_0 for one token and tinyBLAS_Q0_AVX for any
// batch >= 2 (llamafile takes every IQ4_NL prompt), two float orders that only a tile (it sees nt) can
// choose between.
void vecdot_tile_iq4_nl_ref(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb,
                            const float* ad, int64_t nt, float* y, int64_t ldy);
void vecdot_tile_iq4_nl_avx2(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb,
                             const float* ad, int64_t nt, float* y, int64_t ldy);

// Activation conversion as ggml's from_float for the vec_dot type (n a multiple of the block size).
void quantize_q8_0(const float* x, block_q8_0* y, int64_t n);  // quantize_row_q8_0 (AVX2)
void quantize_q8_K(const float* x, block_q8_K* y, int64_t n);  // quantize_row_q8_K_ref
void quantize_q8_1(const float* x, block_q8_1* y, int64_t n);  // quantize_row_q8_1 (AVX2): Q8_0's qs, s = f16(d * sum q)
void convert_f16(const float* x, uint16_t* y, int64_t n);      // F16C round to nearest even
void convert_bf16(const float* x, uint16_t* y, int64_t n);     // ggml_cpu_fp32_to_bf16 (scalar, nearest even)
// The same conversions with AVX2 (byte-identical blocks).
void quantize_q8_0_avx2(const float* x, block_q8_0* y, int64_t n);
void quantize_q8_K_avx2(const float* x, block_q8_K* y, int64_t n);
void quantize_q8_1_avx2(const float* x, block_q8_1* y, int64_t n);

// Which ggml-exact kernel multiplies weights of `type`; null if rosetta has none (the caller then falls
// back to dequantized f32 dot products). `batch`: the call has >= 2 activation rows (tinyBLAS eligible).
VecDotFn vecdot_for(const VecDotKernels& k, uint32_t type, bool tiny);

// Scalar lane helpers shared by the reference kernels and the attention emulation.
// hsum_float_8 / tinyBLAS hsum: ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)).
inline float hsum8_ref(const float v[8]) {
  const float r0 = v[4] + v[0], r1 = v[5] + v[1], r2 = v[6] + v[2], r3 = v[7] + v[3];
  return (r0 + r2) + (r1 + r3);
}
// GGML_F32x8_REDUCE of four 8-lane accumulators: (a0+a2)+(a1+a3) per lane, then lo+hi, then two hadds.
inline float reduce32_ref(const float acc[4][8]) {
  float x[8];
  for (int l = 0; l < 8; l++) x[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  const float t0 = x[0] + x[4], t1 = x[1] + x[5], t2 = x[2] + x[6], t3 = x[3] + x[7];
  return (t0 + t1) + (t2 + t3);
}

}  // namespace rosetta
