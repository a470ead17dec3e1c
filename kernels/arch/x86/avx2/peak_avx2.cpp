// The int8 peak loop of the AVX2 path (rosetta/peak.h): the AVX2 kernels' integer dot (vpmaddubsw,
// vpmaddwd, vpaddd) in 8 independent chains.
#include <immintrin.h>

#include "rosetta/peak.h"

namespace rosetta {
int64_t avx2::int8_peak_loop(int64_t iters) {
  // eight named accumulators kept in registers (an array with a "memory" clobber, the earlier form, was
  // stored and reloaded around every step); a is made opaque each round so the product is not hoisted
  __m256i c0 = _mm256_set1_epi32(0), c1 = _mm256_set1_epi32(1), c2 = _mm256_set1_epi32(2), c3 = _mm256_set1_epi32(3);
  __m256i c4 = _mm256_set1_epi32(4), c5 = _mm256_set1_epi32(5), c6 = _mm256_set1_epi32(6), c7 = _mm256_set1_epi32(7);
  __m256i a = _mm256_set1_epi8(3);
  const __m256i b = _mm256_set1_epi8(-5), one = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < iters; i++) {
#define ROSETTA_PEAK_STEP(c)        \
  __asm__ volatile("" : "+v"(a)); \
  c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), one))
    ROSETTA_PEAK_STEP(c0);
    ROSETTA_PEAK_STEP(c1);
    ROSETTA_PEAK_STEP(c2);
    ROSETTA_PEAK_STEP(c3);
    ROSETTA_PEAK_STEP(c4);
    ROSETTA_PEAK_STEP(c5);
    ROSETTA_PEAK_STEP(c6);
    ROSETTA_PEAK_STEP(c7);
#undef ROSETTA_PEAK_STEP
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));
  }
  __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                               _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
  alignas(32) int v[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), s);
  volatile unsigned sink = (unsigned)v[0] + (unsigned)v[7];  // unsigned: wraps (defined), no signed overflow
  (void)sink;
  return iters * 8 * 32;
}
}  // namespace rosetta
