// AVX2/FMA dot kernels: f32 with four 8-wide accumulators (the shape of ggml_vec_dot_f32), and f64
// with products widened before accumulation.
#include <immintrin.h>

#include "rosetta/matmul.h"

namespace rosetta {
namespace {

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline double hsum256d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

// Canonical ggml-mode order (see ref/matmul_ref.cpp).
inline float finish(__m256 s, __m256 t, const float* a, const float* b, int64_t i, int64_t n) {
  float r = hsum256(_mm256_add_ps(s, t));
  for (; i < n; i++) {
    const float p = a[i] * b[i];
    r = r + p;
  }
  return r;
}

float dot_f32_avx2(const float* a, const float* b, int64_t n) {
  __m256 s = _mm256_setzero_ps(), t = s;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s);
    t = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), t);
  }
  if (i + 8 <= n) {
    s = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s);
    i += 8;
  }
  return finish(s, t, a, b, i, n);
}

double dot_f64_avx2(const float* a, const float* b, int64_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 va = _mm256_loadu_ps(a + i), vb = _mm256_loadu_ps(b + i);
    s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(va)), _mm256_cvtps_pd(_mm256_castps256_ps128(vb)), s0);
    s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(va, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)), s1);
  }
  double s = hsum256d(_mm256_add_pd(s0, s1));
  for (; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

void dot4_f32_avx2(const float* w, int64_t ws, const float* x, int64_t n, float out[4]) {
  const float *w0 = w, *w1 = w + ws, *w2 = w + 2 * ws, *w3 = w + 3 * ws;
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  __m256 t0 = s0, t1 = s0, t2 = s0, t3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 xa = _mm256_loadu_ps(x + i), xb = _mm256_loadu_ps(x + i + 8);
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xa, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xa, s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xa, s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xa, s3);
    t0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i + 8), xb, t0);
    t1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i + 8), xb, t1);
    t2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i + 8), xb, t2);
    t3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i + 8), xb, t3);
  }
  if (i + 8 <= n) {
    const __m256 xa = _mm256_loadu_ps(x + i);
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xa, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xa, s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xa, s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xa, s3);
    i += 8;
  }
  out[0] = finish(s0, t0, w0, x, i, n);
  out[1] = finish(s1, t1, w1, x, i, n);
  out[2] = finish(s2, t2, w2, x, i, n);
  out[3] = finish(s3, t3, w3, x, i, n);
}

}  // namespace

const DotKernels& dot_kernels_avx2() {
  static const DotKernels k{dot_f32_avx2, dot_f64_avx2, dot4_f32_avx2};
  return k;
}

}  // namespace rosetta
