// AVX-512 forms of two attention loops of ops.cpp (attend_row_ggml), 16 lanes per instruction where the
// AVX2 forms (avx2/ops_avx2.cpp) take 8: each output or score sees exactly the operations of the scalar
// code in the same order, so the three paths agree bit for bit (tests/kernels/matmul.test.ts, the
// random attention shapes; tests/kernels/isa-paths.test.ts).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

// GCC 12's AVX-512 headers build 256 <-> 512-bit casts on a self-initialised `_mm512_undefined_*()`, which
// -Wmaybe-uninitialized reports wherever they are inlined (as in vecdot_avx512.cpp); no undefined lane is read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace rosetta {

// kqv in tinyBLAS order (a prompt batch): out[i] = hsum8 over lanes l of acc_l[i], acc_l[i] =
// fma(p[j], v[j * stride + i], acc_l[i]) for the keys j = l (mod 8), in key order; sixteen outputs per
// register, p[j] an embedded broadcast. d % 16 == 0.
void kqv_tiny_avx512(const float* p, const float* v, int64_t stride, int64_t nKeys, int64_t d, float* out) {
  for (int64_t i = 0; i < d; i += 16) {
    __m512 acc[8];
#pragma GCC unroll 8
    for (int l = 0; l < 8; l++) acc[l] = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= nKeys; j += 8)
#pragma GCC unroll 8
      for (int l = 0; l < 8; l++)
        acc[l] = _mm512_fmadd_ps(_mm512_set1_ps(p[j + l]), _mm512_loadu_ps(v + (j + l) * stride + i), acc[l]);
    for (; j < nKeys; j++) acc[j & 7] = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_loadu_ps(v + j * stride + i), acc[j & 7]);
    // hsum8_ref per output: ((a4 + a0) + (a6 + a2)) + ((a5 + a1) + (a7 + a3))
    const __m512 r0 = _mm512_add_ps(acc[4], acc[0]), r1 = _mm512_add_ps(acc[5], acc[1]);
    const __m512 r2 = _mm512_add_ps(acc[6], acc[2]), r3 = _mm512_add_ps(acc[7], acc[3]);
    _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_add_ps(r0, r2), _mm512_add_ps(r1, r3)));
  }
}

// The scores of one query row (ggml_vec_dot_f32 per key times the scale): the AVX2 kernel's four 8-lane
// accumulators over 32-element chunks as two 16-lane ones (a01 = a0 | a1, a23 = a2 | a3, one load of 16
// consecutive elements each), reduced in reduce32_ref's order: (a0 + a2) | (a1 + a3), the halves added,
// then the 128-bit halves and two hadds. d % 32 == 0. Returns the largest score.
float kq_scores_avx512(const float* q, const float* k, int64_t stride, int64_t nKeys, int64_t d, float scale, float* p) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < nKeys; j++) {
    const float* kj = k + j * stride;
    __m512 a01 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 32) {
      a01 = _mm512_fmadd_ps(_mm512_loadu_ps(kj + i), _mm512_loadu_ps(q + i), a01);
      a23 = _mm512_fmadd_ps(_mm512_loadu_ps(kj + i + 16), _mm512_loadu_ps(q + i + 16), a23);
    }
    const __m512 s = _mm512_add_ps(a01, a23);  // lanes 0-7: a0 + a2, 8-15: a1 + a3
    const __m256 x = _mm256_add_ps(_mm512_castps512_ps256(s), _mm512_extractf32x8_ps(s, 1));
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    const __m128 h = _mm_hadd_ps(t, t);
    p[j] = _mm_cvtss_f32(_mm_hadd_ps(h, h)) * scale;
    mx = p[j] > mx ? p[j] : mx;
  }
  return mx;
}

}  // namespace rosetta
