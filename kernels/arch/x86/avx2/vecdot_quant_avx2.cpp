// AVX2 forms of the activation conversions of ref/vecdot_quant_ref.cpp (from_float_q8_0, _q8_1, _q8_K): the same
// operations per element (max of |x| that skips NaN, the first element reaching it for Q8_K, one f32
// multiply and a round-to-nearest-even per element, int8 by truncation of the int32), so the blocks
// are byte-identical to the scalar ones.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "rosetta/internal/vecdot.h"
#include "rosetta/vecdot.h"

namespace rosetta {
namespace {

const __m256 kAbs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));

// max |x[j]| over 32 * k elements; a NaN never wins (std::fmax / `ax > amax` skip it)
inline float amax_of(const float* x, int n) {
  __m256 m = _mm256_setzero_ps();
  for (int j = 0; j < n; j += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), kAbs), m);
  __m128 h = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
  h = _mm_max_ps(_mm_movehl_ps(h, h), h);
  h = _mm_max_ss(_mm_movehdup_ps(h), h);
  return _mm_cvtss_f32(h);
}

// 32 int8 = the low bytes of round(x[j] * s) (as (int8_t)(int) in the scalar code), clamped above at
// `hi` first when clamp is set.
inline __m256i q8_32(const float* x, __m256 s, bool clamp) {
  const __m256i lowBytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  __m256i b[4];
  for (int k = 0; k < 4; k++) {
    __m256 v = _mm256_round_ps(_mm256_mul_ps(s, _mm256_loadu_ps(x + 8 * k)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (clamp) v = _mm256_blendv_ps(v, _mm256_set1_ps(127.f), _mm256_cmp_ps(v, _mm256_set1_ps(127.f), _CMP_GT_OQ));
    b[k] = _mm256_shuffle_epi8(_mm256_cvttps_epi32(v), lowBytes);  // 4 bytes per 128-bit half
  }
  // gather dword 0 and 4 of each: element order 8k..8k+7
  const __m256i perm = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
  __m128i o[4];
  for (int k = 0; k < 4; k++) o[k] = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(b[k], perm));
  const __m128i lo = _mm_unpacklo_epi64(o[0], o[1]), hi = _mm_unpacklo_epi64(o[2], o[3]);
  return _mm256_setr_m128i(lo, hi);
}

}  // namespace

void avx2::from_float_q8_0(const float* x, void* vy, int64_t n) {
  block_q8_0* y = static_cast<block_q8_0*>(vy);
  for (int64_t b = 0; b < n / 32; b++) {
    const float* xb = x + 32 * b;
    const float amax = amax_of(xb, 32);
    y[b].d = fp32_to_fp16(amax / 127.f);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), q8_32(xb, _mm256_set1_ps(id), false));
  }
}

void avx2::from_float_q8_1(const float* x, void* vy, int64_t n) {
  block_q8_1* y = static_cast<block_q8_1*>(vy);
  for (int64_t b = 0; b < n / 32; b++) {
    const float* xb = x + 32 * b;
    const float amax = amax_of(xb, 32);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    const __m256i q = q8_32(xb, _mm256_set1_ps(id), false);
    __m256i s = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(q)), _mm256_set1_epi16(1));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(q, 1)), _mm256_set1_epi16(1)));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_unpackhi_epi64(h, h));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 1));
    const float d = amax / 127.f;
    y[b].d = fp32_to_fp16(d);
    y[b].s = fp32_to_fp16(d * (float)_mm_cvtsi128_si32(h));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), q);
  }
}

void avx2::from_float_q8_K(const float* x, void* vy, int64_t n) {
  block_q8_K* y = static_cast<block_q8_K*>(vy);
  for (int64_t b = 0; b < n / QK_K; b++) {
    const float* xb = x + QK_K * b;
    const float amax = amax_of(xb, QK_K);
    if (!(amax > 0.0f)) {  // all zeros (or NaN): the scalar code finds no element above 0
      std::memset(&y[b], 0, sizeof(block_q8_K));
      continue;
    }
    // the first element reaching the maximum, eight compares at a time
    int j = 0;
    for (int v = 0; v < QK_K; v += 8) {
      const int eq = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(xb + v), kAbs), _mm256_set1_ps(amax), _CMP_EQ_OQ));
      if (eq) {
        j = v + __builtin_ctz((unsigned)eq);
        break;
      }
    }
    const float iscale = -127.f / xb[j];
    const __m256 s = _mm256_set1_ps(iscale);
    for (int k = 0; k < QK_K / 32; k++) {
      const __m256i q = q8_32(xb + 32 * k, s, true);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + 32 * k), q);
      // bsums of the two groups of 16
      const __m256i w = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(q)), _mm256_set1_epi16(1));
      const __m256i v = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(q, 1)), _mm256_set1_epi16(1));
      __m128i sw = _mm_add_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
      __m128i sv = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      const __m128i h = _mm_hadd_epi32(_mm_hadd_epi32(sw, sv), _mm_setzero_si128());
      y[b].bsums[2 * k] = (int16_t)_mm_extract_epi32(h, 0);
      y[b].bsums[2 * k + 1] = (int16_t)_mm_extract_epi32(h, 1);
    }
    y[b].d = 1 / iscale;
  }
}

}  // namespace rosetta
