// Scalar reference dot kernels: the oracle the SIMD paths are diffed against. The f32 kernel
// accumulates in f64 too (the most accurate answer), so a SIMD path's distance from it is its own
// accumulation error.
#include "rosetta/matmul.h"

namespace rosetta {
namespace {

double dot_f64_ref(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

float dot_f32_ref(const float* a, const float* b, int64_t n) { return (float)dot_f64_ref(a, b, n); }

void dot4_f32_ref(const float* w, int64_t ws, const float* x, int64_t n, float out[4]) {
  for (int r = 0; r < 4; r++) out[r] = dot_f32_ref(w + r * ws, x, n);
}

}  // namespace

const DotKernels& dot_kernels_ref() {
  static const DotKernels k{dot_f32_ref, dot_f64_ref, dot4_f32_ref};
  return k;
}

}  // namespace rosetta
