// Multi-token tiles of the AVX2 llama.cpp-exact dot products (rosetta/vecdot.h, VecDotTileFn).
//
// A prefill multiplies every weight row by many activation rows. The per-pair kernels (vecdot_avx2.cpp)
// decode each weight block again for every token; here a block is decoded once (nibbles unpacked, scales
// expanded, its f16 scale converted) and then used for a tile of tokens (kQ0Group, kTileK). Every output element still
// goes through exactly the operations of its per-pair kernel, in the same order: the same integer lane
// sums, the same fma into its own 8-lane accumulator block after block, the same final reduction. Only
// the interleaving of independent outputs changes, so the results are bit-identical.
#include <immintrin.h>

#include <cstring>
#include <type_traits>
#include <vector>

#include "rosetta/internal/vecdot.h"
#include "rosetta/types.h"
#include "rosetta/vecdot.h"
#include "vecdot_avx2_lanes.h"

namespace rosetta {
namespace {
using namespace avx2;

// Q4_0/Q5_0/Q8_0/IQ4_NL x Q8_0 (dot_q0), one weight row at a time: for decode, one sequential weight
// stream per thread is what the prefetchers follow best (2 rows x 1 token, two interleaved streams, took
// 20-40% longer on a Q8_0 decode). Each pair's scale is f32(dw) * f32(da), as in dot_q0.
template <typename B>
float q0_row_1(int64_t nb, const B* w, const block_q8_0* a) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_q0(w + b);
    const __m256i qw = load_w(w[b]);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qy, qw));
    const __m256 lanes = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w[b].d) * half_to_f32(a[b].d)), lanes, acc);
  }
  return hsum8(acc);
}

// A prompt: one row x one packed group of 8 tokens (rosetta/vecdot.h, pack_q8_0_token): per block the
// 8 tokens' quants are 256 contiguous bytes and their 8 scales one vector, so the 8 pair scales are one
// multiply; 8 accumulators and the block's registers fit the sixteen ymm registers (2 rows x 4 tokens
// spilled). Slots past the last token hold zeros; only the first m outputs are stored.
template <typename B>
void q0_row_group(int64_t nb, const B* w, const int8_t* qs, const float* sc, float* y, int64_t ldy, int64_t m) {
  __m256 acc[kQ0Group];
#pragma GCC unroll 8
  for (int t = 0; t < kQ0Group; t++) acc[t] = _mm256_setzero_ps();
  alignas(32) float s[kQ0Group];
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_block(w + b);
    const __m256i qw = load_w(w[b]);
    const __m256i aw = _mm256_sign_epi8(qw, qw);
    _mm256_store_ps(s, _mm256_mul_ps(_mm256_set1_ps(half_to_f32(w[b].d)), _mm256_loadu_ps(sc + b * kQ0Group)));
    const int8_t* q = qs + b * kQ0Group * 32;
#pragma GCC unroll 8
    for (int t = 0; t < kQ0Group; t++) {
      const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * t));
      const __m256i p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(qy, qw));
      const __m256 lanes = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
      acc[t] = _mm256_fmadd_ps(_mm256_broadcast_ss(s + t), lanes, acc[t]);
    }
  }
  for (int64_t t = 0; t < m; t++) y[t * ldy] = hsum8(acc[t]);
}

// Q4_0 / Q5_0 x one token (decode) on unsigned quants with the token's side formed once per call
// (TokenQ0, vecdot_avx2_lanes.h): one maddubs + madd and one add of the token's lanes per block.
template <typename B>
float q0u_row_1(int64_t nb, const B* w, const block_q8_0* a, const TokenQ0& tok) {
  const __m256i one16 = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_q0(w + b);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(Q0Unsigned<B>::quants(w[b]), qy), one16);
    const __m256 lanes = _mm256_cvtepi32_ps(_mm256_add_epi32(sum, tok.neg(b)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w[b].d) * tok.d[(size_t)b]), lanes, acc);
  }
  return hsum8(acc);
}

// Two rows a pass for Q4_0 / Q5_0: with the unsigned quants a row's block is few enough steps that its
// one fma chain (4 cycles a block) is close to the bound, so two rows' chains interleave (each row's
// outputs in its own order, unchanged); Q8_0, a byte a MAC, is held by memory and keeps one stream.
template <typename B>
void q0u_rows_2(int64_t nb, const B* w0, const B* w1, const block_q8_0* a, const TokenQ0& tok, float* y0, float* y1) {
  const __m256i one16 = _mm256_set1_epi16(1);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_q0(w0 + b), prefetch_q0(w1 + b);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const float da = tok.d[(size_t)b];
    const __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(Q0Unsigned<B>::quants(w0[b]), qy), one16);
    const __m256i s1 = _mm256_madd_epi16(_mm256_maddubs_epi16(Q0Unsigned<B>::quants(w1[b]), qy), one16);
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w0[b].d) * da), _mm256_cvtepi32_ps(_mm256_add_epi32(s0, tok.neg(b))), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w1[b].d) * da), _mm256_cvtepi32_ps(_mm256_add_epi32(s1, tok.neg(b))), acc1);
  }
  *y0 = hsum8(acc0);
  *y1 = hsum8(acc1);
}

template <typename B>
void tile_q0(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, const float* ad, int64_t nt, float* y, int64_t ldy) {
  if constexpr (std::is_same_v<B, block_q4_0> || std::is_same_v<B, block_q5_0>) {
    if (!ad) {  // decode
      const int64_t nb = n / 32;
      return q0u_decode<B, q0u_rows_2<B>, q0u_row_1<B>>(nb, w, rb, nr, a, arb, nt, y, ldy);
    }
  }
  tile_q0_with<B, q0_row_1<B>, q0_row_group<B>>(n, w, rb, nr, a, arb, ad, nt, y, ldy);
}

// Q4_K x Q8_K (dot_q4_K): one row, NT tokens, 64 quants outer and tokens inner: a step's two decoded
// chunks and their scale vectors (4 registers) serve every token's integer sum (NT registers), so
// nothing is reloaded per token but the token's own activations; each token's sum still adds the steps
// in order (integers, exact in any case), then ggml's fma per superblock.
template <int NT>
void q4k_row(int64_t nb, const block_q4_K* w, const uint8_t* a, size_t arb, float* y, int64_t ldy) {
  if constexpr (NT == 1) {
    *y = qk45_token_row(nb, w, reinterpret_cast<const block_q8_K*>(a));
    return;
  }
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256 acc[NT];
  __m128 accm[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps(), accm[t] = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float wd = half_to_f32(w[i].d), wdmin = half_to_f32(w[i].dmin);
    // the 6-bit scales and mins as 16-bit lanes (integers: the same values as q4k_scales)
    const __m256i mins_scales = q4k_scales16(w[i].scales);
    const __m128i mins = _mm256_extracti128_si256(mins_scales, 1);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(mins_scales));
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const block_q8_K& ab = reinterpret_cast<const block_q8_K*>(a + arb * t)[i];
      const float dmin = -ab.d * wdmin;
      accm[t] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(qk45_min_lanes(mins, ab.bsums)), accm[t]);
    }
    __m256i sumi[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    for (int j = 0; j < 4; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs + 32 * j));
      const __m256i ql = _mm256_and_si256(bits, m4), qh = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      const __m256i sl = _mm256_shuffle_epi8(scales, _mm256_load_si256(reinterpret_cast<const __m256i*>(kScaleShuffle) + 2 * j));
      const __m256i sh = _mm256_shuffle_epi8(scales, _mm256_load_si256(reinterpret_cast<const __m256i*>(kScaleShuffle) + 2 * j + 1));
#pragma GCC unroll 8
      for (int t = 0; t < NT; t++) {
        const int8_t* q8 = reinterpret_cast<const block_q8_K*>(a + arb * t)[i].qs + 64 * j;
        const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(ql, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8))), sl);
        const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(qh, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32))), sh);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(pl, ph));
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const float d = reinterpret_cast<const block_q8_K*>(a + arb * t)[i].d * wd;
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) {
    __m128 m = _mm_add_ps(accm[t], _mm_movehl_ps(accm[t], accm[t]));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    y[t * ldy] = hsum8(acc[t]) + _mm_cvtss_f32(m);
  }
}

// Q6_K's four 32-quant chunks of a 128-quant half from its ql (l0, l1) and qh (h) bytes: the low or high
// nibble, and the two high bits taken to bits 4-5 of each byte by one 16-bit shift and a mask (what the
// shift carries in from the neighbouring byte lands in bits the mask drops), as ggml's values.
inline void q6k_chunks(__m256i l0, __m256i l1, __m256i h, __m256i q[4]) {
  const __m256i m15 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
  q[0] = _mm256_or_si256(_mm256_and_si256(l0, m15), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30));
  q[1] = _mm256_or_si256(_mm256_and_si256(l1, m15), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m15), _mm256_and_si256(h, m30));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m15), _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
}

// Q6_K x Q8_K x one token (decode), streamed 128 quants at a time as q4k_row1.
inline float q6k_row1(int64_t nb, const block_q6_K* w, const block_q8_K* a) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float d = a[i].d * half_to_f32(w[i].d);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales)));
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums));
    __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5));
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++) {
      const uint8_t* ql = w[i].ql + 64 * j;
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh + 32 * j));
      const __m256i sj = scales_half(sc16, j);
      __m256i q[4];
      q6k_chunks(l0, l1, h, q);
#pragma GCC unroll 4
      for (int g = 0; g < 4; g++) {
        const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * (4 * j + g)));
        const __m256i sv = scale_pair16(sj, g);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[g], yv), sv));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc);
}

// Q6_K x Q8_K (dot_q6_K): one row, NT tokens.
template <int NT>
void q6k_row(int64_t nb, const block_q6_K* w, const uint8_t* a, size_t arb, float* y, int64_t ldy) {
  if constexpr (NT == 1) {
    *y = q6k_row1(nb, w, reinterpret_cast<const block_q8_K*>(a));
    return;
  }
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float wd = half_to_f32(w[i].d);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales)));
    // each token's sum starts from minus ggml's 32 x bsums x scales term (integers: exact in any order)
    __m256i sumi[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const block_q8_K*>(a + arb * t)[i].bsums));
      sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5));
    }
    // 64 quants outer (two chunks and their scale pairs), tokens inner, as q4k_row
#pragma GCC unroll 1
    for (int j = 0; j < 2; j++) {
      const uint8_t* ql = w[i].ql + 64 * j;
      __m256i q[4];
      q6k_chunks(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql)), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32)),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh + 32 * j)), q);
      const __m256i sj = scales_half(sc16, j);
#pragma GCC unroll 2
      for (int h = 0; h < 2; h++) {
        const __m256i s0 = scale_pair16(sj, 2 * h), s1 = scale_pair16(sj, 2 * h + 1);
#pragma GCC unroll 8
        for (int t = 0; t < NT; t++) {
          const int8_t* q8 = reinterpret_cast<const block_q8_K*>(a + arb * t)[i].qs + 128 * j + 64 * h;
          const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[2 * h], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8))), s0);
          const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[2 * h + 1], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32))), s1);
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p0, p1));
        }
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const float d = reinterpret_cast<const block_q8_K*>(a + arb * t)[i].d * wd;
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) y[t * ldy] = hsum8(acc[t]);
}

ROSETTA_TILE_ROW(Q4KRow, q4k_row)
ROSETTA_TILE_ROW(Q6KRow, q6k_row)
}  // namespace

// The table's names for these tiles (rosetta/internal/vecdot.h). IQ4_NL's batch tile is the tinyBLAS
// order; its table tile (vecdot_avx2.cpp) picks vec_dot's order for a single token.
#define ROSETTA_AVX2_TILE(name, fn)                                                                         \
  void avx2::vec_dot_tile_##name(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, \
                                 const float* ad, int64_t nt, float* y, int64_t ldy) {                        \
    fn(n, w, rb, nr, a, arb, ad, nt, y, ldy);                                                                \
  }
ROSETTA_AVX2_TILE(q4_0, tile_q0<block_q4_0>)
ROSETTA_AVX2_TILE(q5_0, tile_q0<block_q5_0>)
ROSETTA_AVX2_TILE(q8_0, tile_q0<block_q8_0>)
ROSETTA_AVX2_TILE(iq4_nl_batch, tile_q0<block_iq4_nl>)
ROSETTA_AVX2_TILE(q4_K, (tile_rows<block_q4_K, Q4KRow>))
ROSETTA_AVX2_TILE(q6_K, (tile_rows<block_q6_K, Q6KRow>))
#undef ROSETTA_AVX2_TILE

}  // namespace rosetta
