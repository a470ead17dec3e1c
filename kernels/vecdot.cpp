// Activation conversion to ggml's vec_dot types and the choice of llama.cpp-exact kernel per weight type.
#include <cmath>
#include <cstring>

#include "rosetta/isa.h"
#include "rosetta/types.h"
#include "rosetta/vecdot.h"

namespace rosetta {

const VecDotKernels& vecdot_kernels() {
  return current_isa() == Isa::Scalar ? vecdot_kernels_ref() : vecdot_kernels_avx2();
}

VecDotTileFn vecdot_tile_for(uint32_t type) {
  if (type == T_IQ4_NL) return current_isa() == Isa::Scalar ? vecdot_tile_iq4_nl_ref : vecdot_tile_iq4_nl_avx2;
  return current_isa() == Isa::Scalar ? nullptr : vecdot_tile_avx2(type);
}

VecDotFn vecdot_for(const VecDotKernels& k, uint32_t type, bool tiny) {
  switch (type) {
    case T_Q4_0: return k.q4_0;
    case T_Q5_0: return k.q5_0;
    case T_Q8_0: return k.q8_0;
    case T_IQ4_NL: return tiny ? k.iq4_nl_tiny : k.iq4_nl;
    case T_Q4_K: return k.q4_K;
    case T_Q6_K: return k.q6_K;
    case T_Q5_K: return k.q5_K;
    case T_IQ4_XS: return k.iq4_xs;
    case T_BF16: return tiny ? k.bf16_tiny : k.bf16_vec;
    case T_Q2_K: return k.q2_K;
    case T_Q3_K: return k.q3_K;
    case T_Q4_1: return k.q4_1;
    case T_Q5_1: return k.q5_1;
    case T_F16: return tiny ? k.f16_tiny : k.f16_vec;
    case T_F32: return tiny ? k.f32_tiny : k.f32_vec;
    default: return nullptr;
  }
}

// quantize_row_q8_0 (x86 AVX2 build): d = amax/127 (f32, stored as f16), q = round-half-even(x * 127/amax).
void quantize_q8_0(const float* x, block_q8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; b++) {
    const float* xb = x + 32 * b;
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = std::fmax(amax, std::fabs(xb[j]));
    y[b].d = fp32_to_fp16(amax / 127.f);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    for (int j = 0; j < 32; j++) y[b].qs[j] = (int8_t)std::nearbyint(xb[j] * id);
  }
}

// quantize_row_q8_1 (x86 AVX2 build): the qs and d of quantize_row_q8_0; s = d * sum(q) with d the f32
// amax/127 (before its f16 rounding), the integer sum converted to f32, then stored as f16.
void quantize_q8_1(const float* x, block_q8_1* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; b++) {
    block_q8_0 t;
    quantize_q8_0(x + 32 * b, &t, 32);
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = std::fmax(amax, std::fabs(x[32 * b + j]));
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += t.qs[j];
    y[b].d = t.d;
    y[b].s = fp32_to_fp16(amax / 127.f * (float)sum);
    std::memcpy(y[b].qs, t.qs, 32);
  }
}

// quantize_row_q8_K_ref: the signed extreme maps to -127, d = 1/iscale in f32, bsums per 16.
void quantize_q8_K(const float* x, block_q8_K* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; b++) {
    const float* xb = x + QK_K * b;
    float amax = 0, max = 0;
    for (int j = 0; j < QK_K; j++) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) { amax = ax; max = xb[j]; }
    }
    if (amax == 0.0f) {
      std::memset(&y[b], 0, sizeof(block_q8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; j++) {
      const float v = std::nearbyint(iscale * xb[j]);
      y[b].qs[j] = (int8_t)(v > 127.f ? 127 : (int)v);
    }
    for (int j = 0; j < QK_K / 16; j++) {
      int s = 0;
      for (int i = 0; i < 16; i++) s += y[b].qs[16 * j + i];
      y[b].bsums[j] = (int16_t)s;
    }
    y[b].d = 1 / iscale;
  }
}

void convert_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

void convert_bf16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}

}  // namespace rosetta
