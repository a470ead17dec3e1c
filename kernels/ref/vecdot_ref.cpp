// Scalar reference of the llama.cpp-exact dot products (rosetta/vecdot.h): each SIMD lane of ggml's AVX2
// kernels is an element of a small array here, every fused multiply-add is std::fma, and the integer
// block products are exact, so the result is the same float, bit for bit, as the AVX2 code.
#include <cmath>
#include <cstring>

#include "rosetta/internal/vecdot.h"
#include "rosetta/vecdot.h"

namespace rosetta {
namespace {

// ---- Q8_0-family: weight blocks decoded to 32 signed ints ----------------------------------------

inline void decode_q4_0(const block_q4_0& b, int q[32]) {
  for (int j = 0; j < 16; j++) {
    q[j] = (b.qs[j] & 15) - 8;
    q[j + 16] = (b.qs[j] >> 4) - 8;
  }
}
inline void decode_q5_0(const block_q5_0& b, int q[32]) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; j++) {
    q[j] = ((b.qs[j] & 15) | (((qh >> j) & 1) << 4)) - 16;
    q[j + 16] = ((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
  }
}
inline void decode_q8_0(const block_q8_0& b, int q[32]) {
  for (int j = 0; j < 32; j++) q[j] = b.qs[j];
}
inline void decode_iq4_nl(const block_iq4_nl& b, int q[32]) {
  for (int j = 0; j < 16; j++) {
    q[j] = kvalues_iq4nl[b.qs[j] & 15];
    q[j + 16] = kvalues_iq4nl[b.qs[j] >> 4];
  }
}

// 8 integer lanes of one 32-block pair: lane l = the 4 products of elements 4l..4l+3.
inline void lanes_q0(const int q[32], const int8_t* qa, int s[8]) {
  for (int l = 0; l < 8; l++) {
    s[l] = 0;
    for (int m = 0; m < 4; m++) s[l] += q[4 * l + m] * qa[4 * l + m];
  }
}

template <typename B, void (*Decode)(const B&, int*)>
float dot_q0(int64_t n, const void* vw, const void* va) {
  const B* w = static_cast<const B*>(vw);
  const block_q8_0* a = static_cast<const block_q8_0*>(va);
  float acc[8] = {0};
  int q[32], s[8];
  for (int64_t b = 0; b < n / 32; b++) {
    Decode(w[b], q);
    lanes_q0(q, a[b].qs, s);
    const float d = fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d);
    for (int l = 0; l < 8; l++) acc[l] = std::fma(d, (float)s[l], acc[l]);
  }
  return hsum8_ref(acc);
}

// ggml_vec_dot_iq4_nl_q8_0 (AVX2): blocks in pairs, the even one into acc1 and the odd one into acc2,
// hsum_float_8(acc1 + acc2); an odd last block as its integer sum, fma'd into the scalar (the haswell
// build emits vfmadd231ss there: measured in its disassembly).
float dot_iq4_nl(int64_t n, const void* vw, const void* va) {
  const block_iq4_nl* w = static_cast<const block_iq4_nl*>(vw);
  const block_q8_0* a = static_cast<const block_q8_0*>(va);
  const int64_t nb = n / 32;
  float acc[2][8] = {{0}};
  int q[32], s[8];
  int64_t b = 0;
  for (; b + 1 < nb; b += 2)
    for (int k = 0; k < 2; k++) {
      decode_iq4_nl(w[b + k], q);
      lanes_q0(q, a[b + k].qs, s);
      const float d = fp16_to_fp32(w[b + k].d) * fp16_to_fp32(a[b + k].d);
      for (int l = 0; l < 8; l++) acc[k][l] = std::fma(d, (float)s[l], acc[k][l]);
    }
  float v[8];
  for (int l = 0; l < 8; l++) v[l] = acc[0][l] + acc[1][l];
  float sum = hsum8_ref(v);
  if (b < nb) {
    decode_iq4_nl(w[b], q);
    int si = 0;
    for (int j = 0; j < 32; j++) si += q[j] * a[b].qs[j];
    sum = std::fma(fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d), (float)si, sum);
  }
  return sum;
}

// ---- Q4_1 / Q5_1 x Q8_1: unsigned quants, lanes as Q8_0's; the min term m * s in a scalar f32 (fma) ----

inline void decode_q4_1(const block_q4_1& b, int q[32]) {
  for (int j = 0; j < 16; j++) {
    q[j] = b.qs[j] & 15;
    q[j + 16] = b.qs[j] >> 4;
  }
}
inline void decode_q5_1(const block_q5_1& b, int q[32]) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; j++) {
    q[j] = (b.qs[j] & 15) | (((qh >> j) & 1) << 4);
    q[j + 16] = (b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
  }
}

template <typename B, void (*Decode)(const B&, int*)>
float dot_q1(int64_t n, const void* vw, const void* va) {
  const B* w = static_cast<const B*>(vw);
  const block_q8_1* a = static_cast<const block_q8_1*>(va);
  float acc[8] = {0}, summs = 0;
  int q[32];
  for (int64_t b = 0; b < n / 32; b++) {
    summs = std::fma(fp16_to_fp32(w[b].m), fp16_to_fp32(a[b].s), summs);
    Decode(w[b], q);
    const float d = fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d);
    for (int l = 0; l < 8; l++) {
      int s = 0;
      for (int m = 0; m < 4; m++) s += q[4 * l + m] * a[b].qs[4 * l + m];
      acc[l] = std::fma(d, (float)s, acc[l]);
    }
  }
  return hsum8_ref(acc) + summs;
}

// ---- K-quants x Q8_K ---------------------------------------------------------------------------

inline void q4k_scales(const uint8_t* s, int sc[8], int mn[8]) {
  for (int j = 0; j < 4; j++) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
    sc[j + 4] = (s[j + 8] & 15) | ((s[j] >> 6) << 4);
    mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
  }
}

float dot_q4_K(int64_t n, const void* vw, const void* va) {
  const block_q4_K* w = static_cast<const block_q4_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  float acc[8] = {0}, accm[4] = {0};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * fp16_to_fp32(w[i].d);
    const float dmin = -a[i].d * fp16_to_fp32(w[i].dmin);
    int sc[8], mn[8];
    q4k_scales(w[i].scales, sc, mn);
    for (int k = 0; k < 4; k++) {
      const int s0 = a[i].bsums[4 * k] + a[i].bsums[4 * k + 1], s1 = a[i].bsums[4 * k + 2] + a[i].bsums[4 * k + 3];
      accm[k] = std::fma(dmin, (float)(mn[2 * k] * s0 + mn[2 * k + 1] * s1), accm[k]);
    }
    int sumi[8] = {0};
    const uint8_t* q4 = w[i].qs;
    const int8_t* q8 = a[i].qs;
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 8; l++) {
        int lo = 0, hi = 0;
        for (int m = 0; m < 4; m++) {
          const int b = 4 * l + m;
          lo += (q4[32 * j + b] & 15) * q8[64 * j + b];
          hi += (q4[32 * j + b] >> 4) * q8[64 * j + 32 + b];
        }
        sumi[l] += sc[2 * j] * lo + sc[2 * j + 1] * hi;
      }
    for (int l = 0; l < 8; l++) acc[l] = std::fma(d, (float)sumi[l], acc[l]);
  }
  const float m = (accm[0] + accm[2]) + (accm[1] + accm[3]);
  return hsum8_ref(acc) + m;
}

float dot_q6_K(int64_t n, const void* vw, const void* va) {
  const block_q6_K* w = static_cast<const block_q6_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  float acc[8] = {0};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * fp16_to_fp32(w[i].d);
    const int8_t* sc = w[i].scales;
    int sumi[8] = {0};
    for (int j = 0; j < 2; j++) {
      const uint8_t* ql = w[i].ql + 64 * j;
      const uint8_t* qh = w[i].qh + 32 * j;
      for (int g = 0; g < 4; g++)
        for (int l = 0; l < 8; l++) {
          int s = 0;
          for (int m = 0; m < 4; m++) {
            const int b = 4 * l + m;
            const int lowq = g & 1 ? ql[32 + b] : ql[b];
            const int q = ((g < 2 ? lowq & 15 : lowq >> 4) | (((qh[b] >> (2 * g)) & 3) << 4));
            s += q * a[i].qs[128 * j + 32 * g + b];
          }
          sumi[l] += sc[8 * j + 2 * g + (l >= 4)] * s;
        }
    }
    for (int l = 0; l < 8; l++) {
      sumi[l] -= 32 * (a[i].bsums[2 * l] * sc[2 * l] + a[i].bsums[2 * l + 1] * sc[2 * l + 1]);
      acc[l] = std::fma(d, (float)sumi[l], acc[l]);
    }
  }
  return hsum8_ref(acc);
}

// ggml_vec_dot_q5_K_q8_K (AVX2): Q4_K's 8 scale-weighted integer lanes with the 5th bit; the min term is
// one integer per superblock (all 8 products summed), added to a scalar f32 (the compiler's fma).
float dot_q5_K(int64_t n, const void* vw, const void* va) {
  const block_q5_K* w = static_cast<const block_q5_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  float acc[8] = {0}, summs = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * fp16_to_fp32(w[i].d);
    const float dmin = -a[i].d * fp16_to_fp32(w[i].dmin);
    int sc[8], mn[8];
    q4k_scales(w[i].scales, sc, mn);
    int m = 0;
    for (int k = 0; k < 8; k++) m += mn[k] * (a[i].bsums[2 * k] + a[i].bsums[2 * k + 1]);
    summs = std::fma(dmin, (float)m, summs);
    int sumi[8] = {0};
    const uint8_t* q5 = w[i].qs;
    const uint8_t* qh = w[i].qh;
    const int8_t* q8 = a[i].qs;
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 8; l++) {
        int lo = 0, hi = 0;
        for (int e = 0; e < 4; e++) {
          const int b = 4 * l + e;
          lo += ((q5[32 * j + b] & 15) | (((qh[b] >> (2 * j)) & 1) << 4)) * q8[64 * j + b];
          hi += ((q5[32 * j + b] >> 4) | (((qh[b] >> (2 * j + 1)) & 1) << 4)) * q8[64 * j + 32 + b];
        }
        sumi[l] += sc[2 * j] * lo + sc[2 * j + 1] * hi;
      }
    for (int l = 0; l < 8; l++) acc[l] = std::fma(d, (float)sumi[l], acc[l]);
  }
  return hsum8_ref(acc) + summs;
}

// Q2_K / Q3_K x Q8_K (ggml_vec_dot_q{2,3}_K_q8_K, AVX2): 16 sub-blocks of 16; the 32 elements of group g
// of half j (bits 2g of qs[32j + b]) are two sub-blocks, lanes 0-3 scaled by sub-block 8j+2g, lanes 4-7
// by 8j+2g+1. q(j, g, b) gives the weight value of element 128j + 32g + b.
template <typename Q>
inline void k16_lanes(const int8_t* q8, const int sc[16], Q q, int sumi[8]) {
  for (int j = 0; j < 2; j++)
    for (int g = 0; g < 4; g++)
      for (int l = 0; l < 8; l++) {
        int s = 0;
        for (int e = 0; e < 4; e++) s += q(j, g, 4 * l + e) * q8[128 * j + 32 * g + 4 * l + e];
        sumi[l] += sc[8 * j + 2 * g + (l >= 4)] * s;
      }
}

float dot_q2_K(int64_t n, const void* vw, const void* va) {
  const block_q2_K* w = static_cast<const block_q2_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  float acc[8] = {0};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * fp16_to_fp32(w[i].d);
    const float dmin = -a[i].d * fp16_to_fp32(w[i].dmin);
    int sc[16];
    for (int k = 0; k < 16; k++) sc[k] = w[i].scales[k] & 15;
    for (int l = 0; l < 8; l++) {
      const int m = (w[i].scales[2 * l] >> 4) * a[i].bsums[2 * l] + (w[i].scales[2 * l + 1] >> 4) * a[i].bsums[2 * l + 1];
      acc[l] = std::fma(dmin, (float)m, acc[l]);
    }
    const uint8_t* qs = w[i].qs;
    int sumi[8] = {0};
    k16_lanes(a[i].qs, sc, [qs](int j, int g, int b) { return (qs[32 * j + b] >> (2 * g)) & 3; }, sumi);
    for (int l = 0; l < 8; l++) acc[l] = std::fma(d, (float)sumi[l], acc[l]);
  }
  return hsum8_ref(acc);
}

float dot_q3_K(int64_t n, const void* vw, const void* va) {
  const block_q3_K* w = static_cast<const block_q3_K*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  float acc[8] = {0};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = a[i].d * fp16_to_fp32(w[i].d);
    const uint8_t* s = w[i].scales;
    int sc[16];
    for (int k = 0; k < 4; k++) {
      sc[k] = ((s[k] & 15) | (((s[8 + k] >> 0) & 3) << 4)) - 32;
      sc[k + 4] = ((s[4 + k] & 15) | (((s[8 + k] >> 2) & 3) << 4)) - 32;
      sc[k + 8] = ((s[k] >> 4) | (((s[8 + k] >> 4) & 3) << 4)) - 32;
      sc[k + 12] = ((s[4 + k] >> 4) | (((s[8 + k] >> 6) & 3) << 4)) - 32;
    }
    const uint8_t* qs = w[i].qs;
    const uint8_t* hm = w[i].hmask;
    int sumi[8] = {0};
    k16_lanes(a[i].qs, sc, [qs, hm](int j, int g, int b) {
      return ((qs[32 * j + b] >> (2 * g)) & 3) - ((hm[b] >> (4 * j + g)) & 1 ? 0 : 4);
    }, sumi);
    for (int l = 0; l < 8; l++) acc[l] = std::fma(d, (float)sumi[l], acc[l]);
  }
  return hsum8_ref(acc);
}

// ggml_vec_dot_iq4_xs_q8_K (AVX2): per 32-block the Q8_0-family lanes (codebook values), times the block's
// 6-bit scale - 32, summed over the superblock in integers; one fma per superblock with d_w * d_a.
// Panel: llama.cpp's IQ panel order for a batch (ggml-cpu/iqp.cpp, iq_panel_order): the superblock's
// 8 lanes summed into one integer (exact), one accumulator, fma(float(sumi), d_w * d_a, acc).
template <bool Panel>
float dot_iq4_xs_t(int64_t n, const void* vw, const void* va) {
  const block_iq4_xs* w = static_cast<const block_iq4_xs*>(vw);
  const block_q8_K* a = static_cast<const block_q8_K*>(va);
  float acc[8] = {0}, panel = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    int sumi[8] = {0};
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const int ls = (((w[i].scales_l[ib / 2] >> (4 * (ib & 1))) & 15) | (((w[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
      const uint8_t* qs = w[i].qs + 16 * ib;
      const int8_t* q8 = a[i].qs + 32 * ib;
      for (int l = 0; l < 8; l++) {
        int s = 0;
        for (int e = 0; e < 4; e++) {
          const int b = 4 * (l & 3) + e;
          s += kvalues_iq4nl[l < 4 ? qs[b] & 15 : qs[b] >> 4] * q8[4 * l + e];
        }
        sumi[l] += ls * s;
      }
    }
    const float d = fp16_to_fp32(w[i].d) * a[i].d;
    if (Panel) {
      int s = 0;  // |s| <= 256 x 32 x 127 x 127 < 2^31
      for (int l = 0; l < 8; l++) s += sumi[l];
      panel = std::fma((float)s, d, panel);
    } else {
      for (int l = 0; l < 8; l++) acc[l] = std::fma(d, (float)sumi[l], acc[l]);
    }
  }
  return Panel ? panel : hsum8_ref(acc);
}
float dot_iq4_xs(int64_t n, const void* w, const void* a) { return dot_iq4_xs_t<false>(n, w, a); }
float dot_iq4_xs_panel(int64_t n, const void* w, const void* a) { return dot_iq4_xs_t<true>(n, w, a); }

// ---- float types ---------------------------------------------------------------------------------

template <typename T>
inline float ld(const T* p, int64_t i);
template <>
inline float ld<float>(const float* p, int64_t i) { return p[i]; }
template <>
inline float ld<uint16_t>(const uint16_t* p, int64_t i) { return fp16_to_fp32(p[i]); }
struct Bf16 { uint16_t v; };
template <>
inline float ld<Bf16>(const Bf16* p, int64_t i) { return bf16_to_fp32(p[i].v); }

// ggml_vec_dot_f32/f16 main loop: 4 accumulators of 8 lanes over 32-element chunks.
template <typename T>
float main32(const T* x, const T* y, int64_t np) {
  float acc[4][8] = {{0}};
  for (int64_t i = 0; i < np; i += 32)
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 8; l++) acc[j][l] = std::fma(ld(x, i + 8 * j + l), ld(y, i + 8 * j + l), acc[j][l]);
  return reduce32_ref(acc);
}

float dot_f32_vec(int64_t n, const void* vw, const void* va) {
  const float* x = static_cast<const float*>(vw);
  const float* y = static_cast<const float*>(va);
  const int64_t np = n & ~int64_t(31);
  float s = main32(x, y, np);
  // The tail as the haswell build's compiler vectorized `sumf += x[i]*y[i]`: groups of 8, then one of 4,
  // as rounded products added in order; the last < 4 elements contracted to fma.
  const int64_t r = n - np, rem = r & 7;
  const int64_t unfused = np + (r - rem) + (rem >= 4 ? 4 : 0);
  int64_t i = np;
  for (; i < unfused; i++) {
    const float p = x[i] * y[i];
    s = s + p;
  }
  for (; i < n; i++) s = std::fma(x[i], y[i], s);
  return s;
}

float dot_f16_vec(int64_t n, const void* vw, const void* va) {
  const uint16_t* x = static_cast<const uint16_t*>(vw);
  const uint16_t* y = static_cast<const uint16_t*>(va);
  const int64_t np = n & ~int64_t(31);
  double s = main32(x, y, np);
  for (int64_t i = np; i < n; i++) s += (double)(fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]));
  return (float)s;
}

// ggml_vec_dot_bf16 (AVX2): 4 x 8 fused accumulators over 32-chunks, (c1+c3)+(c2+c4), hsum_float_8, then
// in f64 with the tail's f32 products.
float dot_bf16_vec(int64_t n, const void* vw, const void* va) {
  const Bf16* x = static_cast<const Bf16*>(vw);
  const Bf16* y = static_cast<const Bf16*>(va);
  const int64_t np = n & ~int64_t(31);
  float acc[4][8] = {{0}};
  for (int64_t i = 0; i < np; i += 32)
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 8; l++) acc[j][l] = std::fma(ld(x, i + 8 * j + l), ld(y, i + 8 * j + l), acc[j][l]);
  float v[8];
  for (int l = 0; l < 8; l++) v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  double s = 0;
  s += (double)hsum8_ref(v);
  for (int64_t i = np; i < n; i++) s += (double)(ld(x, i) * ld(y, i));
  return (float)s;
}

// tinyBLAS: one 8-lane accumulator over 8-element steps (n % 8 == 0).
template <typename T>
float dot_tiny(int64_t n, const void* vw, const void* va) {
  const T* x = static_cast<const T*>(vw);
  const T* y = static_cast<const T*>(va);
  float acc[8] = {0};
  for (int64_t i = 0; i < n; i += 8)
    for (int l = 0; l < 8; l++) acc[l] = std::fma(ld(x, i + l), ld(y, i + l), acc[l]);
  return hsum8_ref(acc);
}

}  // namespace

// The table's names for these kernels (rosetta/internal/vecdot.h).
namespace ref {
#define ROSETTA_REF_VECDOT(name, fn) \
  float vec_dot_##name(int64_t n, const void* w, const void* a) { return fn(n, w, a); }
ROSETTA_REF_VECDOT(f32, dot_f32_vec)
ROSETTA_REF_VECDOT(f16, dot_f16_vec)
ROSETTA_REF_VECDOT(bf16, dot_bf16_vec)
ROSETTA_REF_VECDOT(f32_tiny, dot_tiny<float>)
ROSETTA_REF_VECDOT(f16_tiny, dot_tiny<uint16_t>)
ROSETTA_REF_VECDOT(bf16_tiny, dot_tiny<Bf16>)
ROSETTA_REF_VECDOT(q4_0, (dot_q0<block_q4_0, decode_q4_0>))
ROSETTA_REF_VECDOT(q5_0, (dot_q0<block_q5_0, decode_q5_0>))
ROSETTA_REF_VECDOT(q8_0, (dot_q0<block_q8_0, decode_q8_0>))
ROSETTA_REF_VECDOT(iq4_nl, dot_iq4_nl)
ROSETTA_REF_VECDOT(iq4_nl_tiny, (dot_q0<block_iq4_nl, decode_iq4_nl>))
ROSETTA_REF_VECDOT(q4_1, (dot_q1<block_q4_1, decode_q4_1>))
ROSETTA_REF_VECDOT(q5_1, (dot_q1<block_q5_1, decode_q5_1>))
ROSETTA_REF_VECDOT(q2_K, dot_q2_K)
ROSETTA_REF_VECDOT(q3_K, dot_q3_K)
ROSETTA_REF_VECDOT(q4_K, dot_q4_K)
ROSETTA_REF_VECDOT(q5_K, dot_q5_K)
ROSETTA_REF_VECDOT(q6_K, dot_q6_K)
ROSETTA_REF_VECDOT(iq4_xs, dot_iq4_xs)
ROSETTA_REF_VECDOT(iq4_xs_panel, dot_iq4_xs_panel)
#undef ROSETTA_REF_VECDOT
}  // namespace ref

// A prompt's tinyBLAS order on activations packed by pack_q8_0_token (rosetta/vecdot.h): dot_q0's
// operations, reading token t's block b from its group's slot.
static float dot_iq4_nl_packed(int64_t nb, const block_iq4_nl* w, const int8_t* qs, const float* sc, int64_t t) {
  const int64_t g = t / kQ0Group, j = t % kQ0Group;
  float acc[8] = {0};
  int q[32], s[8];
  for (int64_t b = 0; b < nb; b++) {
    const int64_t slot = (g * nb + b) * kQ0Group + j;
    decode_iq4_nl(w[b], q);
    lanes_q0(q, qs + slot * 32, s);
    const float d = fp16_to_fp32(w[b].d) * sc[slot];
    for (int l = 0; l < 8; l++) acc[l] = std::fma(d, (float)s[l], acc[l]);
  }
  return hsum8_ref(acc);
}

// IQ4_NL's tile: llama.cpp runs ggml_vec_dot_iq4_nl_q8_0 for one token and tinyBLAS_Q0_AVX for any batch
// >= 2 (llamafile takes every IQ4_NL prompt), two float orders that only a tile (it sees nt) can choose.
void ref::vec_dot_tile_iq4_nl(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb,
                              const float* ad, int64_t nt, float* y, int64_t ldy) {
  for (int64_t t = 0; t < nt; t++)
    for (int64_t r = 0; r < nr; r++) {
      const uint8_t* wr = w + rb * r;
      float& out = y[t * ldy + r];
      if (ad != nullptr)
        out = dot_iq4_nl_packed(n / 32, reinterpret_cast<const block_iq4_nl*>(wr), reinterpret_cast<const int8_t*>(a), ad, t);
      else
        out = (nt == 1 ? dot_iq4_nl : dot_q0<block_iq4_nl, decode_iq4_nl>)(n, wr, a + arb * t);
    }
}

}  // namespace rosetta
