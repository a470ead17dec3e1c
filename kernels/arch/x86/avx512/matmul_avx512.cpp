// AVX-512 dot kernels: 16-wide f32 accumulators; f64 accumulation 8 wide.
#include <immintrin.h>

#include "rosetta/matmul.h"

namespace rosetta {
namespace {

float dot_f32_avx512(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
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
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    const __m512 xa = _mm512_maskz_loadu_ps(m, x + i);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w0 + i), xa, s0);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w1 + i), xa, s1);
    s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w2 + i), xa, s2);
    s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w3 + i), xa, s3);
  }
  out[0] = _mm512_reduce_add_ps(s0);
  out[1] = _mm512_reduce_add_ps(s1);
  out[2] = _mm512_reduce_add_ps(s2);
  out[3] = _mm512_reduce_add_ps(s3);
}

}  // namespace

const DotKernels& dot_kernels_avx512() {
  static const DotKernels k{dot_f32_avx512, dot_f64_avx512, dot4_f32_avx512};
  return k;
}

}  // namespace rosetta
