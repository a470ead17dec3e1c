// AVX-512 forms of quantize_row_q8_K and quantize_row_q8_0 (ref/vecdot_quant_ref.cpp from_float_q8_K /
// _q8_0, avx2/vecdot_quant_avx2.cpp; a prompt's activations for every K-quant / Q8_0-family matmul): the
// same operations per element as the scalar code (max of |x| skipping NaN, for Q8_K the first element
// reaching it, one f32 multiply and a round-to-nearest-even, Q8_K's upper clamp at 127, int8 by
// truncation of the int32), so the blocks are byte-identical; 16 elements per instruction, vpmovdb for
// the truncation to bytes, one compare mask for the first maximum.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "rosetta/internal/vecdot.h"
#include "rosetta/vecdot.h"

// GCC 12's AVX-512 headers build their reductions and 256 <-> 512-bit casts on a self-initialised
// `_mm512_undefined_*()`, which -Wmaybe-uninitialized reports wherever they are inlined (as in
// vecdot_avx512.cpp); no undefined lane is read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace rosetta {

void avx512::from_float_q8_K(const float* x, void* vy, int64_t n) {
  block_q8_K* y = static_cast<block_q8_K*>(vy);
  const __m512 abs = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  constexpr int kVecs = QK_K / 16;
  for (int64_t b = 0; b < n / QK_K; b++) {
    const float* xb = x + QK_K * b;
    // max |x|: a NaN never wins (maxps returns its second operand, the running max, when one is NaN)
    __m512 m = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int v = 0; v < kVecs; v++) m = _mm512_max_ps(_mm512_and_ps(_mm512_loadu_ps(xb + 16 * v), abs), m);
    const float amax = _mm512_reduce_max_ps(m);
    if (!(amax > 0.0f)) {  // all zeros (or NaN): the scalar code finds no element above 0
      std::memset(&y[b], 0, sizeof(block_q8_K));
      continue;
    }
    // the first element reaching the maximum (the scalar loop keeps the first strictly larger one)
    int j = 0;
    for (int v = 0; v < kVecs; v++) {
      const __mmask16 eq = _mm512_cmp_ps_mask(_mm512_and_ps(_mm512_loadu_ps(xb + 16 * v), abs), _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (eq) {
        j = 16 * v + __builtin_ctz((unsigned)eq);
        break;
      }
    }
    const float iscale = -127.f / xb[j];
    const __m512 s = _mm512_set1_ps(iscale), hi = _mm512_set1_ps(127.f);
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; v++) {
      __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(s, _mm512_loadu_ps(xb + 16 * v)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      r = _mm512_min_ps(hi, r);  // r > 127 ? 127 : r, a NaN kept (minps returns its second operand)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16 * v), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(r)));  // the low bytes
    }
    // bsums, the stored int8 summed per 16: vpdpbusd against ones gives each 4 bytes' sum (int32 lane l of
    // register z: bytes 64z + 4l..+3, so 128-bit block b of z is group 4z + b); two rounds of a
    // saturating pack (the sums fit 16 bits) and a pairwise vpmaddwd leave group 4z + b in lane 4b + z
    const __m512i ones8 = _mm512_set1_epi8(1), ones16 = _mm512_set1_epi16(1);
    __m512i p[4];
#pragma GCC unroll 4
    for (int z = 0; z < 4; z++) p[z] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones8, _mm512_loadu_si512(y[b].qs + 64 * z));
    const __m512i m01 = _mm512_madd_epi16(_mm512_packs_epi32(p[0], p[1]), ones16);
    const __m512i m23 = _mm512_madd_epi16(_mm512_packs_epi32(p[2], p[3]), ones16);
    const __m512i g = _mm512_madd_epi16(_mm512_packs_epi32(m01, m23), ones16);
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].bsums), _mm512_cvtepi32_epi16(_mm512_permutexvar_epi32(order, g)));
    y[b].d = 1 / iscale;
  }
}

void avx512::from_float_q8_0(const float* x, void* vy, int64_t n) {
  block_q8_0* y = static_cast<block_q8_0*>(vy);
  const __m512 abs = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < n / 32; b++) {
    const float* xb = x + 32 * b;
    const __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
    // max |x| skipping NaN (the running max is maxps' second operand)
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(x1, abs), _mm512_max_ps(_mm512_and_ps(x0, abs), _mm512_setzero_ps())));
    y[b].d = fp32_to_fp16(amax / 127.f);
    const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
    const __m512i q0 = _mm512_cvttps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(id, x0), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m512i q1 = _mm512_cvttps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(id, x1), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16), _mm512_cvtepi32_epi8(q1));
  }
}

}  // namespace rosetta
