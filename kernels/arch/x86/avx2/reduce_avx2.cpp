// stats_chunk (kernels/reduce.cpp) with AVX2: sixteen elements per step, the 16 lanes of each sum as
// four 4-wide f64 accumulators (lanes 0-3, 4-7, 8-11, 12-15), so every lane adds the same values in the
// same order as the reference; counts and min/max/absmax are order-free (min/max in the total order
// -0 < +0, through integer keys). From the first step with a NaN or Inf (rare), and for the tail, the
// reference loop itself finishes the chunk, with the lanes handed over.
#include <immintrin.h>

#include <climits>
#include <cmath>
#include <cstring>

#include "rosetta/reduce.h"

namespace rosetta {
namespace {

// float bits -> int32 whose signed order is the total order of the floats (-0 < +0); an involution
inline __m256i order_key(__m256i bits) {
  return _mm256_xor_si256(bits, _mm256_and_si256(_mm256_srai_epi32(bits, 31), _mm256_set1_epi32(0x7fffffff)));
}

inline float key_to_float(int32_t k) {
  const int32_t b = k ^ ((k >> 31) & 0x7fffffff);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

inline int32_t hmin(__m256i v) {
  alignas(32) int32_t a[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(a), v);
  int32_t m = a[0];
  for (int i = 1; i < 8; i++) m = a[i] < m ? a[i] : m;
  return m;
}

inline int32_t hmax(__m256i v) {
  alignas(32) int32_t a[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(a), v);
  int32_t m = a[0];
  for (int i = 1; i < 8; i++) m = a[i] > m ? a[i] : m;
  return m;
}

}  // namespace

StatsChunk stats_chunk_avx2(const float* x, int64_t n) {
  StatsChunk c = stats_chunk_begin(x, n, 1);
  alignas(32) double lanes[48] = {};
  __m256d s1[4], s2[4], s3[4];
  for (int k = 0; k < 4; k++) s1[k] = s2[k] = s3[k] = _mm256_setzero_pd();
  const __m256d shift = _mm256_set1_pd(c.shift);
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 inf = _mm256_set1_ps(INFINITY);
  __m256i kmin = _mm256_set1_epi32(INT_MAX), kmax = _mm256_set1_epi32(INT_MIN), zeros = _mm256_setzero_si256();
  __m256 amax = _mm256_setzero_ps();
  const int64_t n16 = n & ~int64_t(15);
  // pass 1, in f32: counts, min/max/absmax, and how far the chunk is free of NaN/Inf
  int64_t i = 0;
  for (; i < n16; i += 16) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    const __m256 a0 = _mm256_and_ps(v0, absMask), a1 = _mm256_and_ps(v1, absMask);
    const __m256 fin = _mm256_and_ps(_mm256_cmp_ps(a0, inf, _CMP_LT_OQ), _mm256_cmp_ps(a1, inf, _CMP_LT_OQ));
    if (_mm256_movemask_ps(fin) != 0xff) break;  // a NaN or Inf: the reference finishes the chunk
    amax = _mm256_max_ps(amax, _mm256_max_ps(a0, a1));
    const __m256i k0 = order_key(_mm256_castps_si256(v0)), k1 = order_key(_mm256_castps_si256(v1));
    kmin = _mm256_min_epi32(kmin, _mm256_min_epi32(k0, k1));
    kmax = _mm256_max_epi32(kmax, _mm256_max_epi32(k0, k1));
    const __m256 z0 = _mm256_cmp_ps(v0, _mm256_setzero_ps(), _CMP_EQ_OQ), z1 = _mm256_cmp_ps(v1, _mm256_setzero_ps(), _CMP_EQ_OQ);
    zeros = _mm256_sub_epi32(zeros, _mm256_add_epi32(_mm256_castps_si256(z0), _mm256_castps_si256(z1)));
  }
  // pass 2, in f64 over the same (cached) elements: the 16 lanes of the three sums in registers
  for (int64_t j = 0; j < i; j += 16) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      const __m256 v = _mm256_loadu_ps(x + j + 8 * h);
      const __m256d e[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))};
#pragma GCC unroll 2
      for (int q = 0; q < 2; q++) {
        const int k = 2 * h + q;
        const __m256d d = _mm256_sub_pd(e[q], shift);
        s1[k] = _mm256_add_pd(s1[k], d);
        s2[k] = _mm256_fmadd_pd(d, d, s2[k]);
        s3[k] = _mm256_fmadd_pd(e[q], e[q], s3[k]);
      }
    }
  }
  const uint64_t fast = (uint64_t)i;
  for (int k = 0; k < 4; k++) {
    _mm256_store_pd(lanes + 4 * k, s1[k]);
    _mm256_store_pd(lanes + 16 + 4 * k, s2[k]);
    _mm256_store_pd(lanes + 32 + 4 * k, s3[k]);
  }
  stats_chunk_run(x, i, n, 1, c, lanes);
  if (fast) {
    alignas(32) int32_t z[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(z), zeros);
    for (int i = 0; i < 8; i++) c.zeros += (uint32_t)z[i];
    c.finite += fast;
    const float mn = key_to_float(hmin(kmin)), mx = key_to_float(hmax(kmax));
    if (mn < c.mn || (mn == c.mn && std::signbit(mn))) c.mn = mn;
    if (mx > c.mx || (mx == c.mx && !std::signbit(mx))) c.mx = mx;
    alignas(32) float am[8];
    _mm256_store_ps(am, amax);
    for (int i = 0; i < 8; i++) c.amax = am[i] > c.amax ? am[i] : c.amax;
  }
  stats_chunk_end(c, lanes);
  return c;
}

}  // namespace rosetta
