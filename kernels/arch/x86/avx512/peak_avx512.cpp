// The int8 peak loop of the AVX-512 path (rosetta/peak.h): 12 independent vpdpbusd chains.
#include <immintrin.h>

#include "rosetta/peak.h"

namespace rosetta {
int64_t avx512::int8_peak_loop(int64_t iters) {
  // twelve named accumulators, each kept in its register: the loop is the instruction alone. (An array
  // with a "memory" clobber after each round, the earlier form, made the compiler store and reload every
  // accumulator around its vpdpbusd, which halved the measured rate: 113 instead of 230 GMAC/s on one
  // Zen 4 core.)
  __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2), c3 = _mm512_set1_epi32(3);
  __m512i c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5), c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7);
  __m512i c8 = _mm512_set1_epi32(8), c9 = _mm512_set1_epi32(9), c10 = _mm512_set1_epi32(10), c11 = _mm512_set1_epi32(11);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  for (int64_t i = 0; i < iters; i++) {
#define ROSETTA_PEAK_STEP(c) c = _mm512_dpbusd_epi32(c, a, b)
    ROSETTA_PEAK_STEP(c0), ROSETTA_PEAK_STEP(c1), ROSETTA_PEAK_STEP(c2), ROSETTA_PEAK_STEP(c3);
    ROSETTA_PEAK_STEP(c4), ROSETTA_PEAK_STEP(c5), ROSETTA_PEAK_STEP(c6), ROSETTA_PEAK_STEP(c7);
    ROSETTA_PEAK_STEP(c8), ROSETTA_PEAK_STEP(c9), ROSETTA_PEAK_STEP(c10), ROSETTA_PEAK_STEP(c11);
#undef ROSETTA_PEAK_STEP
    // the accumulators are live and opaque here, so the loop is neither folded nor vectorized away
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5));
    __asm__ volatile("" : "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11));
  }
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                               _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  alignas(64) int v[16];
  _mm512_store_si512(v, s);
  volatile unsigned sink = (unsigned)v[0] + (unsigned)v[15];  // unsigned: wraps (defined), no signed overflow
  (void)sink;
  return iters * 12 * 64;
}
}  // namespace rosetta
