// AVX2 forms of ggml-mode ops of ops.cpp: ggml_v_expf / ggml_v_silu (the intrinsics ggml's haswell
// build runs, so each lane computes what ops.cpp's scalar v_expf, one lane at a time with std::fma,
// computes) and the attention kqv product in tinyBLAS order. All bit-identical to the scalar code.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace rosetta {
namespace {

inline __m256 v_expf8(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
  const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
  const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.f), n);
  const __m256 c = _mm256_cmp_ps(an, _mm256_set1_ps(126), _CMP_GT_OQ);
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
  const __m256 normal = _mm256_fmadd_ps(j, k, k);
  if (!_mm256_movemask_ps(c)) return normal;
  const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                     _mm256_set1_epi32((int)0x82000000u));
  const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
  const __m256 d = _mm256_cmp_ps(an, _mm256_set1_ps(192), _CMP_GT_OQ);
  const __m256 big = _mm256_blendv_ps(_mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1), _mm256_mul_ps(s1, s1), d);
  return _mm256_blendv_ps(normal, big, c);
}

}  // namespace

// y[i] = (g[i] / (1 + v_expf(0 - g[i]))) * u[i] for i < n (n a multiple of 8): ggml_vec_swiglu_f32's body.
void swiglu8_avx2(const float* g, const float* u, float* y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 x = _mm256_loadu_ps(g + i);
    const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, v_expf8(_mm256_sub_ps(zero, x))));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
  }
}

// p[j] = v_expf(p[j] - mx) over nBlocks blocks of 8 (ggml's soft_max), returning the f64 sum of each block's hsum8_ref
// ((v4 + v0) + (v6 + v2)) + ((v5 + v1) + (v7 + v3)), added in block order: ggml's soft_max sum.
double exp_blocks_avx2(float* p, int64_t nBlocks, float mx) {
  const __m256 m = _mm256_set1_ps(mx);
  double sum = 0;
  for (int64_t b = 0; b < nBlocks; b++) {
    const __m256 e = v_expf8(_mm256_sub_ps(_mm256_loadu_ps(p + 8 * b), m));
    _mm256_storeu_ps(p + 8 * b, e);
    const __m128 r = _mm_add_ps(_mm256_extractf128_ps(e, 1), _mm256_castps256_ps128(e));
    const __m128 h = _mm_add_ps(r, _mm_movehl_ps(r, r));
    sum += (double)_mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
  }
  return sum;
}

}  // namespace rosetta

namespace rosetta {

// kqv in tinyBLAS order (ops.cpp attend_row_ggml, a prompt batch): out[i] = hsum8 over lanes l of
// acc_l[i], acc_l[i] = fma(p[j], v[j * stride + i], acc_l[i]) for the keys j = l (mod 8), in key order.
// Eight outputs per register: each lane of acc[l] is one output's lane-l accumulator, so every output
// sees exactly the scalar sequence; the loads along i are contiguous instead of strided. d % 8 == 0.
void kqv_tiny_avx2(const float* p, const float* v, int64_t stride, int64_t nKeys, int64_t d, float* out) {
  for (int64_t i = 0; i < d; i += 8) {
    __m256 acc[8];
    for (int l = 0; l < 8; l++) acc[l] = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= nKeys; j += 8)
#pragma GCC unroll 8
      for (int l = 0; l < 8; l++)
        acc[l] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j + l), _mm256_loadu_ps(v + (j + l) * stride + i), acc[l]);
    for (; j < nKeys; j++) acc[j & 7] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(v + j * stride + i), acc[j & 7]);
    // hsum8_ref per output: ((a4 + a0) + (a6 + a2)) + ((a5 + a1) + (a7 + a3))
    const __m256 r0 = _mm256_add_ps(acc[4], acc[0]), r1 = _mm256_add_ps(acc[5], acc[1]);
    const __m256 r2 = _mm256_add_ps(acc[6], acc[2]), r3 = _mm256_add_ps(acc[7], acc[3]);
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_add_ps(r0, r2), _mm256_add_ps(r1, r3)));
  }
}

// RoPE's rotation of one head in ggml mode (ops.cpp rope: x0*c - x1*s with x0*c fused, x0*s + x1*c with
// x0*s fused), with the fma an instruction instead of a libm call: the same single rounding. c[i], s[i]:
// pair i's cos and sin as f32 (the token's cache, converted once for all its heads). NEOX pairs (element
// i with element i + nDims/2) are contiguous halves, so eight pairs go per register, each lane the scalar
// sequence; adjacent (NORM) pairs run one at a time.
void rope_rotate_fma(float* x, const float* c, const float* s, int64_t nDims, bool adjacent) {
  const int64_t half = nDims / 2;
  if (adjacent) {
    for (int64_t i = 0; i < half; i++) {
      const float x0 = x[2 * i], x1 = x[2 * i + 1];
      x[2 * i] = std::fma(x0, c[i], -(x1 * s[i]));
      x[2 * i + 1] = std::fma(x0, s[i], x1 * c[i]);
    }
    return;
  }
  float* lo = x;
  float* hi = x + half;
  int64_t i = 0;
  for (; i + 8 <= half; i += 8) {
    const __m256 x0 = _mm256_loadu_ps(lo + i), x1 = _mm256_loadu_ps(hi + i);
    const __m256 vc = _mm256_loadu_ps(c + i), vs = _mm256_loadu_ps(s + i);
    _mm256_storeu_ps(lo + i, _mm256_fmsub_ps(x0, vc, _mm256_mul_ps(x1, vs)));  // fma(x0, c, -(x1 * s))
    _mm256_storeu_ps(hi + i, _mm256_fmadd_ps(x0, vs, _mm256_mul_ps(x1, vc)));
  }
  for (; i < half; i++) {
    const float x0 = lo[i], x1 = hi[i];
    lo[i] = std::fma(x0, c[i], -(x1 * s[i]));
    hi[i] = std::fma(x0, s[i], x1 * c[i]);
  }
}

// The scores of one query row against nKeys cached keys, as ops.cpp attend_row_ggml computes them:
// p[j] = ggml_vec_dot_f32(k_j, q) * scale (four 8-lane fma accumulators over 32-element chunks, reduced
// as reduce32_ref, ggml's GGML_F32x8_REDUCE), inlined per key instead of a call through the dot table.
// d % 32 == 0 (no tail). Returns the largest score.
float kq_scores_avx2(const float* q, const float* k, int64_t stride, int64_t nKeys, int64_t d, float scale, float* p) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < nKeys; j++) {
    const float* kj = k + j * stride;
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < d; i += 32)
#pragma GCC unroll 4
      for (int g = 0; g < 4; g++) s[g] = _mm256_fmadd_ps(_mm256_loadu_ps(kj + i + 8 * g), _mm256_loadu_ps(q + i + 8 * g), s[g]);
    // x_l = (a0l + a2l) + (a1l + a3l); t = x_lo + x_hi; (t0 + t1) + (t2 + t3)
    const __m256 x = _mm256_add_ps(_mm256_add_ps(s[0], s[2]), _mm256_add_ps(s[1], s[3]));
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    const __m128 h = _mm_hadd_ps(t, t);
    p[j] = _mm_cvtss_f32(_mm_hadd_ps(h, h)) * scale;
    mx = p[j] > mx ? p[j] : mx;
  }
  return mx;
}

// kqv as ggml_vec_dot_f32 over the cells (ops.cpp attend_row_ggml, one query row: decode):
// out[i] = reduce32_ref(acc[g][l][i]), acc[g][l][i] = fma(p[j], v[j * stride + i], acc[g][l][i]) for the
// keys j with (j >> 3) & 3 == g and j & 7 == l, in key order. The 32 accumulators of every output live in
// a per-thread table (32 x d floats, in L1 for a head of 128), updated along v's contiguous row j, eight
// outputs per register: every output sees exactly the scalar sequence. d % 8 == 0.
void kqv_dot_avx2(const float* p, const float* v, int64_t stride, int64_t nKeys, int64_t d, float* out) {
  // slot rows d + 16 floats apart: 512-byte rows put slots s and s + 8 4 KB apart, where a load
  // falsely waits on the other's pending store (4K aliasing)
  const int64_t ld = d + 16;
  thread_local std::vector<float> table;
  if (table.size() < (size_t)(32 * ld)) table.resize((size_t)(32 * ld));
  float* acc = table.data();
  const __m256 zero = _mm256_setzero_ps();
  // keys 0..31 each start their own accumulator (slot j): fma onto +0, as the zeroed scalar one
  const int64_t first = nKeys < 32 ? nKeys : 32;
  for (int64_t j = 0; j < first; j++) {
    const float* vj = v + j * stride;
    const __m256 pj = _mm256_broadcast_ss(p + j);
    for (int64_t i = 0; i < d; i += 8) _mm256_storeu_ps(acc + j * ld + i, _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + i), zero));
  }
  for (int64_t s = first; s < 32; s++)  // slots no key reaches
    for (int64_t i = 0; i < d; i += 8) _mm256_storeu_ps(acc + s * ld + i, zero);
  for (int64_t j = first; j < nKeys; j++) {
    float* a = acc + (((j >> 3) & 3) * 8 + (j & 7)) * ld;
    const float* vj = v + j * stride;
    const __m256 pj = _mm256_broadcast_ss(p + j);
    for (int64_t i = 0; i < d; i += 8) _mm256_storeu_ps(a + i, _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + i), _mm256_loadu_ps(a + i)));
  }
  // reduce32_ref per output: x_l = (a0l + a2l) + (a1l + a3l); ((x0 + x4) + (x1 + x5)) + ((x2 + x6) + (x3 + x7))
  for (int64_t i = 0; i < d; i += 8) {
    __m256 x[8];
    for (int l = 0; l < 8; l++) {
      const auto at = [&](int g) { return _mm256_loadu_ps(acc + (g * 8 + l) * ld + i); };
      x[l] = _mm256_add_ps(_mm256_add_ps(at(0), at(2)), _mm256_add_ps(at(1), at(3)));
    }
    const __m256 t0 = _mm256_add_ps(x[0], x[4]), t1 = _mm256_add_ps(x[1], x[5]);
    const __m256 t2 = _mm256_add_ps(x[2], x[6]), t3 = _mm256_add_ps(x[3], x[7]);
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3)));
  }
}

}  // namespace rosetta
