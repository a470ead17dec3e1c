// The int8 peak loop of the AVX-512 path (rosetta/peak.h): 12 independent vpdpbusd chains.
#include <immintrin.h>

#include "rosetta/peak.h"

namespace rosetta {
int64_t avx512::int8_peak_loop(int64_t iters) {
  __m512i acc[12];
  for (int k = 0; k < 12; k++) acc[k] = _mm512_set1_epi32(k);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; k++) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
    __asm__ volatile("" : : : "memory");
  }
  __m512i s = acc[0];
  for (int k = 1; k < 12; k++) s = _mm512_add_epi32(s, acc[k]);
  alignas(64) int v[16];
  _mm512_store_si512(v, s);
  volatile unsigned sink = (unsigned)v[0] + (unsigned)v[15];  // unsigned: wraps (defined), no signed overflow
  (void)sink;
  return iters * 12 * 64;
}
}  // namespace rosetta
