// The int8 peak loop of the AVX2 path (rosetta/peak.h): the AVX2 kernels' integer dot (vpmaddubsw,
// vpmaddwd, vpaddd) in 8 independent chains.
#include <immintrin.h>

#include "rosetta/peak.h"

namespace rosetta {
int64_t avx2::int8_peak_loop(int64_t iters) {
  __m256i acc[8];
  for (int k = 0; k < 8; k++) acc[k] = _mm256_set1_epi32(k);
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5), one = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), one));
    __asm__ volatile("" : : : "memory");
  }
  __m256i s = acc[0];
  for (int k = 1; k < 8; k++) s = _mm256_add_epi32(s, acc[k]);
  alignas(32) int v[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), s);
  volatile unsigned sink = (unsigned)v[0] + (unsigned)v[7];  // unsigned: wraps (defined), no signed overflow
  (void)sink;
  return iters * 8 * 32;
}
}  // namespace rosetta
