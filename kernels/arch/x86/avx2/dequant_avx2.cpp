// AVX2 + F16C dequantizers (bodies in ../dequant_x86.inc, shared with the avx512 build).
#include <immintrin.h>

#include <cstring>

#include "rosetta/blocks.h"
#include "rosetta/internal/dequant.h"

namespace rosetta {
namespace avx2 {
#include "../dequant_x86.inc"
}  // namespace avx2
}  // namespace rosetta

namespace rosetta {
namespace avx2 {
// APR_Q4 (see ref::dequant_apr_q4): interleaving low/high nibbles restores element order.
void dequant_apr_q4(const void* src, float* y, int64_t n) {
  const block_q4_0* x = static_cast<const block_q4_0*>(src);
  const __m128i m4 = _mm_set1_epi8(0x0F), off = _mm_set1_epi8(8);
  for (int64_t i = 0; i < n / 32; ++i, y += 32) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs));
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(b, m4), off);
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), m4), off);
    const __m256 d = _mm256_set1_ps(fp16_to_fp32(x[i].d));
    x86::store16<x86::Op::Mul>(_mm_unpacklo_epi8(lo, hi), d, d, y);
    x86::store16<x86::Op::Mul>(_mm_unpackhi_epi8(lo, hi), d, d, y + 16);
  }
}
}  // namespace avx2
}  // namespace rosetta
