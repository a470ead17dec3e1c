// rosetta kernel library: the non-matmul operations of a llama-family forward pass, with llama.cpp's
// CPU semantics (ggml-cpu/ops.cpp) in Ggml mode and f64 arithmetic in Exact mode.
#pragma once
#include <cstdint>

#include "rosetta/matmul.h"

namespace rosetta {

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w   for nRows rows of n (w may be null: no weight).
// Ggml: squares in f32 summed in f64, scale = 1/sqrtf(float(mean) + eps) in f32, as ggml_rms_norm.
// In place is allowed (y == x).
void rms_norm(const float* x, const float* w, float* y, int64_t nRows, int64_t n, float eps, Numerics mode);

enum class RopeLayout : int { Norm = 0, Neox = 1 };

struct RopeArgs {
  float* x;               // [nTok, nHeads, headDim], rotated in place
  int64_t nTok, nHeads, headDim;
  const int32_t* pos;     // [nTok] positions
  int64_t nDims;          // rotated dims per head (even, <= headDim); the rest pass through
  RopeLayout layout;
  float freqBase;
  float freqScale;        // 1 / linear or YaRN factor (1 = none)
  float extFactor;        // YaRN extrapolation mix (0 = off)
  float attnFactor;       // magnitude scale (mscale)
  float betaFast, betaSlow;
  int32_t nCtxOrig;       // YaRN original context
  const float* freqFactors;  // [nDims/2] llama3 / rope_freqs divisors, or null
  Numerics mode;
};
// Ggml: theta built by repeated f32 multiplication and cosf/sinf exactly as ggml_rope_cache_init.
// Exact: theta = pos * base^(-2i/d) in f64.
void rope(const RopeArgs& a);

struct AttentionArgs {
  const float* q;      // [nTok, nHead * headDim], already rotated
  const float* k;      // cache: rows 0..nPast+nTok-1 of nHeadKv * headDim floats, kvStride apart
  const float* v;      // cache, same layout as k
  float* out;          // [nTok, nHead * headDim]
  float* probs;        // optional [nHead, nTok, nPast + nTok] softmax output (null: not kept)
  int64_t nTok, nPast, nHead, nHeadKv, headDim;
  float scale;         // usually 1/sqrt(headDim)
  Numerics mode;
  // Floats from one cache row to the next (0: nHeadKv * headDim, packed). A padded stride keeps rows
  // that are 1, 2 or 4 KB apart from landing in the same few L1 sets (src/model/forward.ts, newRunState).
  int64_t kvStride = 0;
};
// Causal attention; query head h reads kv head h / (nHead / nHeadKv). Runs on default_pool().
void attention(const AttentionArgs& a);

// y = silu(g) * u with silu(x) = x / (1 + exp(-x)), over rows of rowLen (0: one row of n). Ggml: as
// ggml_vec_swiglu_f32, each row's blocks of 8 through ggml_v_expf, the row's tail with expf.
void swiglu(const float* g, const float* u, float* y, int64_t n, Numerics mode, int64_t rowLen = 0);

// y[i] = a[i] + b[i] in f32 (ggml_vec_add_f32: the residual connections), rows of rowLen shared out over
// the pool for a prompt; broadcast: b is one row of rowLen added to every row (a bias). y may alias a or b.
void add_f32(const float* a, const float* b, float* y, int64_t n, int64_t rowLen, bool broadcast = false);

// Summaries (stats_f32, rosetta/reduce.h) of nJobs slices x[j][0..n[j]), on default_pool(): the
// slices' chunks are spread over the pool and folded per slice; every result is stats_f32's, bit for
// bit, on every path.
struct Stats;
void stats_many(const float* const* x, const int64_t* n, int64_t nJobs, Stats* out);

// In-place softmax over rows of n (max-subtracted; sum in f64 as ggml_vec_soft_max_f32).
void softmax_rows(float* x, int64_t nRows, int64_t n, Numerics mode);

}  // namespace rosetta
