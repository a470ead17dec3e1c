// AVX2/FMA/F16C llama.cpp-exact dot products (rosetta/vecdot.h). The lane layout of every accumulator,
// the integer partial sums and the reduction order are those of the scalar reference
// (ref/vecdot_ref.cpp), which the tests hold these kernels to bit for bit.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "rosetta/internal/vecdot.h"
#include "rosetta/types.h"
#include "rosetta/vecdot.h"
#include "vecdot_avx2_lanes.h"

namespace rosetta {
namespace {
using namespace avx2;

template <typename B>
float dot_q0(int64_t n, const void* vw, const void* va) {
  const B* w = static_cast<const B*>(vw);
  const block_q8_0* a = static_cast<const block_q8_0*>(va);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; b++) {
    const __m256 d = _mm256_set1_ps(half_to_f32(w[b].d) * half_to_f32(a[b].d));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    acc = _mm256_fmadd_ps(d, lane_dot_i8(load_w(w[b]), qy), acc);
  }
  return hsum8(acc);
}

// ggml_vec_dot_iq4_nl_q8_0: even and odd blocks of each pair into two accumulators, hsum8 of their sum,
// an odd last block's integer sum fma'd into the scalar (the reference's order, ref/vecdot_ref.cpp).
float dot_iq4_nl(int64_t n, const void* vw, const void* va) {
  const block_iq4_nl* w = static_cast<const block_iq4_nl*>(vw);
  const block_q8_0* a = static_cast<const block_q8_0*>(va);
  const int64_t nb = n / 32;
  __m256 acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 1 < nb; b += 2) {
    _mm_prefetch(reinterpret_cast<const char*>(w + b) + kPrefetch, _MM_HINT_T1);
    const __m256 d1 = _mm256_set1_ps(half_to_f32(w[b].d) * half_to_f32(a[b].d));
    const __m256 d2 = _mm256_set1_ps(half_to_f32(w[b + 1].d) * half_to_f32(a[b + 1].d));
    const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i y2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b + 1].qs));
    acc1 = _mm256_fmadd_ps(d1, lane_dot_i8(load_w(w[b]), y1), acc1);
    acc2 = _mm256_fmadd_ps(d2, lane_dot_i8(load_w(w[b + 1]), y2), acc2);
  }
  float sum = hsum8(_mm256_add_ps(acc1, acc2));
  if (b < nb) {
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i x = load_w(w[b]);
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    __m256i p = _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
    __m128i q = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    q = _mm_add_epi32(q, _mm_unpackhi_epi64(q, q));
    q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 1));
    sum = std::fma(half_to_f32(w[b].d) * half_to_f32(a[b].d), (float)_mm_cvtsi128_si32(q), sum);
  }
  return sum;
}

// Q4_1 / Q5_1 x Q8_1: unsigned quants (maddubs directly), the min term m * s in a scalar f32 fma.
inline __m256i load_w1(const block_q4_1& b) { return nibbles32(b.qs); }
inline __m256i load_w1(const block_q5_1& b) {
  const __m256i has = high_bits32(b.qh);
  return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(has, _mm256_set1_epi8(0x10)));
}

template <typename B>
float dot_q1(int64_t n, const void* vw, const void* va) {
  const B* w = static_cast<const B*>(vw);
  const block_q8_1* a = static_cast<const block_q8_1*>(va);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int64_t b = 0; b < n / 32; b++) {
    summs = std::fma(half_to_f32(w[b].m), half_to_f32(a[b].s), summs);
    const __m256 d = _mm256_set1_ps(half_to_f32(w[b].d) * half_to_f32(a[b].d));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i p16 = _mm256_maddubs_epi16(load_w1(w[b]), qy);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1))), acc);
  }
  return hsum8(acc) + summs;
}

float dot_q4_K(int64_t n, const void* vw, const void* va) {
  const block_q4_K* w = static_cast<const block_q4_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256 acc = _mm256_setzero_ps();
  __m128 accm = _mm_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * half_to_f32(w[i].d);
    const float dmin = -a[i].d * half_to_f32(w[i].dmin);
    uint8_t sc[8], mn[8];
    q4k_scales(w[i].scales, sc, mn);
    uint64_t mn64;
    std::memcpy(&mn64, mn, 8);
    const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn64));
    accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(qk45_min_lanes(mins, a[i].bsums)), accm);
    __m256i sumi = _mm256_setzero_si256();
    const uint8_t* q4 = w[i].qs;
    const int8_t* q8 = a[i].qs;
    for (int j = 0; j < 4; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q4 + 32 * j));
      const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      const __m256i yl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * j));
      const __m256i yh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * j + 32));
      const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, yl), _mm256_set1_epi16(sc[2 * j]));
      const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yh), _mm256_set1_epi16(sc[2 * j + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  accm = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
  accm = _mm_add_ss(accm, _mm_movehdup_ps(accm));
  return hsum8(acc) + _mm_cvtss_f32(accm);
}

float dot_q5_K(int64_t n, const void* vw, const void* va) {
  const block_q5_K* w = static_cast<const block_q5_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * half_to_f32(w[i].d);
    const float dmin = -a[i].d * half_to_f32(w[i].dmin);
    uint8_t sc[8], mn[8];
    q4k_scales(w[i].scales, sc, mn);
    uint64_t mn64;
    std::memcpy(&mn64, mn, 8);
    const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn64));
    __m128i pm = qk45_min_lanes(mins, a[i].bsums);
    pm = _mm_add_epi32(pm, _mm_unpackhi_epi64(pm, pm));
    pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 1));
    summs = std::fma(dmin, (float)_mm_cvtsi128_si32(pm), summs);
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh));
    __m256i sumi = _mm256_setzero_si256();
    const uint8_t* q5 = w[i].qs;
    const int8_t* q8 = a[i].qs;
    for (int j = 0; j < 4; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q5 + 32 * j));
      const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j), one), 4);
      const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j + 1), one), 4);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h0);
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h1);
      const __m256i yl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * j));
      const __m256i yh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 64 * j + 32));
      const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, yl), _mm256_set1_epi16(sc[2 * j]));
      const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yh), _mm256_set1_epi16(sc[2 * j + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc) + summs;
}

float dot_q2_K(int64_t n, const void* vw, const void* va) {
  const block_q2_K* w = static_cast<const block_q2_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m128i m4 = _mm_set1_epi8(15);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * half_to_f32(w[i].d);
    const float dmin = -a[i].d * half_to_f32(w[i].dmin);
    const __m128i ms = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales));
    const __m256i mins = _mm256_cvtepi8_epi16(_mm_and_si128(_mm_srli_epi16(ms, 4), m4));
    const __m256i prod = _mm256_madd_epi16(mins, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_and_si128(ms, m4));
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 2; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs + 32 * j));
      const __m256i sj = scales_half(sc16, j);
      for (int g = 0; g < 4; g++) {
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), m3);
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 128 * j + 32 * g));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), scale_pair16(sj, g)));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc);
}

float dot_q3_K(int64_t n, const void* vw, const void* va) {
  const block_q3_K* w = static_cast<const block_q3_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * half_to_f32(w[i].d);
    const __m256i sc16 = q3k_scales16(w[i].scales);
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].hmask));
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 2; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs + 32 * j));
      const __m256i sj = scales_half(sc16, j);
      for (int g = 0; g < 4; g++) {
        const int bit = 4 * j + g;
        const __m256i ql = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), m3);
        // 4 where the high bit is clear: subtracted from the low bits' products
        const __m256i qh = _mm256_slli_epi16(_mm256_andnot_si256(_mm256_and_si256(_mm256_srli_epi16(hbits, bit), one), one), 2);
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 128 * j + 32 * g));
        const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(ql, y), _mm256_maddubs_epi16(qh, y));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, scale_pair16(sj, g)));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc);
}

float dot_q6_K(int64_t n, const void* vw, const void* va) {
  const block_q6_K* w = static_cast<const block_q6_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  const __m256i m3 = _mm256_set1_epi8(3), m15 = _mm256_set1_epi8(15);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * half_to_f32(w[i].d);
    const int8_t* sc = w[i].scales;
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)));
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums));
    const __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5);
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 2; j++) {
      const uint8_t* ql = w[i].ql + 64 * j;
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh + 32 * j));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, m15), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m15), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
      for (int g = 0; g < 4; g++) {
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 128 * j + 32 * g));
        const int s0 = sc[8 * j + 2 * g], s1 = sc[8 * j + 2 * g + 1];
        const __m256i scv = _mm256_setr_m128i(_mm_set1_epi16((short)s0), _mm_set1_epi16((short)s1));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[g], y), scv));
      }
    }
    sumi = _mm256_sub_epi32(sumi, bias);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc);
}

// Panel: llama.cpp's IQ panel order for a batch (kernels/ref/vecdot_ref.cpp dot_iq4_xs_t).
template <bool Panel>
float dot_iq4_xs_t(int64_t n, const void* vw, const void* va) {
  const block_iq4_xs* w = static_cast<const block_iq4_xs*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  const __m256i t2 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl)));
  __m256 acc = _mm256_setzero_ps();
  float panel = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    __m256i sumi = _mm256_setzero_si256();
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const int ls = (((w[i].scales_l[ib / 2] >> (4 * (ib & 1))) & 15) | (((w[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
      const __m256i q = _mm256_shuffle_epi8(t2, nibbles32(w[i].qs + 16 * ib));
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * ib));
      const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, _mm256_set1_epi16((short)ls)));
    }
    const float d = half_to_f32(w[i].d) * a[i].d;
    if (Panel) {
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sumi), _mm256_extracti128_si256(sumi, 1));
      s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
      panel = std::fma((float)_mm_cvtsi128_si32(s), d, panel);
    } else {
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
  }
  return Panel ? panel : hsum8(acc);
}
float dot_iq4_xs(int64_t n, const void* w, const void* a) { return dot_iq4_xs_t<false>(n, w, a); }
float dot_iq4_xs_panel(int64_t n, const void* w, const void* a) { return dot_iq4_xs_t<true>(n, w, a); }

struct Bf16 { uint16_t v; };

inline __m256 ld8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 ld8(const Bf16* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
inline float bf16_f32(Bf16 h) { return bf16_to_fp32(h.v); }

float dot_bf16_vec(int64_t n, const void* vw, const void* va) {
  const Bf16* x = static_cast<const Bf16*>(vw);
  const Bf16* y = static_cast<const Bf16*>(va);
  const int64_t np = n & ~int64_t(31);
  __m256 c1 = _mm256_setzero_ps(), c2 = c1, c3 = c1, c4 = c1;
  for (int64_t i = 0; i < np; i += 32) {
    c1 = _mm256_fmadd_ps(ld8(x + i), ld8(y + i), c1);
    c2 = _mm256_fmadd_ps(ld8(x + i + 8), ld8(y + i + 8), c2);
    c3 = _mm256_fmadd_ps(ld8(x + i + 16), ld8(y + i + 16), c3);
    c4 = _mm256_fmadd_ps(ld8(x + i + 24), ld8(y + i + 24), c4);
  }
  double s = 0;
  s += (double)hsum8(_mm256_add_ps(_mm256_add_ps(c1, c3), _mm256_add_ps(c2, c4)));
  for (int64_t i = np; i < n; i++) s += (double)mul_rounded(bf16_f32(x[i]), bf16_f32(y[i]));
  return (float)s;
}
inline __m256 ld8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

template <typename T>
float main32(const T* x, const T* y, int64_t np) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < np; i += 32) {
    a0 = _mm256_fmadd_ps(ld8(x + i), ld8(y + i), a0);
    a1 = _mm256_fmadd_ps(ld8(x + i + 8), ld8(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(ld8(x + i + 16), ld8(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(ld8(x + i + 24), ld8(y + i + 24), a3);
  }
  return reduce32(a0, a1, a2, a3);
}

float dot_f32_vec(int64_t n, const void* vw, const void* va) {
  const float* x = static_cast<const float*>(vw);
  const float* y = static_cast<const float*>(va);
  const int64_t np = n & ~int64_t(31);
  float s = main32(x, y, np);
  const int64_t r = n - np, rem = r & 7;
  const int64_t unfused = np + (r - rem) + (rem >= 4 ? 4 : 0);
  int64_t i = np;
  for (; i < unfused; i++) {
    s = s + mul_rounded(x[i], y[i]);
  }
  for (; i < n; i++) s = std::fma(x[i], y[i], s);
  return s;
}

float dot_f16_vec(int64_t n, const void* vw, const void* va) {
  const uint16_t* x = static_cast<const uint16_t*>(vw);
  const uint16_t* y = static_cast<const uint16_t*>(va);
  const int64_t np = n & ~int64_t(31);
  double s = main32(x, y, np);
  for (int64_t i = np; i < n; i++) {
    s += (double)mul_rounded(half_to_f32(x[i]), half_to_f32(y[i]));
  }
  return (float)s;
}

template <typename T>
float dot_tiny(int64_t n, const void* vw, const void* va) {
  const T* x = static_cast<const T*>(vw);
  const T* y = static_cast<const T*>(va);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(ld8(x + i), ld8(y + i), acc);
  return hsum8(acc);
}

}  // namespace

// The table's names for these kernels (rosetta/internal/vecdot.h).
#define ROSETTA_AVX2_VECDOT(name, fn) \
  float avx2::vec_dot_##name(int64_t n, const void* w, const void* a) { return fn(n, w, a); }
ROSETTA_AVX2_VECDOT(f32, dot_f32_vec)
ROSETTA_AVX2_VECDOT(f16, dot_f16_vec)
ROSETTA_AVX2_VECDOT(bf16, dot_bf16_vec)
ROSETTA_AVX2_VECDOT(f32_tiny, dot_tiny<float>)
ROSETTA_AVX2_VECDOT(f16_tiny, dot_tiny<uint16_t>)
ROSETTA_AVX2_VECDOT(bf16_tiny, dot_tiny<Bf16>)
ROSETTA_AVX2_VECDOT(q4_0, dot_q0<block_q4_0>)
ROSETTA_AVX2_VECDOT(q5_0, dot_q0<block_q5_0>)
ROSETTA_AVX2_VECDOT(q8_0, dot_q0<block_q8_0>)
ROSETTA_AVX2_VECDOT(iq4_nl, dot_iq4_nl)
ROSETTA_AVX2_VECDOT(iq4_nl_tiny, dot_q0<block_iq4_nl>)
ROSETTA_AVX2_VECDOT(q4_1, dot_q1<block_q4_1>)
ROSETTA_AVX2_VECDOT(q5_1, dot_q1<block_q5_1>)
ROSETTA_AVX2_VECDOT(q2_K, dot_q2_K)
ROSETTA_AVX2_VECDOT(q3_K, dot_q3_K)
ROSETTA_AVX2_VECDOT(q4_K, dot_q4_K)
ROSETTA_AVX2_VECDOT(q5_K, dot_q5_K)
ROSETTA_AVX2_VECDOT(q6_K, dot_q6_K)
ROSETTA_AVX2_VECDOT(iq4_xs, dot_iq4_xs)
ROSETTA_AVX2_VECDOT(iq4_xs_panel, dot_iq4_xs_panel)
#undef ROSETTA_AVX2_VECDOT

// IQ4_NL's tile: one token, ggml_vec_dot's order row by row; a batch (packed or not): the tinyBLAS-order
// tile (vecdot_tile_avx2.cpp).
void avx2::vec_dot_tile_iq4_nl(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb,
                               const float* ad, int64_t nt, float* y, int64_t ldy) {
  if (nt != 1 || ad != nullptr) return vec_dot_tile_iq4_nl_batch(n, w, rb, nr, a, arb, ad, nt, y, ldy);
  for (int64_t r = 0; r < nr; r++) y[r] = dot_iq4_nl(n, w + rb * r, a);
}

}  // namespace rosetta
