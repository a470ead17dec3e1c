// Four capture summaries at once: stats_f32 (kernels/reduce.cpp) of four equal-length slices, one per
// f64 lane. Each lane computes exactly stats_f32's values in its order: the same compensated (Neumaier)
// sums (each compensation term is the exact rounding error, see Neumaier4), the same compares for min/max/absmax, the same
// skipping of NaN/Inf (a masked lane keeps its state), and the same scalar tail. So every summary is
// stats_f32's, bit for bit; four independent chains just share one instruction stream. The capture
// recorder batches a layer's summaries, most of which come in groups of equal length.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "rosetta/reduce.h"

namespace rosetta {
namespace {

// stats_f32's Neumaier sums. Its compensation step, (s - t) + x or (x - t) + s whichever operand is
// larger, is Dekker's FastTwoSum: the exact rounding error of t = s + x, a representable number. Knuth's
// branch-free TwoSum computes the same exact error, so it is the same double (never -0: c starts at +0
// and round-to-nearest never turns a sum into -0 unless both operands are), with fewer instructions
// and no per-lane select.
struct Neumaier4 {
  __m256d s = _mm256_setzero_pd(), c = _mm256_setzero_pd();
  static __m256d two_sum_err(__m256d s, __m256d x, __m256d t) {
    const __m256d bp = _mm256_sub_pd(t, s), ap = _mm256_sub_pd(t, bp);
    return _mm256_add_pd(_mm256_sub_pd(s, ap), _mm256_sub_pd(x, bp));
  }
  // sum.add(x) in the lanes where `on` is set
  void add(__m256d x, __m256d on) {
    const __m256d t = _mm256_add_pd(s, x);
    c = _mm256_blendv_pd(c, _mm256_add_pd(c, two_sum_err(s, x, t)), on);
    s = _mm256_blendv_pd(s, t, on);
  }
  // sum.add(x) in every lane
  void add(__m256d x) {
    const __m256d t = _mm256_add_pd(s, x);
    c = _mm256_add_pd(c, two_sum_err(s, x, t));
    s = t;
  }
};

// Element i of the four slices as doubles.
inline __m256d load4(const float* const* x, int64_t i) {
  return _mm256_cvtps_pd(_mm_setr_ps(x[0][i], x[1][i], x[2][i], x[3][i]));
}

// Pass 1 over x[l][i0..i1) for the four slices; `Masked` handles NaN/Inf (a block with none skips the
// masks: the same values either way, a third fewer instructions).
struct Pass1 {
  __m256i nan = _mm256_setzero_si256(), infs = nan, zeros = nan, finite = nan;
  __m256d mn = _mm256_set1_pd(std::numeric_limits<double>::infinity());
  __m256d mx = _mm256_set1_pd(-std::numeric_limits<double>::infinity());
  __m256d amax = _mm256_setzero_pd();
  Neumaier4 sum, sq;

  template <bool Masked>
  void step(__m256d d) {
    const __m256d abs = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d zero = _mm256_setzero_pd();
    const __m256d ad = _mm256_and_pd(d, abs);
    __m256d fin = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    if (Masked) {
      const __m256d inf = _mm256_set1_pd(std::numeric_limits<double>::infinity());
      const __m256d isNan = _mm256_cmp_pd(d, d, _CMP_UNORD_Q);
      const __m256d isInf = _mm256_cmp_pd(ad, inf, _CMP_EQ_OQ);
      fin = _mm256_andnot_pd(_mm256_or_pd(isNan, isInf), fin);
      nan = _mm256_sub_epi64(nan, _mm256_castpd_si256(isNan));
      infs = _mm256_sub_epi64(infs, _mm256_castpd_si256(isInf));
      finite = _mm256_sub_epi64(finite, _mm256_castpd_si256(fin));
    }
    const __m256d isZero = _mm256_cmp_pd(d, zero, _CMP_EQ_OQ);
    zeros = _mm256_sub_epi64(zeros, _mm256_castpd_si256(Masked ? _mm256_and_pd(fin, isZero) : isZero));
    const __m256d lt = _mm256_cmp_pd(d, mn, _CMP_LT_OQ), gt = _mm256_cmp_pd(d, mx, _CMP_GT_OQ);
    const __m256d agt = _mm256_cmp_pd(ad, amax, _CMP_GT_OQ);
    mn = _mm256_blendv_pd(mn, d, Masked ? _mm256_and_pd(fin, lt) : lt);
    mx = _mm256_blendv_pd(mx, d, Masked ? _mm256_and_pd(fin, gt) : gt);
    amax = _mm256_blendv_pd(amax, ad, Masked ? _mm256_and_pd(fin, agt) : agt);
    if (Masked) {
      sum.add(d, fin);
      sq.add(_mm256_mul_pd(d, d), fin);
    } else {
      sum.add(d);
      sq.add(_mm256_mul_pd(d, d));
    }
  }
};

// Four consecutive elements of each slice, transposed: out[k] = element i + k of slices 0..3.
inline void load4x4(const float* const* x, int64_t i, __m128 out[4]) {
  __m128 r0 = _mm_loadu_ps(x[0] + i), r1 = _mm_loadu_ps(x[1] + i), r2 = _mm_loadu_ps(x[2] + i), r3 = _mm_loadu_ps(x[3] + i);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  out[0] = r0, out[1] = r1, out[2] = r2, out[3] = r3;
}

inline bool all_finite(const __m128 r[4]) {
  const __m128 abs = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff)), inf = _mm_set1_ps(std::numeric_limits<float>::infinity());
  __m128 ok = _mm_cmplt_ps(_mm_and_ps(r[0], abs), inf);  // false for NaN and Inf
  for (int k = 1; k < 4; k++) ok = _mm_and_ps(ok, _mm_cmplt_ps(_mm_and_ps(r[k], abs), inf));
  return _mm_movemask_ps(ok) == 15;
}

}  // namespace

void stats_f32_x4(const float* const* x, int64_t n, Stats* out) {
  const __m256d inf = _mm256_set1_pd(std::numeric_limits<double>::infinity());
  const __m256d abs = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  Pass1 p1;
  int64_t i = 0, unmaskedSteps = 0;
  for (; i + 4 <= n; i += 4) {
    __m128 r[4];
    load4x4(x, i, r);
    if (all_finite(r)) {
      for (int k = 0; k < 4; k++) p1.step<false>(_mm256_cvtps_pd(r[k]));
      unmaskedSteps += 4;
    } else {
      for (int k = 0; k < 4; k++) p1.step<true>(_mm256_cvtps_pd(r[k]));
    }
  }
  for (; i < n; i++) p1.step<true>(load4(x, i));
  p1.finite = _mm256_add_epi64(p1.finite, _mm256_set1_epi64x(unmaskedSteps));
  const __m256i nan = p1.nan, infs = p1.infs, zeros = p1.zeros, finite = p1.finite;
  const __m256d mn = p1.mn, mx = p1.mx, amax = p1.amax;
  const Neumaier4 &sum = p1.sum, &sq = p1.sq;
  alignas(32) int64_t cNan[4], cInf[4], cZero[4], cFin[4];
  alignas(32) double vMn[4], vMx[4], vAmax[4], sS[4], sC[4], qS[4], qC[4], mean[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(cNan), nan);
  _mm256_store_si256(reinterpret_cast<__m256i*>(cInf), infs);
  _mm256_store_si256(reinterpret_cast<__m256i*>(cZero), zeros);
  _mm256_store_si256(reinterpret_cast<__m256i*>(cFin), finite);
  _mm256_store_pd(vMn, mn);
  _mm256_store_pd(vMx, mx);
  _mm256_store_pd(vAmax, amax);
  _mm256_store_pd(sS, sum.s);
  _mm256_store_pd(sC, sum.c);
  _mm256_store_pd(qS, sq.s);
  _mm256_store_pd(qC, sq.c);
  for (int l = 0; l < 4; l++) {
    Stats& st = out[l];
    st = Stats{};
    st.min = st.max = std::numeric_limits<double>::quiet_NaN();
    if (n <= 0) continue;
    st.count = (uint64_t)n;
    st.nan = (uint64_t)cNan[l];
    st.inf = (uint64_t)cInf[l];
    st.zeros = (uint64_t)cZero[l];
    mean[l] = cFin[l] ? (sS[l] + sC[l]) / (double)cFin[l] : 0.0;
  }
  // second pass: deviations from each lane's mean, lanes without finite values stay idle
  const __m256d mu = _mm256_load_pd(mean);
  Neumaier4 dev, dev2;
  auto step2 = [&](__m256d v, bool masked) {
    const __m256d d = _mm256_sub_pd(v, mu);
    if (!masked) {
      dev.add(d);
      dev2.add(_mm256_mul_pd(d, d));
      return;
    }
    const __m256d fin = _mm256_cmp_pd(_mm256_and_pd(v, abs), inf, _CMP_LT_OQ);  // false for NaN and Inf
    dev.add(d, fin);
    dev2.add(_mm256_mul_pd(d, d), fin);
  };
  for (i = 0; i + 4 <= n; i += 4) {
    __m128 r[4];
    load4x4(x, i, r);
    const bool masked = !all_finite(r);
    for (int k = 0; k < 4; k++) step2(_mm256_cvtps_pd(r[k]), masked);
  }
  for (; i < n; i++) step2(load4(x, i), true);
  alignas(32) double dS[4], dC[4], d2S[4], d2C[4];
  _mm256_store_pd(dS, dev.s);
  _mm256_store_pd(dC, dev.c);
  _mm256_store_pd(d2S, dev2.s);
  _mm256_store_pd(d2C, dev2.c);
  for (int l = 0; l < 4; l++) {
    Stats& st = out[l];
    if (n <= 0 || cFin[l] == 0) continue;
    const double nf = (double)cFin[l];
    st.mean = mean[l];
    const double s1 = dS[l] + dC[l];
    const double var = ((d2S[l] + d2C[l]) - s1 * s1 / nf) / nf;
    st.std = var > 0 ? std::sqrt(var) : 0.0;
    st.min = vMn[l];
    st.max = vMx[l];
    st.absmax = vAmax[l];
    st.l2 = std::sqrt(qS[l] + qC[l]);
  }
}

}  // namespace rosetta
