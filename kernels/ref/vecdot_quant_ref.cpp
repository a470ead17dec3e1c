// Activation conversion to ggml's vec_dot types (ggml's from_float), scalar: the one definition of each
// activation format's rounding. The matmul driver converts with the table's from_float of the current
// path (the AVX2 forms, vecdot_quant_avx2.cpp, are byte-identical); act_round reads these blocks back.
#include <cmath>
#include <cstring>

#include "rosetta/blocks.h"
#include "rosetta/internal/vecdot.h"

namespace rosetta {

namespace ref {
namespace {

// One 32-block of quantize_row_q8_0 (x86 AVX2 build): d = amax/127 (f32, stored as f16), q =
// round-half-even(x * 127/amax), as floats (from_float stores them as int8; act_round multiplies them
// by d, keeping the sign of a zero). Returns the f32 amax/127 (before its f16 rounding, Q8_1's s uses it).
inline float q8_0_block(const float* xb, f16* d, float q[32]) {
  float amax = 0;
  for (int j = 0; j < 32; j++) amax = std::fmax(amax, std::fabs(xb[j]));
  *d = fp32_to_fp16(amax / 127.f);
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  for (int j = 0; j < 32; j++) q[j] = std::nearbyint(xb[j] * id);
  return amax / 127.f;
}

// One 256-block of quantize_row_q8_K_ref: the signed extreme maps to -127, d = 1/iscale in f32, q
// clamped to 127, as floats. Returns false for an all-zero block (d = 0, every q 0).
inline bool q8_K_block(const float* xb, float* d, float q[QK_K]) {
  float amax = 0, max = 0;
  for (int j = 0; j < QK_K; j++) {
    const float ax = std::fabs(xb[j]);
    if (ax > amax) { amax = ax; max = xb[j]; }
  }
  if (amax == 0.0f) return false;
  const float iscale = -127.f / max;
  for (int j = 0; j < QK_K; j++) {
    const float v = std::nearbyint(iscale * xb[j]);
    q[j] = v > 127.f ? 127.f : v;
  }
  *d = 1 / iscale;
  return true;
}

}  // namespace

void from_float_q8_0(const float* x, void* vy, int64_t n) {
  block_q8_0* y = static_cast<block_q8_0*>(vy);
  float q[32];
  for (int64_t b = 0; b < n / 32; b++) {
    q8_0_block(x + 32 * b, &y[b].d, q);
    for (int j = 0; j < 32; j++) y[b].qs[j] = (int8_t)q[j];
  }
}

// quantize_row_q8_1 (x86 AVX2 build): the qs and d of quantize_row_q8_0; s = d * sum(q) with d the f32
// amax/127 (before its f16 rounding), the integer sum converted to f32, then stored as f16.
void from_float_q8_1(const float* x, void* vy, int64_t n) {
  block_q8_1* y = static_cast<block_q8_1*>(vy);
  float q[32];
  for (int64_t b = 0; b < n / 32; b++) {
    const float d = q8_0_block(x + 32 * b, &y[b].d, q);
    int sum = 0;
    for (int j = 0; j < 32; j++) {
      y[b].qs[j] = (int8_t)q[j];
      sum += y[b].qs[j];
    }
    y[b].s = fp32_to_fp16(d * (float)sum);
  }
}

// quantize_row_q8_K_ref, with the bsums per 16.
void from_float_q8_K(const float* x, void* vy, int64_t n) {
  block_q8_K* y = static_cast<block_q8_K*>(vy);
  float q[QK_K];
  for (int64_t b = 0; b < n / QK_K; b++) {
    float d;
    if (!q8_K_block(x + QK_K * b, &d, q)) {
      std::memset(&y[b], 0, sizeof(block_q8_K));
      continue;
    }
    for (int j = 0; j < QK_K; j++) y[b].qs[j] = (int8_t)(int)q[j];
    for (int j = 0; j < QK_K / 16; j++) {
      int s = 0;
      for (int i = 0; i < 16; i++) s += y[b].qs[16 * j + i];
      y[b].bsums[j] = (int16_t)s;
    }
    y[b].d = d;
  }
}

// act_round: the same blocks as the values the dot products see, d * q (Q8_1's d and q are Q8_0's).
void round_q8_0(const float* x, float* out, int64_t n) {
  float q[32];
  for (int64_t b = 0; b < n; b += 32) {
    f16 h;
    q8_0_block(x + b, &h, q);
    const float d = fp16_to_fp32(h);
    for (int j = 0; j < 32; j++) out[b + j] = d * q[j];
  }
}

void round_q8_1(const float* x, float* out, int64_t n) { round_q8_0(x, out, n); }

void round_q8_K(const float* x, float* out, int64_t n) {
  float q[QK_K];
  for (int64_t b = 0; b < n; b += QK_K) {
    float d;
    if (!q8_K_block(x + b, &d, q)) {
      for (int j = 0; j < QK_K; j++) out[b + j] = 0.0f;
      continue;
    }
    for (int j = 0; j < QK_K; j++) out[b + j] = d * q[j];
  }
}

void round_f32(const float* x, float* out, int64_t n) { std::memcpy(out, x, (size_t)n * sizeof(float)); }
void round_f16(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}
void round_bf16(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
}

void from_float_f32(const float* x, void* y, int64_t n) { std::memcpy(y, x, (size_t)n * sizeof(float)); }

// F16C round to nearest even (ggml's from_float for f16 on x86).
void from_float_f16(const float* x, void* vy, int64_t n) {
  uint16_t* y = static_cast<uint16_t*>(vy);
  for (int64_t i = 0; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

// ggml_cpu_fp32_to_bf16 (scalar, nearest even).
void from_float_bf16(const float* x, void* vy, int64_t n) {
  uint16_t* y = static_cast<uint16_t*>(vy);
  for (int64_t i = 0; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}

}  // namespace ref

}  // namespace rosetta
