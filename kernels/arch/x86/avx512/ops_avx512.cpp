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
// Sixteen outputs starting at i (d % 16 == 0): hsum8_ref of their 8 key-lane accumulators, as below.
static inline __m512 kqv_hsum8(const __m512 acc[8]) {
  // hsum8_ref per output: ((a4 + a0) + (a6 + a2)) + ((a5 + a1) + (a7 + a3))
  const __m512 r0 = _mm512_add_ps(acc[4], acc[0]), r1 = _mm512_add_ps(acc[5], acc[1]);
  const __m512 r2 = _mm512_add_ps(acc[6], acc[2]), r3 = _mm512_add_ps(acc[7], acc[3]);
  return _mm512_add_ps(_mm512_add_ps(r0, r2), _mm512_add_ps(r1, r3));
}

void kqv_tiny_avx512(const float* p, const float* v, int64_t stride, int64_t nKeys, int64_t d, float* out) {
  int64_t i = 0;
  // 32 outputs a pass (16 accumulators): each p[j] broadcast once for both registers, and twice the
  // independent fmas per key (one register a pass: 3.2 cycles per fma, short of loads and chains)
  for (; i + 32 <= d; i += 32) {
    __m512 a[8], b[8];
#pragma GCC unroll 8
    for (int l = 0; l < 8; l++) a[l] = b[l] = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= nKeys; j += 8)
#pragma GCC unroll 8
      for (int l = 0; l < 8; l++) {
        const __m512 pj = _mm512_set1_ps(p[j + l]);
        const float* vj = v + (j + l) * stride + i;
        a[l] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj), a[l]);
        b[l] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj + 16), b[l]);
      }
    for (; j < nKeys; j++) {
      const __m512 pj = _mm512_set1_ps(p[j]);
      a[j & 7] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v + j * stride + i), a[j & 7]);
      b[j & 7] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v + j * stride + i + 16), b[j & 7]);
    }
    _mm512_storeu_ps(out + i, kqv_hsum8(a));
    _mm512_storeu_ps(out + i + 16, kqv_hsum8(b));
  }
  for (; i < d; i += 16) {
    __m512 acc[8];
#pragma GCC unroll 8
    for (int l = 0; l < 8; l++) acc[l] = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= nKeys; j += 8)
#pragma GCC unroll 8
      for (int l = 0; l < 8; l++)
        acc[l] = _mm512_fmadd_ps(_mm512_set1_ps(p[j + l]), _mm512_loadu_ps(v + (j + l) * stride + i), acc[l]);
    for (; j < nKeys; j++) acc[j & 7] = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_loadu_ps(v + j * stride + i), acc[j & 7]);
    _mm512_storeu_ps(out + i, kqv_hsum8(acc));
  }
}

// The scores of one query row (ggml_vec_dot_f32 per key times the scale): the AVX2 kernel's four 8-lane
// accumulators over 32-element chunks as two 16-lane ones (a01 = a0 | a1, a23 = a2 | a3, one load of 16
// consecutive elements each), reduced in reduce32_ref's order: (a0 + a2) | (a1 + a3), the halves added,
// then the 128-bit halves and two hadds. d % 32 == 0. Returns the largest score.
float kq_scores_avx512(const float* q, const float* k, int64_t stride, int64_t nKeys, int64_t d, float scale, float* p) {
  float mx = -INFINITY;
  int64_t j = 0;
  // four keys at a time: one load of q for four keys' fmas, and the four reductions share their shuffles
  // (each add below has the operands the one-key code gives it, so every score is the same float). One
  // key at a time ran ~30 cycles a key: its fma chains and reduction are one long dependency chain.
  for (; j + 4 <= nKeys; j += 4) {
    __m512 a01[4], a23[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) a01[u] = a23[u] = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 32) {
      const __m512 q0 = _mm512_loadu_ps(q + i), q1 = _mm512_loadu_ps(q + i + 16);
#pragma GCC unroll 4
      for (int u = 0; u < 4; u++) {
        const float* kj = k + (j + u) * stride + i;
        a01[u] = _mm512_fmadd_ps(_mm512_loadu_ps(kj), q0, a01[u]);
        a23[u] = _mm512_fmadd_ps(_mm512_loadu_ps(kj + 16), q1, a23[u]);
      }
    }
    __m512 s[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) s[u] = _mm512_add_ps(a01[u], a23[u]);
    // x = lo 256 + hi 256 of each key, two keys a register: [x0 | x1], [x2 | x3]
    const __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(s[0], s[1], _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(s[0], s[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(s[2], s[3], _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(s[2], s[3], _MM_SHUFFLE(3, 2, 3, 2)));
    // t = lo 128 + hi 128 of each x: key u's t in 128-bit block u
    const __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(3, 1, 3, 1)));
    // the two hadds: (t0 + t1) + (t2 + t3) in element 0 of each block
    const __m512 h = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m512 r = _mm512_add_ps(h, _mm512_permute_ps(h, _MM_SHUFFLE(1, 0, 3, 2)));
    const __m512 sc = _mm512_mul_ps(r, _mm512_set1_ps(scale));
    _mm_storeu_ps(p + j, _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), sc)));
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) mx = p[j + u] > mx ? p[j + u] : mx;
  }
  for (; j < nKeys; j++) {
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
