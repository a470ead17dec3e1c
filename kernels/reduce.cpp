// Reductions (definitions: docs/metrics.md). f64 throughout with Neumaier-compensated sums and a
// two-pass variance, so results agree with a straightforward f64 implementation to ~1e-15 relative
// whatever the data's offset or length; NaN/Inf are counted and excluded (reduce.h).
#include "rosetta/reduce.h"

#include <cmath>
#include <limits>

namespace rosetta {
namespace {

// Neumaier's variant of Kahan summation: also exact when the addend is larger than the running sum.
struct Sum {
  double s = 0, c = 0;
  void add(double x) {
    const double t = s + x;
    c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  double value() const { return s + c; }
};

enum Kind { FINITE, NAN_, POS_INF, NEG_INF };

inline Kind kind(float v) {
  if (std::isnan(v)) return NAN_;
  if (std::isinf(v)) return v > 0 ? POS_INF : NEG_INF;
  return FINITE;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

// num/den where den is a sum of squares: 0/0 = 0 (identical), x/0 = +Inf.
inline double ratio(double num, double den) {
  if (den > 0) return num / den;
  return num > 0 ? kInf : 0.0;
}

}  // namespace

Stats stats_f32(const float* x, int64_t n, int64_t stride) {
  Stats st{};
  st.min = st.max = std::numeric_limits<double>::quiet_NaN();
  if (n <= 0) return st;
  st.count = (uint64_t)n;
  Sum sum, sq;
  uint64_t finite = 0;
  double mn = kInf, mx = -kInf, amax = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i * stride];
    if (std::isnan(v)) { ++st.nan; continue; }
    if (std::isinf(v)) { ++st.inf; continue; }
    const double d = v;
    ++finite;
    if (d == 0) ++st.zeros;
    if (d < mn) mn = d;
    if (d > mx) mx = d;
    if (std::fabs(d) > amax) amax = std::fabs(d);
    sum.add(d);
    sq.add(d * d);
  }
  if (finite == 0) return st;
  st.mean = sum.value() / (double)finite;
  Sum dev, dev2;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i * stride];
    if (!std::isfinite(v)) continue;
    const double d = (double)v - st.mean;
    dev.add(d);
    dev2.add(d * d);
  }
  // Corrected two-pass: removes the residual of the mean's own rounding.
  const double s1 = dev.value();
  const double var = (dev2.value() - s1 * s1 / (double)finite) / (double)finite;
  st.std = var > 0 ? std::sqrt(var) : 0.0;
  st.min = mn;
  st.max = mx;
  st.absmax = amax;
  st.l2 = std::sqrt(sq.value());
  return st;
}

DiffMetrics diff_f32(const float* a, const float* b, int64_t n) {
  DiffMetrics m{};
  m.maxAbsIndex = -1;
  if (n < 0) n = 0;
  m.count = (uint64_t)n;
  Sum sumAbs, sumSq, aa, bb, ab, sa;
  uint64_t finite = 0;
  for (int64_t i = 0; i < n; ++i) {
    const Kind ka = kind(a[i]), kb = kind(b[i]);
    if (ka != FINITE || kb != FINITE) {
      ++m.nonfinite;
      if (ka != kb) ++m.nonfiniteMismatch;
      continue;
    }
    ++finite;
    const double x = a[i], y = b[i], e = x - y, ae = std::fabs(e);
    if (m.maxAbsIndex < 0 || ae > m.maxAbs) {  // first index of the maximum
      m.maxAbs = ae;
      m.maxAbsIndex = i;
    }
    sumAbs.add(ae);
    sumSq.add(e * e);
    aa.add(x * x);
    bb.add(y * y);
    ab.add(x * y);
    sa.add(x);
  }
  if (finite == 0) {
    m.sqnrDb = kInf;
    m.cosine = 1.0;
    return m;
  }
  const double nf = (double)finite;
  m.meanAbs = sumAbs.value() / nf;
  const double se = sumSq.value(), ea = aa.value(), eb = bb.value();
  m.nmseEnergy = ratio(se, ea);
  // Population variance of a over the finite pairs, two-pass for accuracy.
  const double mean = sa.value() / nf;
  Sum dev, dev2;
  for (int64_t i = 0; i < n; ++i) {
    if (kind(a[i]) != FINITE || kind(b[i]) != FINITE) continue;
    const double d = (double)a[i] - mean;
    dev.add(d);
    dev2.add(d * d);
  }
  const double s1 = dev.value();
  const double var = std::fmax(0.0, (dev2.value() - s1 * s1 / nf) / nf);
  m.nmseVariance = ratio(se / nf, var);
  m.sqnrDb = m.nmseEnergy == 0 ? kInf : m.nmseEnergy == kInf ? -kInf : -10.0 * std::log10(m.nmseEnergy);
  if (ea == 0 && eb == 0) {
    m.cosine = 1.0;
  } else if (ea == 0 || eb == 0) {
    m.cosine = 0.0;
  } else {
    const double c = ab.value() / (std::sqrt(ea) * std::sqrt(eb));
    m.cosine = c > 1 ? 1 : c < -1 ? -1 : c;
  }
  return m;
}

}  // namespace rosetta
