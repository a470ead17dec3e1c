// Scalar reference dot kernels: the oracle the SIMD paths are diffed against. exact mode accumulates
// in f64; ggml mode uses one defined f32 order (below) that the SIMD paths reproduce exactly, so every
// ISA path gives bit-identical matmuls and a Q8 rounding decision can never differ between paths.
#include <cmath>

#include "rosetta/matmul.h"

namespace rosetta {
namespace {

double dot_f64_ref(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

// The canonical f32 summation order of ggml mode, which every ISA path reproduces bit for bit: two
// 8-lane accumulators over 16-element chunks (lane l of chunk c: s[l] for elements 0-7, t[l] for 8-15),
// one more 8-element chunk into s, fused multiply-adds; then u = s + t, the 8 lanes reduced as
// (u0+u4 + u2+u6) + (u1+u5 + u3+u7), then the tail elements in order with separate multiply and add.
float dot_f32_ref(const float* a, const float* b, int64_t n) {
  float s[8] = {0}, t[8] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 8; l++) {
      s[l] = std::fma(a[i + l], b[i + l], s[l]);
      t[l] = std::fma(a[i + 8 + l], b[i + 8 + l], t[l]);
    }
  if (i + 8 <= n) {
    for (int l = 0; l < 8; l++) s[l] = std::fma(a[i + l], b[i + l], s[l]);
    i += 8;
  }
  float u[8];
  for (int l = 0; l < 8; l++) u[l] = s[l] + t[l];
  const float h0 = u[0] + u[4], h1 = u[1] + u[5], h2 = u[2] + u[6], h3 = u[3] + u[7];
  float r = (h0 + h2) + (h1 + h3);
  for (; i < n; i++) {
    const float p = a[i] * b[i];
    r = r + p;
  }
  return r;
}

void dot4_f32_ref(const float* w, int64_t ws, const float* x, int64_t n, float out[4]) {
  for (int r = 0; r < 4; r++) out[r] = dot_f32_ref(w + r * ws, x, n);
}

}  // namespace

const DotKernels& dot_kernels_ref() {
  static const DotKernels k{dot_f32_ref, dot_f64_ref, dot4_f32_ref};
  return k;
}

}  // namespace rosetta
