// Temporary stand-in for rosetta::stats_f32 while the kernel library does not define it yet: compiled
// out (ROSETTA_HAVE_KERNEL_STATS, set by cmake/llama.cmake) as soon as kernels/ does. Same definitions
// as kernels/include/rosetta/reduce.h: f64 accumulation, NaN/Inf counted and excluded.
#ifndef ROSETTA_HAVE_KERNEL_STATS
#include <cmath>
#include <limits>

#include "rosetta/reduce.h"

namespace rosetta {

Stats stats_f32(const float* x, int64_t n, int64_t stride) {
  Stats s{};
  const double qnan = std::numeric_limits<double>::quiet_NaN();
  s.min = qnan, s.max = qnan;
  uint64_t finite = 0;
  double sum = 0, sumsq = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = x[i * stride];
    s.count++;
    if (std::isnan(v)) { s.nan++; continue; }
    if (std::isinf(v)) { s.inf++; continue; }
    if (v == 0) s.zeros++;
    if (finite == 0 || v < s.min) s.min = v;
    if (finite == 0 || v > s.max) s.max = v;
    if (std::fabs(v) > s.absmax) s.absmax = std::fabs(v);
    finite++;
    sum += v;
    sumsq += v * v;
  }
  if (finite) {
    s.mean = sum / (double)finite;
    double acc = 0;
    for (int64_t i = 0; i < n; i++) {
      double v = x[i * stride];
      if (std::isfinite(v)) acc += (v - s.mean) * (v - s.mean);
    }
    s.std = std::sqrt(acc / (double)finite);
  }
  s.l2 = std::sqrt(sumsq);
  return s;
}

}  // namespace rosetta
#endif
