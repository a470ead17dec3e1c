// AVX-512 dot kernels: 16-wide f32 accumulators; f64 accumulation 8 wide.
#include <immintrin.h>

#include "rosetta/matmul.h"

namespace rosetta {
namespace {

// Canonical ggml-mode order (see ref/matmul_ref.cpp): one 16-lane accumulator holds the two 8-lane
// accumulators s (lanes 0-7) and t (lanes 8-15); the odd 8-element chunk goes to s only.
inline float finish512(__m512 st, const float* a, const float* b, int64_t i, int64_t n) {
  const __m256 u = _mm256_add_ps(_mm512_castps512_ps256(st), _mm512_extractf32x8_ps(st, 1));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float r = _mm_cvtss_f32(h);
  for (; i < n; i++) {
    const float p = a[i] * b[i];
    r = r + p;
  }
  return r;
}

inline __m512 chunk8(__m512 acc, const float* a, const float* b) {
  return _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(0x00FF, a), _mm512_maskz_loadu_ps(0x00FF, b), acc, 0x00FF);
}

float dot_f32_avx512(const float* a, const float* b, int64_t n) {
  __m512 st = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) st = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), st);
  if (i + 8 <= n) {
    st = chunk8(st, a + i, b + i);
    i += 8;
  }
  return finish512(st, a, b, i, n);
}

double dot_f64_avx512(const float* a, const float* b, int64_t n) {
  __m512d s0 = _mm512_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 va = _mm512_loadu_ps(a + i), vb = _mm512_loadu_ps(b + i);
    s0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(va)), _mm512_cvtps_pd(_mm512_castps512_ps256(vb)), s0);
    s1 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(va, 1)), _mm512_cvtps_pd(_mm512_extractf32x8_ps(vb, 1)), s1);
  }
  double s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  for (; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

void dot4_f32_avx512(const float* w, int64_t ws, const float* x, int64_t n, float out[4]) {
  const float *w0 = w, *w1 = w + ws, *w2 = w + 2 * ws, *w3 = w + 3 * ws;
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 xa = _mm512_loadu_ps(x + i);
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + i), xa, s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + i), xa, s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + i), xa, s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + i), xa, s3);
  }
  if (i + 8 <= n) {
    s0 = chunk8(s0, w0 + i, x + i);
    s1 = chunk8(s1, w1 + i, x + i);
    s2 = chunk8(s2, w2 + i, x + i);
    s3 = chunk8(s3, w3 + i, x + i);
    i += 8;
  }
  out[0] = finish512(s0, w0, x, i, n);
  out[1] = finish512(s1, w1, x, i, n);
  out[2] = finish512(s2, w2, x, i, n);
  out[3] = finish512(s3, w3, x, i, n);
}

}  // namespace

const DotKernels& dot_kernels_avx512() {
  static const DotKernels k{dot_f32_avx512, dot_f64_avx512, dot4_f32_avx512};
  return k;
}

}  // namespace rosetta
