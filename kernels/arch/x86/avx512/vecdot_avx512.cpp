// AVX-512 (F/BW/VL + VNNI) llama.cpp-exact dot products and prefill tiles (rosetta/vecdot.h).
//
// The float order is the one the ggml-mode contract names, ggml's haswell variant (the same lanes, the
// same fma per block into the same 8-lane accumulator, the same final reduction as the AVX2 kernels,
// vecdot_avx2.cpp / vecdot_tile_avx2.cpp). Only the integer part changes, and integer sums are exact in
// any grouping:
//   - Q4_0/Q5_0/Q8_0/IQ4_NL x Q8_0: a block's 8 lanes (4 byte products each) are one VNNI `vpdpbusd`
//     instead of maddubs + madd (the same lanes ggml's zen4 variant forms, quants.c
//     mul_sum_us8_pairs_float); a prompt's tile runs two tokens per 512-bit register, each token's
//     accumulator in its own half (the same lane-wise fma).
//   - Q4_K/Q5_K/Q6_K x Q8_K: 64 quants per 512-bit register (two of the AVX2 kernel's 32-byte chunks, one
//     per half) for one token, the two halves added at the end of the superblock; a prompt's tokens in
//     pairs per register (Q8KQuad). Each chunk's `vpdpbusd` sums fit 16 bits, so two chunks share one
//     `vpdpwssd` with their scales (chunk_pair): per lane the same integer as the AVX2 kernel's sum.
//   - F16/BF16 (ggml_vec_dot_f16/bf16's order): the four 8-lane accumulators as two 512-bit registers
//     (a0|a1, a2|a3), each lane the same fma chain; the reduction as the AVX2 kernel's.
// Every output is bit-identical to the AVX2 path's (tests/kernels: the ggml oracle, the scalar reference
// and the ISA-path model runs hold it to that on every CPU that runs this path).
#include <immintrin.h>

#include <vector>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "rosetta/internal/vecdot.h"
#include "rosetta/types.h"
#include "rosetta/vecdot.h"

// GCC 12's AVX-512 headers build 256 <-> 512-bit casts and widenings on a self-initialised
// `_mm512_undefined_*()` (`__Y = __Y`), which -Wuninitialized reports wherever they are inlined; the
// lanes those casts leave undefined are never read here (only the halves written are).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define ROSETTA_LANES_NS avx512_lanes
#include "../avx2/vecdot_avx2_lanes.h"
#undef ROSETTA_LANES_NS

namespace rosetta {
namespace {
using namespace avx512_lanes;

// A block's 8 lanes: lane l = the 4 products of bytes 4l..4l+3 (signed x signed, as lane_dot_i8).
inline __m256 lanes_vnni(__m256i x, __m256i y) {
  return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x)));
}

template <typename B>
float q0_row_1(int64_t nb, const B* w, const block_q8_0* a) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_q0(w + b);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w[b].d) * half_to_f32(a[b].d)), lanes_vnni(load_w(w[b]), qy), acc);
  }
  return hsum8(acc);
}

// Lane 0 of each 128-bit block: (l0 + l2) + (l1 + l3) of that block, as x + movehl(x), then + movehdup
// (hsum8's last two steps, and ggml's Q4_K min term over its 4 lanes).
inline __m512 block_sum4(__m512 x) {
  x = _mm512_add_ps(x, _mm512_permute_ps(x, 0xEE));
  return _mm512_add_ps(x, _mm512_movehdup_ps(x));
}
// A quad's four tokens at once: p01 holds tokens 0 | 1 (8 lanes each), p23 tokens 2 | 3. Lane 0 of
// 128-bit block k of the result is token k's hsum8 with hsum8's operations and operand order (the upper
// 128 bits plus the lower, then + movehl, then + movehdup), so each is that token's hsum8 of its
// 8 lanes bit for bit.
inline __m512 quad_hsum8(__m512 p01, __m512 p23) {
  const __m512 lo = _mm512_shuffle_f32x4(p01, p23, _MM_SHUFFLE(2, 0, 2, 0));  // blocks 0 of tokens 0-3
  const __m512 hi = _mm512_shuffle_f32x4(p01, p23, _MM_SHUFFLE(3, 1, 3, 1));  // blocks 1 of tokens 0-3
  return block_sum4(_mm512_add_ps(hi, lo));
}
// Lane 0 of each block of v to y[t * ldy], tokens t0..t0+3 below m.
inline void store_quad(__m512 v, float* y, int64_t ldy, int64_t t0, int64_t m) {
  alignas(16) float f[4];
  _mm_store_ps(f, _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), v)));
  for (int k = 0; k < 4 && t0 + k < m; k++) y[(t0 + k) * ldy] = f[k];
}

// R weight rows' blocks for the lanes kernels, formed kAhead blocks before they are used (so the loads
// that broadcast them read stores made iterations ago, not ones still in flight): per row and block the
// -128 x lane sums that start each lane's `vpdpbusd` (so that each lane is the exact signed 4-product sum
// of the AVX2 kernel with the activations + 128 unsigned) and, for Q4_0 and Q5_0, the block's quants
// expanded to bytes; Q8_0's lanes are broadcast straight from the block. Lane l (quants 4l..4l+3) of
// either is one int32, broadcast to all 16 tokens of a register.
template <typename B, int R>
struct Q0Ring {
  static constexpr int64_t kAhead = 4;
  static constexpr bool kDirect = std::is_same_v<B, block_q8_0>;
  struct Entry {
    alignas(32) int32_t base[8];
    alignas(32) int32_t qw[kDirect ? 1 : 8];
  };
  Entry e[8][R];
  const B* w[R];
  int64_t nb;

  Q0Ring(const B* w0, size_t rb, int64_t nb_) : nb(nb_) {
    for (int r = 0; r < R; r++) w[r] = reinterpret_cast<const B*>(reinterpret_cast<const uint8_t*>(w0) + r * rb);
    for (int64_t b = 0; b < kAhead && b < nb; b++) put(b);
  }
  void put(int64_t b) {
    const __m256i u128 = _mm256_set1_epi8((char)0x80), zero = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      Entry& x = e[b & 7][r];
      const __m256i qw = load_w(w[r][b]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(x.base), _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, u128, qw)));
      if constexpr (!kDirect) _mm256_store_si256(reinterpret_cast<__m256i*>(x.qw), qw);
    }
  }
  // block b is about to be used: form block b + kAhead
  void advance(int64_t b) {
    if (b + kAhead < nb) put(b + kAhead);
  }
  __m512i base(int r, int64_t b, int l) const { return _mm512_set1_epi32(e[b & 7][r].base[l]); }
  __m512i lane(int r, int64_t b, int l) const {
    if constexpr (kDirect) {
      int32_t x;  // the quants sit at offset 2 of the block: read by memcpy
      std::memcpy(&x, w[r][b].qs + 4 * l, 4);
      return _mm512_set1_epi32(x);
    } else {
      return _mm512_set1_epi32(e[b & 7][r].qw[l]);
    }
  }
};

// Element p of each 128-bit block of spread products (kQ0TailScales, the tail of pack_q8_0_lanes) to all
// four: token 2p's product in lanes 0-7, token 2p+1's in 8-15 (the immediate spelled out: clang wants a
// constant expression).
inline __m512 pair_multiplier(__m512 s, int p) {
  switch (p) {
    case 0: return _mm512_permute_ps(s, 0x00);
    case 1: return _mm512_permute_ps(s, 0x55);
    case 2: return _mm512_permute_ps(s, 0xAA);
    default: return _mm512_permute_ps(s, 0xFF);
  }
}

// R rows (1 or 2) x one group of 16 tokens of a prompt (pack_q8_0_lanes: lane l of the group's 16 tokens
// in one 512-bit register, quants + 128 unsigned). acc[r][l] holds lane l of row r for the 16 tokens: per
// block one `vpdpbusd` of the lane register against row r's lane l broadcast, from a base of -128 x that
// lane's weight sum (Q0Ring), converted, and one fma by the 16 tokens' d products with row r (the f32
// product of the two f16 scales, as ggml's): the same multiplier for all eight lanes of a row. Each lane
// register of activations serves both rows. At the end each token's hsum8 is the same vertical sums
// across the row's eight lane registers, ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)): hsum8's
// operations in its order.
template <typename B, int R>
void q0_rows_lanes(int64_t nb, const B* w0, size_t rb, const uint8_t* q, const float* sc, float* y, int64_t ldy) {
  __m512 acc[R][8];
#pragma GCC unroll 8
  for (int l = 0; l < 8; l++)
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r][l] = _mm512_setzero_ps();
  Q0Ring<B, R> ring(w0, rb, nb);
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0)
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) _mm_prefetch(reinterpret_cast<const char*>(ring.w[r] + b) + R * rb, _MM_HINT_T0);
    ring.advance(b);
    const __m512 sv = _mm512_loadu_ps(sc + b * kQ0Lanes);
    __m512 s[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) s[r] = _mm512_mul_ps(_mm512_set1_ps(half_to_f32(ring.w[r][b].d)), sv);
    const uint8_t* qb = q + b * kQ0Lanes * 32;
#pragma GCC unroll 8
    for (int l = 0; l < 8; l++) {
      const __m512i x = _mm512_loadu_si512(qb + l * 64);
#pragma GCC unroll 4
      for (int r = 0; r < R; r++)
        acc[r][l] = _mm512_fmadd_ps(s[r], _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(ring.base(r, b, l), x, ring.lane(r, b, l))), acc[r][l]);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < R; j++) {
    const __m512 even = _mm512_add_ps(_mm512_add_ps(acc[j][0], acc[j][4]), _mm512_add_ps(acc[j][2], acc[j][6]));
    const __m512 odd = _mm512_add_ps(_mm512_add_ps(acc[j][1], acc[j][5]), _mm512_add_ps(acc[j][3], acc[j][7]));
    alignas(64) float f[kQ0Lanes];
    _mm512_store_ps(f, _mm512_add_ps(even, odd));
    for (int k = 0; k < kQ0Lanes; k++) y[k * ldy + j] = f[k];
  }
}

// One row x a prompt's tail (pack_q8_0_lanes: the last nt % 16 tokens, NG groups of 8 in pairs, quants
// + 128 unsigned; group g's quants and scales follow group g - 1's): tokens 2p and 2p+1 of a group share
// a 512-bit register (their 64 packed bytes are contiguous), accumulator acc[g][p] = token 2p's 8 lanes | token
// 2p+1's. vpdpbusd multiplies the unsigned (q + 128) by the signed weights, from an accumulator holding
// -128 x the weights' lane sums: each lane is the exact signed 4-product sum of the AVX2 kernel, with no
// sign shuffling per token. The group's scales come spread (kQ0TailScales), so one multiply by the
// weight's d forms every token's product (the f32 product of the two f16 scales, as ggml's) and an
// in-lane shuffle gives pair p's multiplier, no cross-lane permute. All the tail's groups (NG = 1-2) in one
// pass share the weight block's register, its base and its f16 scale.
template <typename B, int NG>
void q0_row_group(int64_t nb, const B* w, size_t rb, const int8_t* qs, const float* sc, float* y, int64_t ldy, int64_t m) {
  constexpr int kPairs = kQ0Group / 2;
  __m512 acc[NG * kPairs];
#pragma GCC unroll 16
  for (int p = 0; p < NG * kPairs; p++) acc[p] = _mm512_setzero_ps();
  const __m512i zero = _mm512_setzero_si512(), u128 = _mm512_set1_epi8((char)0x80);
  const int64_t groupQs = nb * kQ0Group * 32, groupSc = nb * kQ0TailScales;
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) _mm_prefetch(reinterpret_cast<const char*>(w + b) + rb, _MM_HINT_T0);  // the next row's block (prefetch_next_row)
    const __m512i qw = _mm512_broadcast_i64x4(load_w(w[b]));
    const __m512i base = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, u128, qw));  // -128 x lane sums
    const __m512 wd = _mm512_set1_ps(half_to_f32(w[b].d));
#pragma GCC unroll 4
    for (int g = 0; g < NG; g++) {
      // the d products of the group's tokens, spread (kQ0TailScales): element p of each 128-bit block
      // is token 2p's in lanes 0-7 and token 2p+1's in lanes 8-15
      const __m512 s = _mm512_mul_ps(wd, _mm512_loadu_ps(sc + g * groupSc + b * kQ0TailScales));
      const int8_t* q = qs + g * groupQs + b * kQ0Group * 32;
#pragma GCC unroll 4
      for (int p = 0; p < kPairs; p++) {
        const __m512 lanes = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(base, _mm512_loadu_si512(q + 64 * p), qw));
        acc[g * kPairs + p] = _mm512_fmadd_ps(pair_multiplier(s, p), lanes, acc[g * kPairs + p]);
      }
    }
  }
  // each token's hsum8, four tokens (two pair registers) at a time
#pragma GCC unroll 8
  for (int q = 0; q < NG * kPairs / 2; q++) store_quad(quad_hsum8(acc[2 * q], acc[2 * q + 1]), y, ldy, 4 * q, m);
}

// The Q8_0-family tile: one token (decode) through the row kernel; a prompt's tokens 16 per pass over two
// rows in lanes (q0_rows_lanes), then its tail (under 16) in pairs, one or two groups of 8 in one pass.
// Q4_0 / Q5_0 x one token (decode) on unsigned quants (TokenQ0, vecdot_avx2_lanes.h): a block's lanes
// are one `vpdpbusd` of its quants against the token's, started from the token's -off x lane sums.
template <typename B>
float q0u_row_1(int64_t nb, const B* w, const block_q8_0* a, const TokenQ0& tok) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_q0(w + b);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256 lanes = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(tok.neg(b), Q0Unsigned<B>::quants(w[b]), qy));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w[b].d) * tok.d[(size_t)b]), lanes, acc);
  }
  return hsum8(acc);
}

// Two rows a pass for Q4_0 / Q5_0 (as the AVX2 path's q0u_rows_2: two fma chains interleaved).
template <typename B>
void q0u_rows_2(int64_t nb, const B* w0, const B* w1, const block_q8_0* a, const TokenQ0& tok, float* y0, float* y1) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_q0(w0 + b), prefetch_q0(w1 + b);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const float da = tok.d[(size_t)b];
    const __m256 l0 = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(tok.neg(b), Q0Unsigned<B>::quants(w0[b]), qy));
    const __m256 l1 = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(tok.neg(b), Q0Unsigned<B>::quants(w1[b]), qy));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w0[b].d) * da), l0, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w1[b].d) * da), l1, acc1);
  }
  *y0 = hsum8(acc0);
  *y1 = hsum8(acc1);
}

template <typename B>
void tile_q0(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, const float* ad, int64_t nt, float* y, int64_t ldy) {
  const int64_t nb = n / 32;
  if constexpr (std::is_same_v<B, block_q4_0> || std::is_same_v<B, block_q5_0>) {
    if (!ad) {  // decode
      return q0u_decode<B, q0u_rows_2<B>, q0u_row_1<B>>(nb, w, rb, nr, a, arb, nt, y, ldy);
    }
  }
  if (!ad) {
    for (int64_t t = 0; t < nt; t++)
      for (int64_t r = 0; r < nr; r++)
        y[t * ldy + r] = q0_row_1(nb, reinterpret_cast<const B*>(w + rb * r), reinterpret_cast<const block_q8_0*>(a + arb * t));
    return;
  }
  const int64_t full = nt / kQ0Lanes, m = nt - full * kQ0Lanes;  // groups of 16 in lanes; tokens in the tail
  for (int64_t g = 0; g < full; g++) {
    const uint8_t* qg = a + g * nb * kQ0Lanes * 32;
    const float* sg = ad + g * nb * kQ0Lanes;
    float* yg = y + g * kQ0Lanes * ldy;
    int64_t r = 0;
    for (; r + 2 <= nr; r += 2) q0_rows_lanes<B, 2>(nb, reinterpret_cast<const B*>(w + rb * r), rb, qg, sg, yg + r, ldy);
    if (r < nr) q0_rows_lanes<B, 1>(nb, reinterpret_cast<const B*>(w + rb * r), rb, qg, sg, yg + r, ldy);
  }
  if (m == 0) return;
  const int8_t* qt = reinterpret_cast<const int8_t*>(a + full * nb * kQ0Lanes * 32);
  const float* st = ad + full * nb * kQ0Lanes;
  float* yt = y + full * kQ0Lanes * ldy;
  for (int64_t r = 0; r < nr; r++) {
    const B* wr = reinterpret_cast<const B*>(w + rb * r);
    if (m > kQ0Group) q0_row_group<B, 2>(nb, wr, rb, qt, st, yt + r, ldy, m);
    else q0_row_group<B, 1>(nb, wr, rb, qt, st, yt + r, ldy, m);
  }
}

template <typename B>
float dot_q0(int64_t n, const void* w, const void* a) {
  return q0_row_1(n / 32, static_cast<const B*>(w), static_cast<const block_q8_0*>(a));
}

// 8 lanes of a 512-bit integer sum: lanes l and l + 8 added (the AVX2 kernel's lane l).
inline __m256i fold(__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); }

// 16-bit lanes: lo in the low half, hi in the high half (an index vector, or per-half shift counts).
inline __m512i idx_halves(int lo, int hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)lo)), _mm256_set1_epi16((short)hi), 1);
}

// A Q4_K/Q5_K row's 12 packed 6-bit scales and mins as 16 16-bit lanes (scales 0-7, mins 8-15, as q4k_scales16)
// from one 16-byte load at the block's start (d, dmin, scales): one shuffle puts each lane's low source
// byte in its low half and the byte holding its two high bits (lanes 4-7, 12-15) in its high half, then
// (low >> (0 or 4)) & (63 or 15) | (high >> 6) << 4 in three vector steps instead of ~20 scalar ones.
inline __m256i qk45_scales16(__m256i x) {
  const __m256i idx = _mm256_setr_epi8(4, -128, 5, -128, 6, -128, 7, -128, 12, 4, 13, 5, 14, 6, 15, 7,  //
                                       8, -128, 9, -128, 10, -128, 11, -128, 12, 8, 13, 9, 14, 10, 15, 11);
  const __m256i shift = _mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4);
  const __m256i low = _mm256_setr_epi16(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15);
  const __m256i v = _mm256_shuffle_epi8(x, idx);
  const __m256i high = _mm256_and_si256(_mm256_srli_epi16(v, 10), _mm256_set1_epi16(0x30));
  return _mm256_ternarylogic_epi32(_mm256_srlv_epi16(v, shift), low, high, 0xEA);  // (a & b) | c
}

// ---- a prompt's K-quant tiles on quad-packed activations (rosetta/vecdot.h, Q8KQuad) ----
// One weight row x NQ quads (4 NQ tokens). Each 32-quant chunk of the row is decoded once into a register
// holding each of its 4-byte groups twice (dup_groups: dwords 2l and 2l + 1 = group l); a pair's
// activations hold token A's group l in dword 2l and token B's in dword 2l + 1 (Q8KQuad), so the chunk
// products give both tokens' AVX2 lanes (A's lane l at dword 2l, B's at 2l + 1; lane l = the products of
// bytes 4l..4l+3 times the chunk's scale, summed over the chunks): the same integers as the AVX2
// kernel's, with no fold, and one fma over 16 lanes does both tokens' per-superblock fma, its factor
// (d_A x d, d_B x d) a 64-bit broadcast from a store of the quad's four products (one multiply per quad
// instead of one per pair: the multiplies share the two pipes of the vpdpbusd). The min term (Q4_K: 4
// lanes per token, Q5_K: one sum per token) runs 4 tokens per register, token k in lane k of each
// 128-bit block, so its factors are one 128-bit broadcast of the quad's four.
// Two chunks' lanes as one register of 16-bit pairs: lane l = (chunk c's 4-product sum, chunk c+1's),
// each sum |x| <= 4 * 63 * 127 < 2^15, so that one vpdpwssd with the scale pair (s_c, s_c+1) adds
// s_c * x_c + s_c+1 * x_c+1 to the lane: the AVX2 kernel's two madds, in 3 multiplies instead of 4.
inline __m512i chunk_pair(__m512i w0, __m512i w1, __m512i a0, __m512i a1) {
  const __m512i x0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w0, a0);
  const __m512i x1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w1, a1);
  return _mm512_mask_blend_epi16(0xAAAAAAAAu, x0, _mm512_slli_epi32(x1, 16));
}
inline __m512i chunk_pair(__m512i w0, __m512i w1, const int8_t* a0, const int8_t* a1) {
  return chunk_pair(w0, w1, _mm512_loadu_si512(a0), _mm512_loadu_si512(a1));
}

// A 32-byte run of a weight row with each 4-byte group twice (dword 2l and 2l + 1 = group l): one chunk
// against a pair's interleaved activations (Q8KQuad), or the 8 dwords of per-lane scales or sums.
inline __m512i dup_groups(__m256i x) {
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), _mm512_castsi256_si512(x));
}
inline __m512i dup_groups(const void* p) { return dup_groups(_mm256_loadu_si256(static_cast<const __m256i*>(p))); }
// Pair p's per-token factor as the lanes want it: (token 2p's, token 2p+1's) in every 64-bit lane.
inline __m512 pair_factor(const float* f, int p) {
  double x;
  std::memcpy(&x, f + 2 * p, sizeof x);
  return _mm512_castpd_ps(_mm512_set1_pd(x));
}
// A quad's four hsum8s from its two pairs' accumulators (token 2p's lanes at even dwords of x[p], token
// 2p+1's at odd ones): hsum8's operations on each token's 8 lanes, in its order (the upper 4 lanes plus
// the lower, then lanes 2-3 onto 0-1, then lane 1 onto lane 0), the four tokens side by side.
inline __m128 pairs_hsum8(__m512 x0, __m512 x1) {
  const __m512 lo = _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(1, 0, 1, 0));  // lanes 0-3 of each token
  const __m512 hi = _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(3, 2, 3, 2));  // lanes 4-7
  const __m512 s = _mm512_add_ps(hi, lo);                                    // s_i at dword 2i (+1)
  const __m512 t = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, _MM_SHUFFLE(2, 3, 0, 1)));  // s_i + s_i+2
  const __m512 u = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(3, 2, 3, 2)));       // + (s_1 + s_3)
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 1, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), u));
}
inline void store4(__m128 v, float* y, int64_t ldy, int64_t t0, int64_t m) {
  float* p = y + t0 * ldy;
  if (t0 + 4 <= m) {  // a whole quad: four lane extracts straight to memory
    const int l1 = _mm_extract_ps(v, 1), l2 = _mm_extract_ps(v, 2), l3 = _mm_extract_ps(v, 3);
    _mm_store_ss(p, v);
    std::memcpy(p + ldy, &l1, 4);
    std::memcpy(p + 2 * ldy, &l2, 4);
    std::memcpy(p + 3 * ldy, &l3, 4);
    return;
  }
  alignas(16) float f[4];
  _mm_store_ps(f, v);
  for (int k = 0; t0 + k < m; k++) p[k * ldy] = f[k];
}

// A token pair's superblock lanes in the quads: the 8 decoded chunk registers against the pair's 8
// activation chunks, chunks 2k and 2k+1 weighted by scale(k) (16-bit pairs, chunk_pair), added to sumi
// (zero, or Q6_K's -32 bias: integers, exact in any grouping).
template <typename Scale>
inline __m512i pair_lanes(const __m512i q[8], const int8_t (*qs)[64], Scale scale, __m512i sumi = _mm512_setzero_si512()) {
#pragma GCC unroll 4
  for (int k = 0; k < 4; k++) sumi = _mm512_dpwssd_epi32(sumi, chunk_pair(q[2 * k], q[2 * k + 1], qs[2 * k], qs[2 * k + 1]), scale(k));
  return sumi;
}

template <typename B>
inline void qk45_chunks(const B& blk, __m512i w[8]);
template <>
inline void qk45_chunks(const block_q4_K& blk, __m512i w[8]) {
  const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
  for (int j = 0; j < 4; j++) {
    const __m512i bits = dup_groups(blk.qs + 32 * j);
    w[2 * j] = _mm512_and_si512(bits, m4);
    w[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);
  }
}
template <>
inline void qk45_chunks(const block_q5_K& blk, __m512i w[8]) {
  const __m512i m4 = _mm512_set1_epi8(15), one = _mm512_set1_epi8(1);
  const __m512i hb = dup_groups(blk.qh);
#pragma GCC unroll 4
  for (int j = 0; j < 4; j++) {
    const __m512i bits = dup_groups(blk.qs + 32 * j);
    const __m512i hl = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 2 * j), one), 4);
    const __m512i hh = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 2 * j + 1), one), 4);
    w[2 * j] = _mm512_or_si512(_mm512_and_si512(bits, m4), hl);
    w[2 * j + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(bits, 4), m4), hh);
  }
}

// One row's pass accumulators, kept between the superblock ranges of a K-blocked pass (tile_k).
struct alignas(64) QuadAcc {
  __m512 acc[8], accm[4];
};

// A prompt tile's prefetch: the same superblock of the next row, into L1. The tile reads its 16 rows in
// order (a K block at a time in long rows) and each row once per pass of 16 tokens, so the next row's
// block is what it reads next, from memory on the first pass and from L2 on the later ones. (The decode
// rows' prefetch, 8 KB ahead in the same row into L2, runs ahead of a single stream instead; in a tile
// it fetched rows long before their turn, or another row's bytes: measured against it, one thread, 64
// tokens, `npm run bench:matmul`, alternating: q6_K 3584 x 18944 1.19x with K blocks, q4_K 1.07x,
// q4_K and q6_K 18944 x 3584 1.04x and 1.07x, 8960 x 1536 unchanged.)
template <typename B>
inline void prefetch_next_row(const B* p, size_t rb) {
  const char* c = reinterpret_cast<const char*>(p) + rb;
  for (size_t o = 0; o < sizeof(B); o += 64) _mm_prefetch(c + o, _MM_HINT_T0);
}

// Superblocks [i0, i1) of one row x NQ quads: the accumulators start at zero (i0 == 0) or from st,
// and go back to st (i1 < nb) or, after the row's last superblock, into y.
template <typename B, int NQ>
void qk45_quads(int64_t nb, int64_t i0, int64_t i1, const B* w, size_t rb, const Q8KQuad* a, QuadAcc* st, float* y, int64_t ldy, int64_t m) {
  constexpr bool kQ5 = std::is_same<B, block_q5_K>::value;
  __m512 acc[2 * NQ], accm[NQ];
#pragma GCC unroll 8
  for (int p = 0; p < 2 * NQ; p++) acc[p] = i0 ? st->acc[p] : _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int g = 0; g < NQ; g++) accm[g] = i0 ? st->accm[g] : _mm512_setzero_ps();
  for (int64_t i = i0; i < i1; i++) {
    prefetch_next_row(w + i, rb);
    const __m256i head = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&w[i].d)));
    const __m128 wdd = _mm_cvtph_ps(_mm256_castsi256_si128(head));  // the row's d, dmin
    // (d x4, dmin x4): times a quad's (d_k, -d_k) these are ggml's per-token d and dmin products
    const __m256 wmul = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_broadcastss_ps(wdd)), _mm_permute_ps(wdd, 0x55), 1);
    const __m256i mins_scales = qk45_scales16(head);  // scales lanes 0-7, mins 8-15
    // dword 4j + k: mins 2j, 2j+1 (against token k's pair sums 2j, 2j+1 in the quad's sums8)
    const __m512i mins4 = _mm512_permutexvar_epi32(_mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7), _mm512_castsi256_si512(mins_scales));
    // chunks 2k and 2k+1's scales as the two 16-bit halves of a 32-bit lane (the scales are 16-bit lanes
    // 0-7 of mins_scales, so its 32-bit lanes 0-3 are those pairs)
    alignas(16) int32_t sp[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(sp), _mm256_castsi256_si128(mins_scales));
    __m512i q[8];
    qk45_chunks(w[i], q);
#pragma GCC unroll 4
    for (int g = 0; g < NQ; g++) {
      const Q8KQuad& qa = a[g * nb + i];
      asm("" : "+m"(sp));  // the scale pairs as broadcast memory operands, not 4 registers held over the quads
      // the quad's per-token products, one multiply: d_k x d (lanes 0-3), -d_k x dmin (lanes 4-7)
      alignas(32) float f[8];
      _mm256_store_ps(f, _mm256_mul_ps(_mm256_load_ps(qa.dn), wmul));
      asm("" : "+m"(f));  // keeps the factors in memory: broadcast loads, not register shuffles
#pragma GCC unroll 2
      for (int p = 0; p < 2; p++) {
        const __m512i sumi = pair_lanes(q, qa.qs[p], [&](int k) { return _mm512_set1_epi32(sp[k]); });
        acc[2 * g + p] = _mm512_fmadd_ps(pair_factor(f, p), _mm512_cvtepi32_ps(sumi), acc[2 * g + p]);
      }
      // token k's min term lanes at dwords k, 4 + k, 8 + k, 12 + k
      __m512i prod = _mm512_madd_epi16(mins4, _mm512_load_si512(qa.sums8));
      if (kQ5) {  // one integer per token, in lane k of every 128-bit block
        prod = _mm512_add_epi32(prod, _mm512_shuffle_i32x4(prod, prod, _MM_SHUFFLE(1, 0, 3, 2)));
        prod = _mm512_add_epi32(prod, _mm512_shuffle_i32x4(prod, prod, _MM_SHUFFLE(2, 3, 0, 1)));
      }
      accm[g] = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_load_ps(f + 4)), _mm512_cvtepi32_ps(prod), accm[g]);
    }
  }
  if (i1 < nb) {
#pragma GCC unroll 8
    for (int p = 0; p < 2 * NQ; p++) st->acc[p] = acc[p];
#pragma GCC unroll 4
    for (int g = 0; g < NQ; g++) st->accm[g] = accm[g];
    return;
  }
  // token k of quad g: its hsum8 plus its min term (Q4_K: ggml's (m0 + m2) + (m1 + m3) of its 4 lanes,
  // which are lane k of the 4 blocks of accm[g]; Q5_K: lane k of block 0)
#pragma GCC unroll 4
  for (int g = 0; g < NQ; g++) {
    const __m128 main = pairs_hsum8(acc[2 * g], acc[2 * g + 1]);
    __m128 mins = _mm512_castps512_ps128(accm[g]);
    if (!kQ5) {
      const __m128 b0 = mins, b1 = _mm512_extractf32x4_ps(accm[g], 1), b2 = _mm512_extractf32x4_ps(accm[g], 2), b3 = _mm512_extractf32x4_ps(accm[g], 3);
      mins = _mm_add_ps(_mm_add_ps(b0, b2), _mm_add_ps(b1, b3));
    }
    store4(_mm_add_ps(main, mins), y, ldy, g * kQKQuad, m);
  }
}

template <typename B, int NQ>
void q6k_quads(int64_t nb, int64_t i0, int64_t i1, const B* w, size_t rb, const Q8KQuad* a, QuadAcc* st, float* y, int64_t ldy, int64_t m) {
  const __m512i m15 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
  __m512 acc[2 * NQ];
#pragma GCC unroll 8
  for (int p = 0; p < 2 * NQ; p++) acc[p] = i0 ? st->acc[p] : _mm512_setzero_ps();
  // chunk c's scales: lanes 0-3 sub-block 2c's scale, 4-7 sub-block 2c+1's, in both halves; chunks 2k
  // and 2k+1 as the 16-bit halves of each 32-bit lane (chunk_pair), so 16-bit element e of pair k's
  // vector is scale 4k + (e odd ? 2 : 0) + (e % 16 >= 8 ? 1 : 0): one permute of the scales per pair
  __m512i sidx[4];
#pragma GCC unroll 4
  for (int k = 0; k < 4; k++) {
    alignas(64) int16_t ix[32];
    for (int e = 0; e < 32; e++) ix[e] = (int16_t)(4 * k + (e & 1 ? 2 : 0) + (e >= 16 ? 1 : 0));
    sidx[k] = _mm512_load_si512(ix);
  }
  for (int64_t i = i0; i < i1; i++) {
    prefetch_next_row(w + i, rb);
    const __m128 vwd = _mm_set1_ps(half_to_f32(w[i].d));
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales)));
    const __m512i sc2 = _mm512_broadcast_i64x4(sc16);
    // -32 x the scale pairs (|x| <= 4096), each 32-bit pair twice: against a pair's interleaved bsums
    const __m512i sc2m32 = _mm512_sub_epi16(_mm512_setzero_si512(), _mm512_slli_epi16(dup_groups(sc16), 5));
    // chunks 2k and 2k+1's scale vectors as 16-bit pairs (chunk_pair)
    alignas(64) int16_t sv[4][32];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) _mm512_store_si512(sv[k], _mm512_permutexvar_epi16(sidx[k], sc2));
    __m512i q[8];
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++) {
      // chunks 4j..4j+3, each 4-byte group held twice (dup_groups): 4j from the low nibbles of
      // the AVX2 kernel's l0 and qh bits 0-1, 4j+1 from l1's low nibbles and bits 2-3, 4j+2 and 4j+3
      // from l0's and l1's high nibbles and bits 4-5 and 6-7; the two high bits reach bits 4-5 of each
      // byte by one 16-bit shift and a mask (what a shift carries in from the next byte is masked off),
      // and one ternary-logic op merges (low & 15) | high
      const __m512i l0 = dup_groups(w[i].ql + 64 * j);
      const __m512i l1 = dup_groups(w[i].ql + 64 * j + 32);
      const __m512i h = dup_groups(w[i].qh + 32 * j);
      q[4 * j] = _mm512_ternarylogic_epi32(l0, m15, _mm512_and_si512(_mm512_slli_epi16(h, 4), m30), 0xEA);
      q[4 * j + 1] = _mm512_ternarylogic_epi32(l1, m15, _mm512_and_si512(_mm512_slli_epi16(h, 2), m30), 0xEA);
      q[4 * j + 2] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l0, 4), m15, _mm512_and_si512(h, m30), 0xEA);
      q[4 * j + 3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l1, 4), m15, _mm512_and_si512(_mm512_srli_epi16(h, 2), m30), 0xEA);
    }
#pragma GCC unroll 4
    for (int g = 0; g < NQ; g++) {
      const Q8KQuad& qa = a[g * nb + i];
      alignas(16) float f[4];  // d_k x d, the quad's 4 tokens
      _mm_store_ps(f, _mm_mul_ps(_mm_load_ps(qa.dn), vwd));
      asm("" : "+m"(f));  // keeps the factors in memory: broadcast loads, not register shuffles
#pragma GCC unroll 2
      for (int p = 0; p < 2; p++) {
        // the lanes start from -32 x the scale-weighted bsums (the quants' -32 offset), then add the
        // scaled chunk sums: the AVX2 kernel's integer (sum - bias), in another grouping (exact)
        const __m512i negBias = _mm512_madd_epi16(_mm512_load_si512(qa.bsums[p]), sc2m32);
        const __m512i sumi = pair_lanes(q, qa.qs[p], [&](int k) { return _mm512_load_si512(sv[k]); }, negBias);
        acc[2 * g + p] = _mm512_fmadd_ps(pair_factor(f, p), _mm512_cvtepi32_ps(sumi), acc[2 * g + p]);
      }
    }
  }
  if (i1 < nb) {
#pragma GCC unroll 8
    for (int p = 0; p < 2 * NQ; p++) st->acc[p] = acc[p];
    return;
  }
#pragma GCC unroll 4
  for (int g = 0; g < NQ; g++) store4(pairs_hsum8(acc[2 * g], acc[2 * g + 1]), y, ldy, g * kQKQuad, m);
}

// kKBlock: superblocks per K block of a long row (tile_k; 0: none). Measured on a Zen 4 core, one thread,
// 64 tokens (`npm run bench:matmul -- TYPE ROWS COLS 64 1 3`, five alternations): Q4_K 8960 x 3584
// 76-77 -> 81-84 GMAC/s with blocks of 4, 3584 x 18944 72-77 -> 76-83. Q6_K lost 2-9% blocked while
// the tile prefetched 8 KB ahead in the row; with the next row's block prefetched (prefetch_next_row)
// it gains: 3584 x 18944 1.19x, 1536 x 8960 1.16x (both against the unblocked tile, session 8).
template <typename B, int NQ>
struct QK45Quads {
  static constexpr int64_t kKBlock = 4;
  static void run(int64_t nb, int64_t i0, int64_t i1, const B* w, size_t rb, const Q8KQuad* a, QuadAcc* st, float* y, int64_t ldy, int64_t m) {
    qk45_quads<B, NQ>(nb, i0, i1, w, rb, a, st, y, ldy, m);
  }
};
template <typename B, int NQ>
struct Q6KQuads {
  static constexpr int64_t kKBlock = 4;
  static void run(int64_t nb, int64_t i0, int64_t i1, const B* w, size_t rb, const Q8KQuad* a, QuadAcc* st, float* y, int64_t ldy, int64_t m) {
    q6k_quads<B, NQ>(nb, i0, i1, w, rb, a, st, y, ldy, m);
  }
};

// ---- one token (decode): one row at a time ----
// Where the decode rows read the token: its Q8KDecode (rosetta/vecdot.h; the tile's, packed once per
// matmul) or its plain block_q8_K row (a single vec_dot call). chunks(i, k, h) = the activations of
// chunks 4k + h (low half) and 4k + 2 + h (high half), as one 64-byte load of packed nibbles holds them.
struct PackedToken {
  const Q8KDecode* p;
  __m512i chunks(int64_t i, int k, int h) const { return _mm512_load_si512(p[i].qs + 128 * k + 64 * h); }
  __m128 dd(int64_t i) const { return _mm_load_ps(p[i].dd); }
  __m128i sums8(int64_t i) const { return _mm_load_si128(reinterpret_cast<const __m128i*>(p[i].sums8)); }
};
struct RowToken {
  const block_q8_K* a;
  __m512i chunks(int64_t i, int k, int h) const {
    const int8_t* q = a[i].qs + 128 * k + 32 * h;
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q))),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64)), 1);
  }
  __m128 dd(int64_t i) const { return _mm_setr_ps(a[i].d, -a[i].d, 0, 0); }
  __m128i sums8(int64_t i) const {
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums));
    return _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
  }
};

// Q4_K / Q5_K x one token. Register k holds the row's quant bytes 64k..64k+63: its low nibbles are
// chunks 4k (bytes 0-31) and 4k+2, its high nibbles chunks 4k+1 and 4k+3 (ggml's layout), each met by
// one 64-byte load of the token's reordered activations; the two products as 16-bit pairs (chunk_pair:
// lanes 0-7 chunks (4k, 4k+1), 8-15 (4k+2, 4k+3)) against scale pairs (s4k, s4k+1) and (s4k+2, s4k+3),
// which are 32-bit lanes 2k and 2k+1 of the scales vector. Each lane is the AVX2 kernel's integer; the
// fma per superblock, the min term and the final sums are ggml's.
template <typename B, typename Token>
void qk45_row1(int64_t nb, const B* w, Token tok, float* y) {
  constexpr bool kQ5 = std::is_same<B, block_q5_K>::value;
  const __m512i m4 = _mm512_set1_epi8(15), bit4 = _mm512_set1_epi8(16);
  const __m512i pidx[2] = {_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                           _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3)};
  // Q5_K: qh bit c of byte e is chunk c's 5th bit of quant e; the shift that takes it to bit 4 for the
  // chunks of register k's low (lo) and high (hi) nibbles: left 4, 2 | 3, 1 (k = 0), right 0, 2 | 1, 3
  const __m512i hsh[2][2] = {{idx_halves(4, 2), idx_halves(3, 1)}, {idx_halves(0, 2), idx_halves(1, 3)}};
  __m256 acc = _mm256_setzero_ps();
  __m128 accm = _mm_setzero_ps();
  float summs = 0;
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const __m256i head = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&w[i].d)));
    // (d, dmin) of the row times (d, -d) of the token: ggml's d and dmin in one multiply
    const __m128 ds = _mm_mul_ps(_mm_cvtph_ps(_mm256_castsi256_si128(head)), tok.dd(i));
    const __m256i ms = qk45_scales16(head);
    const __m512i msz = _mm512_zextsi256_si512(ms);
    __m512i hb = _mm512_setzero_si512();
    if constexpr (kQ5) hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh)));
    __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int k = 0; k < 2; k++) {
      const __m512i raw = _mm512_loadu_si512(w[i].qs + 64 * k);
      __m512i lo, hi;
      if constexpr (kQ5) {
        const __m512i hl = k ? _mm512_srlv_epi16(hb, hsh[k][0]) : _mm512_sllv_epi16(hb, hsh[k][0]);
        const __m512i hh = k ? _mm512_srlv_epi16(hb, hsh[k][1]) : _mm512_sllv_epi16(hb, hsh[k][1]);
        lo = _mm512_ternarylogic_epi32(raw, m4, _mm512_and_si512(hl, bit4), 0xEA);
        hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw, 4), m4, _mm512_and_si512(hh, bit4), 0xEA);
      } else {
        lo = _mm512_and_si512(raw, m4);
        hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
      }
      sumi = _mm512_dpwssd_epi32(sumi, chunk_pair(lo, hi, tok.chunks(i, k, 0), tok.chunks(i, k, 1)), _mm512_permutexvar_epi32(pidx[k], msz));
    }
    acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(ds), _mm256_cvtepi32_ps(fold(sumi)), acc);
    const __m128i prod = _mm_madd_epi16(_mm256_extracti128_si256(ms, 1), tok.sums8(i));
    const __m128 dmin = _mm_permute_ps(ds, 0x55);
    if constexpr (kQ5) {
      __m128i pm = _mm_add_epi32(prod, _mm_unpackhi_epi64(prod, prod));
      pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 1));
      summs = std::fma(_mm_cvtss_f32(dmin), (float)_mm_cvtsi128_si32(pm), summs);
    } else {
      accm = _mm_fmadd_ps(dmin, _mm_cvtepi32_ps(prod), accm);
    }
  }
  if constexpr (kQ5) {
    *y = hsum8(acc) + summs;
  } else {
    __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    *y = hsum8(acc) + _mm_cvtss_f32(m);
  }
}

// Q6_K x one token. Register j holds ql bytes 64j..64j+63: low nibbles chunks 4j and 4j+1, high nibbles
// 4j+2 and 4j+3, each chunk's two high bits taken to bits 4-5 by one variable shift of qh's 32 bytes
// (both halves); one ternary-logic step merges them. The two products as 16-bit pairs (chunk_pair; |x|
// <= 4 * 63 * 128 < 2^15) against the pairs of their 16-quant groups' scales; minus ggml's 32 x
// bsums x scales term per lane, then ggml's fma per superblock.
inline void q6k_row1(int64_t nb, const block_q6_K* w, const block_q8_K* a, float* y) {
  const __m512i m15 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
  const __m512i shl = idx_halves(4, 2), shr = idx_halves(0, 2);
  // pair j, 32-bit lane l: the scales of chunks 4j + (l >= 8) and 4j + 2 + (l >= 8), group (l & 7) >= 4
  __m512i sidx[2];
  for (int j = 0; j < 2; j++) {
    alignas(64) int16_t idx[32];
    for (int p = 0; p < 32; p++) {
      const int l = p / 2, c = 4 * j + (l >= 8) + 2 * (p % 2);
      idx[p] = (int16_t)(2 * c + ((l & 7) >= 4));
    }
    sidx[j] = _mm512_load_si512(idx);
  }
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float d = a[i].d * half_to_f32(w[i].d);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales)));
    const __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums)), sc16), 5);
    __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++) {
      const __m512i l = _mm512_loadu_si512(w[i].ql + 64 * j);
      const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh + 32 * j)));
      const __m512i lo = _mm512_ternarylogic_epi32(l, m15, _mm512_and_si512(_mm512_sllv_epi16(h, shl), m30), 0xEA);
      const __m512i hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), m15, _mm512_and_si512(_mm512_srlv_epi16(h, shr), m30), 0xEA);
      sumi = _mm512_dpwssd_epi32(sumi, chunk_pair(lo, hi, _mm512_loadu_si512(a[i].qs + 128 * j), _mm512_loadu_si512(a[i].qs + 128 * j + 64)),
                                 _mm512_permutexvar_epi16(sidx[j], _mm512_zextsi256_si512(sc16)));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_sub_epi32(fold(sumi), bias)), acc);
  }
  *y = hsum8(acc);
}

// The decode row of a weight type: `p` the token's Q8KDecode, or null to read its row `a`.
template <typename B>
struct DecodeRow {
  static void run(int64_t nb, const B* w, const block_q8_K* a, const Q8KDecode* p, float* y) {
    if (p) qk45_row1(nb, w, PackedToken{p}, y);
    else qk45_row1(nb, w, RowToken{a}, y);
  }
};
template <>
struct DecodeRow<block_q6_K> {
  static void run(int64_t nb, const block_q6_K* w, const block_q8_K* a, const Q8KDecode*, float* y) { q6k_row1(nb, w, a, y); }
};

// The K-quant tile: a prompt's quads (ad non-null, nt >= 2) 4 at a time (16 tokens) per pass over a row;
// one token (decode; ad its Q8KDecode, or null) through the type's decode row, as is any batch given as
// plain rows (ad null), token by token.
constexpr int kQuadsPerPass = 4;
template <typename B, template <typename, int> class Quads>
void tile_k(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, const float* ad, int64_t nt, float* y,
            int64_t ldy) {
  if (nt == 1 || !ad) {
    const Q8KDecode* p = nt == 1 ? reinterpret_cast<const Q8KDecode*>(ad) : nullptr;
    for (int64_t t = 0; t < nt; t++)
      for (int64_t r = 0; r < nr; r++)
        DecodeRow<B>::run(n / QK_K, reinterpret_cast<const B*>(w + rb * r), reinterpret_cast<const block_q8_K*>(a + arb * t), p, y + t * ldy + r);
    return;
  }
  const int64_t nb = n / QK_K, nq = (nt + kQKQuad - 1) / kQKQuad;
  const Q8KQuad* quads = reinterpret_cast<const Q8KQuad*>(ad);
  // K-blocking: a pass's quads over all nb superblocks (4 x 1280 bytes each) stay in L1 across the
  // tile's rows only up to about 6 superblocks (K = 1536); longer rows run in blocks of kKBlock
  // superblocks, each row's accumulators carried from one block to the next in a QuadAcc (the same
  // operations in the same order: stored and reloaded floats are exact)
  constexpr int64_t kK = Quads<B, 1>::kKBlock;
  const int64_t kb = kK == 0 || nb <= 6 ? nb : kK;
  // the carried accumulators: on the stack for the matmul's tiles of up to 16 rows (a thread_local here
  // cost a TLS lookup per call, 0.25% of a two-thread prefill), in a thread's own vector beyond that
  QuadAcc local[16];
  thread_local std::vector<QuadAcc> big;
  if (nr > 16 && (int64_t)big.size() < nr) big.resize(nr);
  QuadAcc* const state = nr > 16 ? big.data() : local;
  for (int64_t g0 = 0; g0 < nq; g0 += kQuadsPerPass) {
    const int64_t nqp = nq - g0 < kQuadsPerPass ? nq - g0 : kQuadsPerPass;
    const int64_t m = nt - g0 * kQKQuad;
    const Q8KQuad* ag = quads + g0 * nb;
    float* yg = y + g0 * kQKQuad * ldy;
    for (int64_t i0 = 0; i0 < nb; i0 += kb) {
      const int64_t i1 = nb - i0 < kb ? nb : i0 + kb;
      for (int64_t r = 0; r < nr; r++) {
        const B* wr = reinterpret_cast<const B*>(w + rb * r);
        QuadAcc* st = &state[r];
        switch (nqp) {
          case 4: Quads<B, 4>::run(nb, i0, i1, wr, rb, ag, st, yg + r, ldy, m); break;
          case 3: Quads<B, 3>::run(nb, i0, i1, wr, rb, ag, st, yg + r, ldy, m); break;
          case 2: Quads<B, 2>::run(nb, i0, i1, wr, rb, ag, st, yg + r, ldy, m); break;
          default: Quads<B, 1>::run(nb, i0, i1, wr, rb, ag, st, yg + r, ldy, m); break;
        }
      }
    }
  }
}

// One row x one token (the per-pair kernel the table's vecDot column names): the decode row on the token's row.
template <typename B>
float dot_k(int64_t n, const void* w, const void* a) {
  float y;
  DecodeRow<B>::run(n / QK_K, static_cast<const B*>(w), static_cast<const block_q8_K*>(a), nullptr, &y);
  return y;
}

// ---- F16 / BF16 x themselves, ggml_vec_dot_f16 / ggml_vec_dot_bf16's order ----

struct Bf16 {
  uint16_t v;
};
inline __m512 ld16(const uint16_t* p) { return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline __m512 ld16(const Bf16* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

// The AVX2 kernel's four accumulators over 32-element chunks (elements 0-7, 8-15, 16-23, 24-31) as
// a01 = a0 | a1 and a23 = a2 | a3; returns (a0 + a2) | (a1 + a3), lane by lane.
template <typename T>
__m512 chunks32(const T* x, const T* y, int64_t np) {
  __m512 a01 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps();
  for (int64_t i = 0; i < np; i += 32) {
    a01 = _mm512_fmadd_ps(ld16(x + i), ld16(y + i), a01);
    a23 = _mm512_fmadd_ps(ld16(x + i + 16), ld16(y + i + 16), a23);
  }
  return _mm512_add_ps(a01, a23);
}
inline __m256 halves_sum(__m512 v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)); }

float dot_f16(int64_t n, const void* vw, const void* va) {
  const uint16_t* x = static_cast<const uint16_t*>(vw);
  const uint16_t* y = static_cast<const uint16_t*>(va);
  const int64_t np = n & ~int64_t(31);
  // reduce32: x = (a0 + a2) + (a1 + a3), then lo + hi, then two hadds
  const __m256 v = halves_sum(chunks32(x, y, np));
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  double s = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
  for (int64_t i = np; i < n; i++) s += (double)mul_rounded(half_to_f32(x[i]), half_to_f32(y[i]));
  return (float)s;
}

float dot_bf16(int64_t n, const void* vw, const void* va) {
  const Bf16* x = static_cast<const Bf16*>(vw);
  const Bf16* y = static_cast<const Bf16*>(va);
  const int64_t np = n & ~int64_t(31);
  // (c1 + c3) + (c2 + c4), then hsum8
  double s = (double)hsum8(halves_sum(chunks32(x, y, np)));
  for (int64_t i = np; i < n; i++) s += (double)mul_rounded(bf16_to_fp32(x[i].v), bf16_to_fp32(y[i].v));
  return (float)s;
}

// ---- the quads' packing (rosetta/vecdot.h) ----

// Two tokens' 32 bytes with their 4-byte groups in turn: out[0..31] = A0 B0 A1 B1 .. A3 B3, out[32..63] =
// A4 B4 .. A7 B7 (groups of 4 bytes).
inline void interleave_groups(__m256i x, __m256i y, int8_t* out) {
  const __m256i lo = _mm256_unpacklo_epi32(x, y), hi = _mm256_unpackhi_epi32(x, y);  // groups 0,1|4,5 and 2,3|6,7
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(lo, hi, 0x20));
  _mm256_store_si256(reinterpret_cast<__m256i*>(out + 32), _mm256_permute2x128_si256(lo, hi, 0x31));
}

}  // namespace

void pack_q8_K_quad(const uint8_t* rows, size_t arb, int used, int64_t nb, Q8KQuad* quads) {
  const block_q8_K* r[kQKQuad];
  for (int k = 0; k < kQKQuad; k++) r[k] = k < used ? reinterpret_cast<const block_q8_K*>(rows + arb * (size_t)k) : nullptr;
  const auto load = [](const block_q8_K* b, const void* p) {
    return b ? _mm256_loadu_si256(static_cast<const __m256i*>(p)) : _mm256_setzero_si256();
  };
  for (int64_t i = 0; i < nb; i++) {
    Q8KQuad& q = quads[i];
    const block_q8_K* b[kQKQuad];
    for (int k = 0; k < kQKQuad; k++) b[k] = r[k] ? r[k] + i : nullptr;
    __m128i s8[kQKQuad];  // token k's 8 pair sums of its bsums (ggml's hadd)
    for (int p = 0; p < 2; p++) {
      const block_q8_K *x = b[2 * p], *y = b[2 * p + 1];
      for (int c = 0; c < 8; c++) interleave_groups(load(x, x ? x->qs + 32 * c : nullptr), load(y, y ? y->qs + 32 * c : nullptr), q.qs[p][c]);
      const __m256i bx = load(x, x ? x->bsums : nullptr), by = load(y, y ? y->bsums : nullptr);
      interleave_groups(bx, by, reinterpret_cast<int8_t*>(q.bsums[p]));
      s8[2 * p] = _mm_hadd_epi16(_mm256_castsi256_si128(bx), _mm256_extracti128_si256(bx, 1));
      s8[2 * p + 1] = _mm_hadd_epi16(_mm256_castsi256_si128(by), _mm256_extracti128_si256(by, 1));
    }
    // dword 4j + k = token k's dword j: the 4 x 4 transpose of the tokens' pair sums
    const __m128i t01lo = _mm_unpacklo_epi32(s8[0], s8[1]), t01hi = _mm_unpackhi_epi32(s8[0], s8[1]);
    const __m128i t23lo = _mm_unpacklo_epi32(s8[2], s8[3]), t23hi = _mm_unpackhi_epi32(s8[2], s8[3]);
    _mm_store_si128(reinterpret_cast<__m128i*>(q.sums8), _mm_unpacklo_epi64(t01lo, t23lo));
    _mm_store_si128(reinterpret_cast<__m128i*>(q.sums8 + 8), _mm_unpackhi_epi64(t01lo, t23lo));
    _mm_store_si128(reinterpret_cast<__m128i*>(q.sums8 + 16), _mm_unpacklo_epi64(t01hi, t23hi));
    _mm_store_si128(reinterpret_cast<__m128i*>(q.sums8 + 24), _mm_unpackhi_epi64(t01hi, t23hi));
    for (int k = 0; k < kQKQuad; k++) {
      q.dn[k] = b[k] ? b[k]->d : 0.0f;
      q.dn[4 + k] = b[k] ? -b[k]->d : 0.0f;
    }
  }
}

// The table's names for these kernels (rosetta/internal/vecdot.h).
#define ROSETTA_AVX512_VECDOT(name, fn) \
  float avx512::vec_dot_##name(int64_t n, const void* w, const void* a) { return fn(n, w, a); }
ROSETTA_AVX512_VECDOT(f16, dot_f16)
ROSETTA_AVX512_VECDOT(bf16, dot_bf16)
ROSETTA_AVX512_VECDOT(q4_0, dot_q0<block_q4_0>)
ROSETTA_AVX512_VECDOT(q5_0, dot_q0<block_q5_0>)
ROSETTA_AVX512_VECDOT(q8_0, dot_q0<block_q8_0>)
ROSETTA_AVX512_VECDOT(q4_K, dot_k<block_q4_K>)
ROSETTA_AVX512_VECDOT(q5_K, dot_k<block_q5_K>)
ROSETTA_AVX512_VECDOT(q6_K, dot_k<block_q6_K>)
#undef ROSETTA_AVX512_VECDOT

#define ROSETTA_AVX512_TILE(name, fn)                                                                         \
  void avx512::vec_dot_tile_##name(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, \
                                   const float* ad, int64_t nt, float* y, int64_t ldy) {                        \
    fn(n, w, rb, nr, a, arb, ad, nt, y, ldy);                                                                  \
  }
ROSETTA_AVX512_TILE(q4_0, tile_q0<block_q4_0>)
ROSETTA_AVX512_TILE(q5_0, tile_q0<block_q5_0>)
ROSETTA_AVX512_TILE(q8_0, tile_q0<block_q8_0>)
ROSETTA_AVX512_TILE(q4_K, (tile_k<block_q4_K, QK45Quads>))
ROSETTA_AVX512_TILE(q5_K, (tile_k<block_q5_K, QK45Quads>))
ROSETTA_AVX512_TILE(q6_K, (tile_k<block_q6_K, Q6KQuads>))
#undef ROSETTA_AVX512_TILE

}  // namespace rosetta
