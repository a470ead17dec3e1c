// Lane helpers shared by the AVX2 llama.cpp-exact dot products (vecdot_avx2.cpp) and their multi-row,
// multi-token tiles (vecdot_tile_avx2.cpp). Internal to the AVX2 translation units (-mavx2 -mfma -mf16c).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "rosetta/blocks.h"

namespace rosetta {
namespace avx2 {

// F16C conversion: the same value as fp16_to_fp32 (exact for every input; NaNs quieted the same way).
inline float half_to_f32(uint16_t h) { return _cvtsh_ss(h); }

// A rounded product that the compiler may not fuse into a following add (-mfma would contract it).
inline float mul_rounded(float a, float b) {
  float p = a * b;
  __asm__("" : "+x"(p));
  return p;
}

inline float hsum8(__m256 v) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

inline float reduce32(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 x = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// 8 int32 lanes, lane l = sum of the 4 products of bytes 4l..4l+3 (signed x signed, |x| <= 127).
inline __m256 lane_dot_i8(__m256i x, __m256i y) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

inline __m256i nibbles32(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

inline __m256i load_w(const block_q4_0& b) { return _mm256_sub_epi8(nibbles32(b.qs), _mm256_set1_epi8(8)); }
inline __m256i load_w(const block_q8_0& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
// Byte j = 0xFF where bit j of the 32-bit high-bit field qh (Q5_0 / Q5_1) is set, else 0: spread the 4 qh
// bytes over 8 bytes each, then test one bit per byte.
inline __m256i high_bits32(const uint8_t* qh4) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
                                             _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

inline __m256i load_w(const block_q5_0& b) {
  const __m256i has = high_bits32(b.qh);
  // (nibble | bit << 4) - 16 == nibble - 16 + (bit ? 16 : 0)
  const __m256i hi = _mm256_andnot_si256(has, _mm256_set1_epi8((char)0xF0));
  return _mm256_or_si256(nibbles32(b.qs), hi);
}
inline __m256i load_w(const block_iq4_nl& b) {
  const __m128i tbl = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl));
  const __m256i t2 = _mm256_broadcastsi128_si256(tbl);
  return _mm256_shuffle_epi8(t2, nibbles32(b.qs));
}

inline void q4k_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; j++) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
    sc[j + 4] = (s[j + 8] & 15) | ((s[j] >> 6) << 4);
    mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
  }
}

}  // namespace avx2
}  // namespace rosetta
