// Reductions (definitions: docs/metrics.md). f64 throughout with Neumaier-compensated sums and a
// two-pass variance, so results agree with a straightforward f64 implementation to ~1e-15 relative
// whatever the data's offset or length; NaN/Inf are counted and excluded (reduce.h).
#include "rosetta/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "rosetta/isa.h"

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

// The chunk's lane sums: lane l = i mod 16 accumulates elements i = l, l+16, ... in order (so the AVX2
// path can keep four 4-wide f64 accumulators), then the lanes are added as a fixed tree.
double lane_total(const double* s) {
  double t[4];
  for (int j = 0; j < 4; j++) t[j] = (s[j] + s[j + 4]) + (s[j + 8] + s[j + 12]);
  return (t[0] + t[2]) + (t[1] + t[3]);
}

// -0 < +0: a total order on finite floats, so min/max do not depend on the order of visits.
inline bool tless(float a, float b) { return a < b || (a == b && std::signbit(a) && !std::signbit(b)); }

}  // namespace

StatsChunk stats_chunk_begin(const float* x, int64_t n, int64_t stride) {
  StatsChunk c{};
  c.mn = (float)kInf;
  c.mx = (float)-kInf;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(x[i * stride])) { c.shift = x[i * stride]; break; }
  return c;
}

void stats_chunk_run(const float* x, int64_t from, int64_t n, int64_t stride, StatsChunk& c, double* lanes) {
  double *s1 = lanes, *s2 = lanes + 16, *s3 = lanes + 32;
  for (int64_t i = from; i < n; ++i) {
    const float v = x[i * stride];
    if (std::isnan(v)) { ++c.nan; continue; }
    if (std::isinf(v)) { ++c.inf; continue; }
    ++c.finite;
    if (v == 0) ++c.zeros;
    if (tless(v, c.mn)) c.mn = v;
    if (tless(c.mx, v)) c.mx = v;
    if (std::fabs(v) > c.amax) c.amax = std::fabs(v);
    const int l = (int)(i & 15);
    const double d = (double)v - c.shift;
    s1[l] += d;
    s2[l] = std::fma(d, d, s2[l]);
    s3[l] = std::fma((double)v, (double)v, s3[l]);  // the square is exact in f64: one rounding
  }
}

void stats_chunk_end(StatsChunk& c, const double* lanes) {
  c.sd = lane_total(lanes);
  c.sdd = lane_total(lanes + 16);
  c.sxx = lane_total(lanes + 32);
}

StatsChunk stats_chunk_avx2(const float* x, int64_t n);  // arch/x86/avx2/reduce_avx2.cpp

StatsChunk stats_chunk(const float* x, int64_t n, int64_t stride) {
  if (stride == 1 && n >= 16 && current_isa() != Isa::Scalar) return stats_chunk_avx2(x, n);
  StatsChunk c = stats_chunk_begin(x, n, stride);
  double lanes[48] = {};
  stats_chunk_run(x, 0, n, stride, c, lanes);
  stats_chunk_end(c, lanes);
  return c;
}

Stats stats_fold(const StatsChunk* chunks, int64_t nChunks, int64_t count) {
  Stats st{};
  st.min = st.max = std::numeric_limits<double>::quiet_NaN();
  if (count <= 0) return st;
  st.count = (uint64_t)count;
  // Chan, Golub and LeVeque's pairwise update of (n, mean, M2), one chunk at a time, in order.
  double n = 0, mean = 0, m2 = 0;
  Sum sxx;
  float mn = (float)kInf, mx = (float)-kInf, amax = 0;
  for (int64_t k = 0; k < nChunks; k++) {
    const StatsChunk& c = chunks[k];
    st.nan += c.nan;
    st.inf += c.inf;
    st.zeros += c.zeros;
    if (c.finite == 0) continue;
    const double nb = (double)c.finite;
    const double mb = c.shift + c.sd / nb;
    const double m2b = std::fmax(0.0, c.sdd - c.sd * c.sd / nb);
    if (n == 0) {
      mean = mb, m2 = m2b;
    } else {
      const double tot = n + nb, delta = mb - mean;
      mean += delta * (nb / tot);
      m2 += m2b + delta * delta * (n * nb / tot);
    }
    n += nb;
    sxx.add(c.sxx);
    if (tless(c.mn, mn)) mn = c.mn;
    if (tless(mx, c.mx)) mx = c.mx;
    if (c.amax > amax) amax = c.amax;
  }
  if (n == 0) return st;
  st.mean = mean;
  st.std = std::sqrt(m2 / n);
  st.min = mn;
  st.max = mx;
  st.absmax = amax;
  st.l2 = std::sqrt(sxx.value());
  return st;
}

Stats stats_f32(const float* x, int64_t n, int64_t stride) {
  if (n <= 0) return stats_fold(nullptr, 0, 0);
  const int64_t nChunks = (n + kStatsChunk - 1) / kStatsChunk;
  StatsChunk one[8];
  std::vector<StatsChunk> many(nChunks > 8 ? nChunks : 0);
  StatsChunk* c = nChunks > 8 ? many.data() : one;
  for (int64_t k = 0; k < nChunks; k++)
    c[k] = stats_chunk(x + k * kStatsChunk * stride, std::min(kStatsChunk, n - k * kStatsChunk), stride);
  return stats_fold(c, nChunks, n);
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
