// Multi-token tiles for the types llamafile's tinyBLAS does not take on x86 (Q5_K, Q3_K, Q2_K, and below
// IQ4_XS, Q4_1, Q5_1): llama.cpp runs their prompts through ggml_vec_dot per (row, token) pair, so each
// output here keeps the per-pair kernel's operations (vecdot_avx2.cpp) in its order: the same integer
// lane sums, the same fma into its own accumulators superblock after superblock, the same final
// reduction. A weight block is decoded once (quants unpacked, scales expanded, f16 scales converted) and
// used for up to kTileK tokens; only the interleaving of independent outputs changes (bit-identical).
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "rosetta/internal/vecdot.h"
#include "rosetta/types.h"
#include "rosetta/vecdot.h"
#include "vecdot_avx2_lanes.h"

namespace rosetta {
namespace {
using namespace avx2;

inline const block_q8_K& act_k(const uint8_t* a, size_t arb, int t, int64_t i) {
  return reinterpret_cast<const block_q8_K*>(a + arb * t)[i];
}

// Q5_K x Q8_K (dot_q5_K): one row, NT tokens. The min term is one integer per superblock, fma'd into a
// scalar f32 per token that is added after hsum8.
template <int NT>
void q5k_row(int64_t nb, const block_q5_K* w, const uint8_t* a, size_t arb, float* y, int64_t ldy) {
  if constexpr (NT == 1) {
    *y = qk45_token_row(nb, w, reinterpret_cast<const block_q8_K*>(a));
    return;
  }
  const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
  __m256 acc[NT];
  float summs[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps(), summs[t] = 0;
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float wd = half_to_f32(w[i].d), wdmin = half_to_f32(w[i].dmin);
    // scales and mins as 16-bit lanes: the integers dot_q5_K reads from q4k_scales
    const __m256i mins_scales = q4k_scales16(w[i].scales);
    const __m128i mins = _mm256_extracti128_si256(mins_scales, 1);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(mins_scales));
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh));
    __m256i q[8], s[8];
#pragma GCC unroll 8
    for (int j = 0; j < 4; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs + 32 * j));
      const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j), one), 4);
      const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j + 1), one), 4);
      q[2 * j] = _mm256_or_si256(_mm256_and_si256(bits, m4), h0);
      q[2 * j + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h1);
    }
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) s[k] = _mm256_shuffle_epi8(scales, _mm256_load_si256(reinterpret_cast<const __m256i*>(kScaleShuffle) + k));
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const block_q8_K& ab = act_k(a, arb, t, i);
      const float d = ab.d * wd;
      const float dmin = -ab.d * wdmin;
      __m128i pm = qk45_min_lanes(mins, ab.bsums);
      pm = _mm_add_epi32(pm, _mm_unpackhi_epi64(pm, pm));
      pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 1));
      summs[t] = std::fma(dmin, (float)_mm_cvtsi128_si32(pm), summs[t]);
      __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 4; j++) {
        const __m256i yl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs + 64 * j));
        const __m256i yh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs + 64 * j + 32));
        const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(q[2 * j], yl), s[2 * j]);
        const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(q[2 * j + 1], yh), s[2 * j + 1]);
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
      }
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) y[t * ldy] = hsum8(acc[t]) + summs[t];
}

// Q2_K x Q8_K (dot_q2_K): one row, NT tokens. Per superblock the mins x bsums lanes are fma'd with dmin,
// then the scaled sums with d, into the same accumulator.
template <int NT>
void q2k_row(int64_t nb, const block_q2_K* w, const uint8_t* a, size_t arb, float* y, int64_t ldy) {
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m128i m4 = _mm_set1_epi8(15);
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float wd = half_to_f32(w[i].d), wdmin = half_to_f32(w[i].dmin);
    const __m128i ms = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales));
    const __m256i mins = _mm256_cvtepi8_epi16(_mm_and_si128(_mm_srli_epi16(ms, 4), m4));
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_and_si128(ms, m4));
    __m256i q[8], s[8];
#pragma GCC unroll 8
    for (int j = 0; j < 2; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs + 32 * j));
      const __m256i sj = scales_half(sc16, j);
#pragma GCC unroll 8
      for (int g = 0; g < 4; g++) {
        q[4 * j + g] = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), m3);
        s[4 * j + g] = scale_pair16(sj, g);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const block_q8_K& ab = act_k(a, arb, t, i);
      const float dmin = -ab.d * wdmin;
      const __m256i prod = _mm256_madd_epi16(mins, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.bsums)));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc[t]);
    }
    // 32-element group outer, token inner (as q3k_row): each token still adds k = 0..7 in order
    __m256i sumi[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
#pragma GCC unroll 8
      for (int t = 0; t < NT; t++) {
        const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act_k(a, arb, t, i).qs + 32 * k));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], yv), s[k]));
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(act_k(a, arb, t, i).d * wd), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) y[t * ldy] = hsum8(acc[t]);
}

// Q3_K x Q8_K (dot_q3_K): one row, NT tokens. The low 2 bits and the "4 where the high bit is clear"
// are kept apart, as two maddubs whose difference is scaled (signed scales).
template <int NT>
void q3k_row(int64_t nb, const block_q3_K* w, const uint8_t* a, size_t arb, float* y, int64_t ldy) {
  const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float wd = half_to_f32(w[i].d);
    const __m256i sc16 = q3k_scales16(w[i].scales);
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].hmask));
    __m256i ql[8], qh[8], s[8];
#pragma GCC unroll 8
    for (int j = 0; j < 2; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs + 32 * j));
      const __m256i sj = scales_half(sc16, j);
#pragma GCC unroll 8
      for (int g = 0; g < 4; g++) {
        const int bit = 4 * j + g;
        ql[bit] = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), m3);
        qh[bit] = _mm256_slli_epi16(_mm256_andnot_si256(_mm256_and_si256(_mm256_srli_epi16(hbits, bit), one), one), 2);
        s[bit] = scale_pair16(sj, g);
      }
    }
    // sub-block outer, token inner: each token's integer sum still adds k = 0..7 in order, while only
    // one sub-block's decoded registers are live
    __m256i sumi[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
#pragma GCC unroll 8
      for (int t = 0; t < NT; t++) {
        const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act_k(a, arb, t, i).qs + 32 * k));
        const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(ql[k], yv), _mm256_maddubs_epi16(qh[k], yv));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p16, s[k]));
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(act_k(a, arb, t, i).d * wd), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) y[t * ldy] = hsum8(acc[t]);
}

// IQ4_XS x Q8_K (dot_iq4_xs): one row, NT tokens. Per 32-block the codebook values and their magnitudes
// (the sign trick of lane_dot_i8) and the 6-bit scale - 32; one fma per superblock with d_w * d_a.
template <int NT>
void iq4xs_row(int64_t nb, const block_iq4_xs* w, const uint8_t* a, size_t arb, float* y, int64_t ldy) {
  const __m256i t2 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl)));
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float wd = half_to_f32(w[i].d);
    __m256i q[8], aq[8], s[8];
#pragma GCC unroll 8
    for (int ib = 0; ib < 8; ib++) {
      const int ls = (((w[i].scales_l[ib / 2] >> (4 * (ib & 1))) & 15) | (((w[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
      q[ib] = _mm256_shuffle_epi8(t2, nibbles32(w[i].qs + 16 * ib));
      aq[ib] = _mm256_sign_epi8(q[ib], q[ib]);
      s[ib] = _mm256_set1_epi16((short)ls);
    }
    // 32-block outer, token inner (as q3k_row): each token still adds ib = 0..7 in order
    __m256i sumi[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int ib = 0; ib < 8; ib++) {
#pragma GCC unroll 8
      for (int t = 0; t < NT; t++) {
        const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act_k(a, arb, t, i).qs + 32 * ib));
        const __m256i p16 = _mm256_maddubs_epi16(aq[ib], _mm256_sign_epi8(yv, q[ib]));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p16, s[ib]));
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(wd * act_k(a, arb, t, i).d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) y[t * ldy] = hsum8(acc[t]);
}

// Q4_1 / Q5_1 x Q8_1 (dot_q1), decode: one row, one token, with the weight stream prefetched. The min
// term m * s is fma'd into a scalar f32, the lanes with d_w * d_a.
template <typename B>
float q1_row_1(int64_t nb, const B* w, const block_q8_1* a) {
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_block(w + b);
    summs = std::fma(half_to_f32(w[b].m), half_to_f32(a[b].s), summs);
    const __m256 d = _mm256_set1_ps(half_to_f32(w[b].d) * half_to_f32(a[b].d));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i p16 = _mm256_maddubs_epi16(load_w_q1(w[b]), qy);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1))), acc);
  }
  return hsum8(acc) + summs;
}

// A prompt of Q4_1 / Q5_1: per group of 8 tokens, their activation scales d and s (f16) are converted
// once per call into sc (block b: 8 d then 8 s; zeros past the last token), so a block's 8 pair scales
// are one multiply and its 8 min terms one fma, lane t doing token t's scalar operations of dot_q1.
template <typename B, int NT>
void q1_row_group(int64_t nb, const B* w, const uint8_t* a, size_t arb, const float* sc, float* y, int64_t ldy) {
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
  __m256 summs = _mm256_setzero_ps();
  alignas(32) float ds[8];
  for (int64_t b = 0; b < nb; b++) {
    if ((b & 1) == 0) prefetch_block(w + b);
    const __m256i qw = load_w_q1(w[b]);
    const float* s = sc + 16 * b;
    summs = _mm256_fmadd_ps(_mm256_set1_ps(half_to_f32(w[b].m)), _mm256_loadu_ps(s + 8), summs);
    _mm256_store_ps(ds, _mm256_mul_ps(_mm256_set1_ps(half_to_f32(w[b].d)), _mm256_loadu_ps(s)));
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const block_q8_1& ab = reinterpret_cast<const block_q8_1*>(a + arb * t)[b];
      const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs));
      const __m256i p16 = _mm256_maddubs_epi16(qw, qy);
      acc[t] = _mm256_fmadd_ps(_mm256_broadcast_ss(ds + t), _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1))), acc[t]);
    }
  }
  alignas(32) float sm[8];
  _mm256_store_ps(sm, summs);
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) y[t * ldy] = hsum8(acc[t]) + sm[t];
}

template <typename B>
void tile_q1(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, const float*, int64_t nt, float* y, int64_t ldy) {
  const int64_t nb = n / 32;
  if (nt == 1) {  // decode: nothing to share
    for (int64_t r = 0; r < nr; r++) y[r] = q1_row_1(nb, reinterpret_cast<const B*>(w + rb * r), reinterpret_cast<const block_q8_1*>(a));
    return;
  }
  thread_local std::vector<float> sc;
  if (sc.size() < (size_t)(16 * nb)) sc.resize(16 * nb);
  for (int64_t t0 = 0; t0 < nt; t0 += kTileK) {
    const int m = (int)(nt - t0 < kTileK ? nt - t0 : kTileK);
    for (int64_t b = 0; b < nb; b++)
      for (int t = 0; t < 8; t++) {
        const block_q8_1* ab = t < m ? reinterpret_cast<const block_q8_1*>(a + arb * (t0 + t)) + b : nullptr;
        sc[16 * b + t] = ab ? half_to_f32(ab->d) : 0.0f;
        sc[16 * b + 8 + t] = ab ? half_to_f32(ab->s) : 0.0f;
      }
    const uint8_t* at = a + arb * t0;
    for (int64_t r = 0; r < nr; r++) {
      const B* wr = reinterpret_cast<const B*>(w + rb * r);
      float* yr = y + ldy * t0 + r;
      switch (m) {
        case 8: q1_row_group<B, 8>(nb, wr, at, arb, sc.data(), yr, ldy); break;
        case 7: q1_row_group<B, 7>(nb, wr, at, arb, sc.data(), yr, ldy); break;
        case 6: q1_row_group<B, 6>(nb, wr, at, arb, sc.data(), yr, ldy); break;
        case 5: q1_row_group<B, 5>(nb, wr, at, arb, sc.data(), yr, ldy); break;
        case 4: q1_row_group<B, 4>(nb, wr, at, arb, sc.data(), yr, ldy); break;
        case 3: q1_row_group<B, 3>(nb, wr, at, arb, sc.data(), yr, ldy); break;
        case 2: q1_row_group<B, 2>(nb, wr, at, arb, sc.data(), yr, ldy); break;
        default: q1_row_group<B, 1>(nb, wr, at, arb, sc.data(), yr, ldy); break;
      }
    }
  }
}

ROSETTA_TILE_ROW(Q5KRow, q5k_row)
ROSETTA_TILE_ROW(Q2KRow, q2k_row)
ROSETTA_TILE_ROW(Q3KRow, q3k_row)
ROSETTA_TILE_ROW(IQ4XSRow, iq4xs_row)
}  // namespace

// The table's names for these tiles (rosetta/internal/vecdot.h).
#define ROSETTA_AVX2_TILE(name, fn)                                                                         \
  void avx2::vec_dot_tile_##name(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, \
                                 const float* ad, int64_t nt, float* y, int64_t ldy) {                        \
    fn(n, w, rb, nr, a, arb, ad, nt, y, ldy);                                                                \
  }
ROSETTA_AVX2_TILE(q5_K, (tile_rows<block_q5_K, Q5KRow>))
ROSETTA_AVX2_TILE(q2_K, (tile_rows<block_q2_K, Q2KRow>))
ROSETTA_AVX2_TILE(q3_K, (tile_rows<block_q3_K, Q3KRow>))
ROSETTA_AVX2_TILE(iq4_xs, (tile_rows<block_iq4_xs, IQ4XSRow>))
ROSETTA_AVX2_TILE(q4_1, tile_q1<block_q4_1>)
ROSETTA_AVX2_TILE(q5_1, tile_q1<block_q5_1>)
#undef ROSETTA_AVX2_TILE

}  // namespace rosetta
