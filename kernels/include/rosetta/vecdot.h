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
#include "rosetta/types.h"

namespace rosetta {

// Which function computes a type's products is the traits table's (rosetta/types.h: vecDotType, vecDot,
// vecDotTiny, tile, fromFloat per ISA; ggml's haswell variant's float order on every path: the AVX-512
// path's own kernels (F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K) change only how the exact integer
// lanes are formed, and it uses the AVX2 kernels for the other types).
//
// VecDotFn (types.h): one weight row (n elements, stored blocks) against one activation row already in
// the vec_dot type.
// VecDotTileFn (types.h): a tile of the same products: rows [0, nr) of w (rb bytes apart) times tokens
// [0, nt) of a (activation rows arb bytes apart), y[t * ldy + r]. Each output element is computed with
// exactly the operations of the type's VecDotFn (bit-identical); the tile only shares each decoded
// weight block across tokens. Q8_0 activations of a prompt (nt >= 2) come packed for the tiles instead
// (pack_q8_0_token, or pack_q8_0_lanes where q0_offset_tile says so): `a` is the packed quants, `ad` the
// packed scales, arb unused. On the AVX-512 path a prompt's Q8_K activations come as quads too
// (Q8KQuad below): `ad` is the quads, `a` still the rows; one token's as a Q8KDecode (below; Q4_K, Q5_K). Otherwise ad is
// null and `a` the rows.

// Q8_0 activations packed for the Q8_0-family tiles, in groups of kQ0Group tokens: for group g and block
// b, the group's quants are 32 bytes per token at qs + ((g * nb + b) * kQ0Group + t) * 32 and its scales
// (f32) at sc[(g * nb + b) * kQ0Group + t]; slots past the last token are zeros. Packing token t of
// `nt` (tokens are independent, so a pool may pack them in parallel; the caller zeroes the padding
// slots with pack_q8_0_padding).
constexpr int kQ0Group = 8;
void pack_q8_0_token(const block_q8_0* row, int64_t nb, int64_t t, int8_t* qs, float* sc);
void pack_q8_0_padding(int64_t nb, int64_t nt, int8_t* qs, float* sc);
// The AVX-512 Q4_0/Q5_0/Q8_0 tiles (q0_offset_tile) take their own layout, every quant stored + 128 as an
// unsigned byte (vpdpbusd takes one side unsigned, and the weights' side is the signed one), in units
// packed one per call (a unit's tokens share cache lines, so one thread writes each):
//   - the prompt's tokens in groups of kQ0Lanes = 16 (F = nt / 16 whole groups), token-major within each
//     4-byte lane, so that one `vpdpbusd` forms lane l of 16 tokens against the weight's lane l
//     broadcast and one multiplier serves a block's eight lane registers: for group g and block b,
//     512 bytes at qs + (g * nb + b) * 512, lane l's 4 quants (4l..4l+3) of token t at
//     [(l * 16 + t) * 4]; scales (f32) at sc[(g * nb + b) * 16 + t];
//   - then the tail (the nt - 16F tokens left, under 16, in groups h of kQ0Group = 8) in pairs, from
//     qs + F * nb * 512 and sc + F * nb * 16: token 8h + k's 32 quants at ((h * nb + b) * 8 + k) * 32, so
//     tokens 2p and 2p + 1 share 64 contiguous bytes (one register), and the block's scales spread,
//     kQ0TailScales floats at (h * nb + b) * kQ0TailScales: tokens 0, 2, 4, 6 in lanes 0-3 and again
//     4-7, tokens 1, 3, 5, 7 in lanes 8-11 and 12-15, so that an in-lane shuffle picks a pair's scales.
// Slots past the last token are zeros. The lanes tile pays its fixed work per block (a row's eight
// weight-lane broadcasts and bases) once per 16 tokens; the pairs' is smaller, which is cheaper for a
// few tokens.
constexpr int kQ0Lanes = 16;
constexpr int kQ0TailScales = 2 * kQ0Group;
bool q0_offset_tile(uint32_t type);
// Units to pack for nt tokens (F full groups, then the tail's groups of 8), and the buffer sizes they
// need (quants in bytes, scales in floats).
int64_t q0_lane_units(int64_t nt);
void q0_lane_sizes(int64_t nt, int64_t nb, size_t* qsBytes, size_t* scFloats);
void pack_q8_0_lanes(const block_q8_0* rows, size_t arb, int64_t nb, int64_t unit, int64_t nt, int8_t* qs, float* sc);

// Q8_K activations of a prompt packed in quads (4 tokens) for the AVX-512 K-quant tiles: one Q8KQuad per
// (quad g, superblock i) at quads[g * nb + i]; tokens 4g..4g+3 are A, B (pair 0) and C, D (pair 1).
// A pair's 32 quants of a 32-quant chunk sit in one 512-bit register, the two tokens' 4-byte groups in
// turn (dword 2l: A's quants 4l..4l+3, dword 2l + 1: B's), so one weight register (the chunk with each
// 4-byte group twice) serves both tokens and each token's 8 lanes stay the AVX2 kernel's lanes; the
// per-token factors the tile multiplies by are then 64-bit broadcasts of (A's, B's). Slots past the last
// token are zeros (pack_q8_K_padding). On this layout the tile gets `ad` = the quads (as float*) and
// `a` = the rows as usual; only the AVX-512 Q4_K/Q5_K/Q6_K tiles read it.
constexpr int kQKQuad = 4;
struct alignas(64) Q8KQuad {
  int8_t qs[2][8][64];   // pair p, chunk c: dword 2l token 2p's quants 32c+4l..+3, dword 2l+1 token 2p+1's
  int16_t bsums[2][32];  // pair p: words 4l, 4l+1 token 2p's bsums 2l, 2l+1; words 4l+2, 4l+3 token 2p+1's
  int16_t sums8[32];     // dword 4j + k: token k's bsums pair sums 2j, 2j+1 (ggml's hadd of the bsums)
  float dn[8];           // tokens 0-3's d, then their -d
};
static_assert(sizeof(Q8KQuad) == 1280, "Q8KQuad layout");
// Packs one quad: `used` (1-4) tokens' Q8_K rows (row k at rows + k * arb, nb superblocks each) into its
// nb Q8KQuads, the slots of absent tokens zeroed. Defined in the AVX-512 unit: call it on that path only.
void pack_q8_K_quad(const uint8_t* rows, size_t arb, int used, int64_t nb, Q8KQuad* quads);

// One token's Q8_K activations packed for the AVX-512 Q4_K/Q5_K decode rows (a matmul of one token on
// that path gets `ad` = these, one per superblock, `a` still the row): the quants with their 32-byte
// chunks in the order 0 2 1 3 4 6 5 7, so that one 64-byte load meets the low (or high) nibbles of 64
// packed weight bytes (chunks 4k, 4k+2, or 4k+1, 4k+3); d as (d, -d, 0, 0); ggml's pair sums of the bsums.
struct alignas(64) Q8KDecode {
  int8_t qs[256];
  float dd[4];
  int16_t sums8[8];
};
static_assert(sizeof(Q8KDecode) == 320, "Q8KDecode layout");
void pack_q8_K_decode(const block_q8_K* row, int64_t nb, Q8KDecode* out);

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
