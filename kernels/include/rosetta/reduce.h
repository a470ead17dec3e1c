// rosetta kernel library: reductions used by capture and comparison (definitions: docs/metrics.md).
// All accumulation is in f64. NaN and +-Inf are counted and excluded from every other statistic.
#pragma once
#include <cstdint>

namespace rosetta {

struct Stats {
  uint64_t count;   // elements visited (finite + nan + inf)
  uint64_t nan;     // NaN elements
  uint64_t inf;     // +-Inf elements
  uint64_t zeros;   // finite elements equal to 0 (-0 included)
  double mean;      // over finite elements (0 if none)
  double std;       // population std over finite elements (0 if none)
  double min, max;  // over finite elements (NaN if none)
  double absmax;    // max |x| over finite elements (0 if none)
  double l2;        // sqrt(sum x^2) over finite elements
};

// Stats over x[0], x[stride], ..., x[(n-1)*stride] (n may be 0). The span is cut into chunks of
// kStatsChunk elements; each chunk is summarized on its own (stats_chunk) and the chunks are folded in
// order (stats_fold), so a long span can be split over threads and still give this exact result.
Stats stats_f32(const float* x, int64_t n, int64_t stride);

constexpr int64_t kStatsChunk = 4096;

// One chunk's partial summary (docs/metrics.md, "How it is computed").
struct StatsChunk {
  uint64_t nan, inf, zeros, finite;
  double shift;          // the chunk's first finite element (0 if none)
  double sd, sdd;        // sum (x - shift), sum (x - shift)^2 over the finite elements
  double sxx;            // sum x^2
  float mn, mx, amax;    // min/max in the total order -0 < +0 (+-Inf if no finite element), max |x|
};

// Partial summary of x[0], x[stride], ... x[(n-1)*stride], n <= kStatsChunk, on the current ISA path
// (every path gives the same bits).
StatsChunk stats_chunk(const float* x, int64_t n, int64_t stride);
// The steps of stats_chunk, shared by the SIMD paths so that every path has one definition: begin
// (shift = first finite element), run over elements [from, n) with lane l = i mod 16 of each of the
// three sums at lanes[16*k + l] (k = 0: x - shift, 1: (x - shift)^2, 2: x^2), end (lanes added as a
// fixed tree).
StatsChunk stats_chunk_begin(const float* x, int64_t n, int64_t stride);
void stats_chunk_run(const float* x, int64_t from, int64_t n, int64_t stride, StatsChunk& c, double* lanes);
void stats_chunk_end(StatsChunk& c, const double* lanes);
// The summary of `count` elements from their chunks' partial summaries, in order.
Stats stats_fold(const StatsChunk* chunks, int64_t nChunks, int64_t count);

struct DiffMetrics {
  uint64_t count;          // pairs visited
  uint64_t nonfinite;      // pairs where a or b is NaN/Inf (excluded from the metrics below)
  uint64_t nonfiniteMismatch; // pairs where a and b differ in finiteness or in kind (NaN vs Inf vs -Inf)
  // Below: over the pairs where both are finite (edge cases: docs/metrics.md).
  double maxAbs;           // max |a-b|
  int64_t maxAbsIndex;     // first index of max |a-b| (-1 if none)
  double meanAbs;          // mean |a-b|
  double nmseEnergy;       // sum (a-b)^2 / sum a^2      (a is the reference; x/0 = +Inf, 0/0 = 0)
  double nmseVariance;     // mean (a-b)^2 / var(a)      (population variance; x/0 = +Inf, 0/0 = 0)
  double sqnrDb;           // -10 log10(nmseEnergy)      (+Inf when identical)
  double cosine;           // a.b / (|a| |b|)            (1 when both all-zero, 0 when one is)
};

// Pairwise metrics between a (reference) and b over n contiguous elements.
DiffMetrics diff_f32(const float* a, const float* b, int64_t n);

}  // namespace rosetta
