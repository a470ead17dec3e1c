// Scalar reference dequantizers. Each reproduces ggml's arithmetic operation for operation (same
// products, same order, same float roundings, no FMA: this TU is built with -ffp-contract=off), which
// is what makes the results bit exact with ggml's to_float.
#include <cstring>

#include "rosetta/blocks.h"
#include "rosetta/internal/dequant.h"

namespace rosetta {
namespace ref {
namespace {

// The 6-bit (scale, min) pair j of a Q4_K/Q5_K super-block: j < 4 in the low 6 bits of bytes 0..7,
// j >= 4 split into a nibble in bytes 8..11 and 2 high bits borrowed from bytes 0..7.
inline void k4_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// The 16 signed 6-bit scales of a Q3_K super-block (stored biased by 32).
inline void q3k_scales(const uint8_t* s, int8_t out[16]) {
  for (int i = 0; i < 16; ++i) {
    const int low = i < 8 ? (s[i] & 0xF) : (s[i - 8] >> 4);
    const int high = (s[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
    out[i] = (int8_t)((low | (high << 4)) - 32);
  }
}

}  // namespace

void dequant_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, (size_t)n * 4); }

void dequant_f16(const void* src, float* dst, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    f16 h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}

void dequant_bf16(const void* src, float* dst, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    bf16 h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}

void dequant_q4_0(const void* src, float* y, int64_t n) {
  const block_q4_0* x = static_cast<const block_q4_0*>(src);
  for (int64_t i = 0; i < n / QK4_0; ++i, y += QK4_0) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = (float)((x[i].qs[j] & 0xF) - 8) * d;
      y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q4_1(const void* src, float* y, int64_t n) {
  const block_q4_1* x = static_cast<const block_q4_1*>(src);
  for (int64_t i = 0; i < n / QK4_1; ++i, y += QK4_1) {
    const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = (float)(x[i].qs[j] & 0xF) * d + m;
      y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequant_q5_0(const void* src, float* y, int64_t n) {
  const block_q5_0* x = static_cast<const block_q5_0*>(src);
  for (int64_t i = 0; i < n / QK5_0; ++i, y += QK5_0) {
    const float d = fp16_to_fp32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (x[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
      const int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
      y[j] = (float)(q0 - 16) * d;
      y[j + 16] = (float)(q1 - 16) * d;
    }
  }
}

void dequant_q5_1(const void* src, float* y, int64_t n) {
  const block_q5_1* x = static_cast<const block_q5_1*>(src);
  for (int64_t i = 0; i < n / QK5_1; ++i, y += QK5_1) {
    const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (x[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
      const int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
      y[j] = (float)q0 * d + m;
      y[j + 16] = (float)q1 * d + m;
    }
  }
}

void dequant_q8_0(const void* src, float* y, int64_t n) {
  const block_q8_0* x = static_cast<const block_q8_0*>(src);
  for (int64_t i = 0; i < n / QK8_0; ++i, y += QK8_0) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < QK8_0; ++j) y[j] = (float)x[i].qs[j] * d;
  }
}

void dequant_q2_K(const void* src, float* y, int64_t n) {
  const block_q2_K* x = static_cast<const block_q2_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    // Element 128*h + 32*s + 16*t + l: 2 bits at shift 2*s of qs[32*h + 16*t + l], sub-block 8*h+2*s+t.
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 4; ++s) {
        for (int t = 0; t < 2; ++t) {
          const uint8_t sc = x[i].scales[8 * h + 2 * s + t];
          const float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
          const uint8_t* q = x[i].qs + 32 * h + 16 * t;
          for (int l = 0; l < 16; ++l) *y++ = dl * (float)((q[l] >> (2 * s)) & 3) - ml;
        }
      }
    }
  }
}

void dequant_q3_K(const void* src, float* y, int64_t n) {
  const block_q3_K* x = static_cast<const block_q3_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    int8_t sc[16];
    q3k_scales(x[i].scales, sc);
    // Same element order as Q2_K; the high bit of element 128*h+32*s+16*t+l is bit (4h+s) of hmask[16t+l].
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 4; ++s) {
        for (int t = 0; t < 2; ++t) {
          const float dl = d * (float)sc[8 * h + 2 * s + t];
          const uint8_t* q = x[i].qs + 32 * h + 16 * t;
          const uint8_t* hm = x[i].hmask + 16 * t;
          const uint8_t bit = (uint8_t)(1u << (4 * h + s));
          for (int l = 0; l < 16; ++l) {
            const int v = ((q[l] >> (2 * s)) & 3) - ((hm[l] & bit) ? 0 : 4);
            *y++ = dl * (float)v;
          }
        }
      }
    }
  }
}

void dequant_q4_K(const void* src, float* y, int64_t n) {
  const block_q4_K* x = static_cast<const block_q4_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int j = 0; j < 4; ++j, q += 32) {
      uint8_t sc, m;
      k4_scale_min(2 * j, x[i].scales, &sc, &m);
      const float d1 = d * (float)sc, m1 = dmin * (float)m;
      k4_scale_min(2 * j + 1, x[i].scales, &sc, &m);
      const float d2 = d * (float)sc, m2 = dmin * (float)m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (float)(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (float)(q[l] >> 4) - m2;
    }
  }
}

void dequant_q5_K(const void* src, float* y, int64_t n) {
  const block_q5_K* x = static_cast<const block_q5_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int j = 0; j < 4; ++j, q += 32) {
      uint8_t sc, m;
      k4_scale_min(2 * j, x[i].scales, &sc, &m);
      const float d1 = d * (float)sc, m1 = dmin * (float)m;
      k4_scale_min(2 * j + 1, x[i].scales, &sc, &m);
      const float d2 = d * (float)sc, m2 = dmin * (float)m;
      const uint8_t b1 = (uint8_t)(1u << (2 * j)), b2 = (uint8_t)(2u << (2 * j));
      for (int l = 0; l < 32; ++l) *y++ = d1 * (float)((q[l] & 0xF) + ((x[i].qh[l] & b1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (float)((q[l] >> 4) + ((x[i].qh[l] & b2) ? 16 : 0)) - m2;
    }
  }
}

void dequant_q6_K(const void* src, float* y, int64_t n) {
  const block_q6_K* x = static_cast<const block_q6_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int h = 0; h < 2; ++h, y += 128) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      const int8_t* sc = x[i].scales + 8 * h;
      // Four 32-element quarters: low/high nibble of ql[0..31] and ql[32..63], 2 bits each from qh.
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * (float)sc[is] * (float)q1;
        y[l + 32] = d * (float)sc[is + 2] * (float)q2;
        y[l + 64] = d * (float)sc[is + 4] * (float)q3;
        y[l + 96] = d * (float)sc[is + 6] * (float)q4;
      }
    }
  }
}

void dequant_q8_K(const void* src, float* y, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, p += sizeof(block_q8_K)) {
    float d;  // memcpy: a block_q8_K may sit at an offset that is not 4-aligned
    std::memcpy(&d, p, 4);
    const int8_t* qs = reinterpret_cast<const int8_t*>(p + 4);
    for (int j = 0; j < QK_K; ++j) *y++ = d * (float)qs[j];
  }
}

void dequant_iq4_nl(const void* src, float* y, int64_t n) {
  const block_iq4_nl* x = static_cast<const block_iq4_nl*>(src);
  for (int64_t i = 0; i < n / QK4_NL; ++i, y += QK4_NL) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * (float)kvalues_iq4nl[x[i].qs[j] & 0xF];
      y[j + 16] = d * (float)kvalues_iq4nl[x[i].qs[j] >> 4];
    }
  }
}

void dequant_iq4_xs(const void* src, float* y, int64_t n) {
  const block_iq4_xs* x = static_cast<const block_iq4_xs*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int ib = 0; ib < 8; ++ib, y += 32) {
      const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((x[i].scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * (float)(ls - 32);
      const uint8_t* qs = x[i].qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * (float)kvalues_iq4nl[qs[j] & 0xF];
        y[j + 16] = dl * (float)kvalues_iq4nl[qs[j] >> 4];
      }
    }
  }
}

}  // namespace ref
}  // namespace rosetta

namespace rosetta {
namespace ref {
// APR_Q4: 32-element blocks of (f16 scale, 16 bytes); element i is the low nibble of byte i/2 when i is
// even, the high nibble when odd; value = (nibble - 8) * scale.
void dequant_apr_q4(const void* src, float* y, int64_t n) {
  const block_q4_0* x = static_cast<const block_q4_0*>(src);  // same geometry, different nibble order
  for (int64_t i = 0; i < n / 32; ++i, y += 32) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[2 * j] = (float)((x[i].qs[j] & 0xF) - 8) * d;
      y[2 * j + 1] = (float)((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}
}  // namespace ref
}  // namespace rosetta
