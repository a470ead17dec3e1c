// Norm, RoPE, attention, softmax and SwiGLU with llama.cpp's CPU semantics (Ggml) or in f64 (Exact).
// These are memory- or latency-bound next to the matmuls, so one scalar implementation serves every
// ISA path (which therefore agree on them bit for bit).
#include "rosetta/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "rosetta/threadpool.h"

namespace rosetta {

void rms_norm(const float* x, const float* w, float* y, int64_t nRows, int64_t n, float eps, Numerics mode) {
  for (int64_t r = 0; r < nRows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    if (mode == Numerics::Ggml) {
      double sum = 0;  // ggml_float; each square is rounded to f32 first
      for (int64_t i = 0; i < n; i++) sum += (double)(xr[i] * xr[i]);
      const float mean = (float)(sum / (double)n);
      const float scale = 1.0f / std::sqrt(mean + eps);
      // ggml runs RMS_NORM then MUL as separate f32 ops: (x * scale) * w
      for (int64_t i = 0; i < n; i++) yr[i] = w ? (xr[i] * scale) * w[i] : xr[i] * scale;
    } else {
      double sum = 0;
      for (int64_t i = 0; i < n; i++) sum += (double)xr[i] * (double)xr[i];
      const double scale = 1.0 / std::sqrt(sum / (double)n + (double)eps);
      for (int64_t i = 0; i < n; i++) yr[i] = (float)((double)xr[i] * scale * (w ? (double)w[i] : 1.0));
    }
  }
}

namespace {

// ggml_rope_yarn_corr_dims
void yarn_corr_dims(const RopeArgs& a, float dims[2]) {
  auto corr = [&](float nRot) {
    return (float)a.nDims * std::log((float)a.nCtxOrig / (nRot * 2 * (float)M_PI)) / (2 * std::log(a.freqBase));
  };
  const float start = std::floor(corr(a.betaFast)), end = std::ceil(corr(a.betaSlow));
  dims[0] = std::max(0.0f, start);
  dims[1] = std::min((float)(a.nDims - 1), end);
}

// cos/sin for each rotated pair at one position, as ggml_rope_cache_init + rope_yarn (f32) or in f64.
void rope_cache(const RopeArgs& a, int32_t pos, const float corr[2], double* cs) {
  const bool exact = a.mode == Numerics::Exact;
  const float thetaScale = std::pow(a.freqBase, -2.0f / (float)a.nDims);
  float theta = (float)pos;
  for (int64_t i0 = 0; i0 < a.nDims; i0 += 2) {
    const float ff = a.freqFactors ? a.freqFactors[i0 / 2] : 1.0f;
    if (!exact) {
      const float extrap = theta / ff;
      const float interp = a.freqScale * extrap;
      float th = interp, mscale = a.attnFactor;
      if (a.extFactor != 0.0f) {
        const float y = ((float)(i0 / 2) - corr[0]) / std::max(0.001f, corr[1] - corr[0]);
        const float mix = (1 - std::min(1.0f, std::max(0.0f, y))) * a.extFactor;
        th = interp * (1 - mix) + extrap * mix;
        mscale *= 1.0f + 0.1f * std::log(1.0f / a.freqScale);
      }
      cs[i0] = std::cos(th) * mscale;
      cs[i0 + 1] = std::sin(th) * mscale;
      theta *= thetaScale;
    } else {
      const double extrap = (double)pos * std::pow((double)a.freqBase, -(double)i0 / (double)a.nDims) / ff;
      const double interp = (double)a.freqScale * extrap;
      double th = interp, mscale = a.attnFactor;
      if (a.extFactor != 0.0f) {
        const double y = ((double)(i0 / 2) - corr[0]) / std::max(0.001, (double)corr[1] - corr[0]);
        const double mix = (1 - std::min(1.0, std::max(0.0, y))) * a.extFactor;
        th = interp * (1 - mix) + extrap * mix;
        mscale *= 1.0 + 0.1 * std::log(1.0 / a.freqScale);
      }
      cs[i0] = std::cos(th) * mscale;
      cs[i0 + 1] = std::sin(th) * mscale;
    }
  }
}

}  // namespace

void rope(const RopeArgs& a) {
  float corr[2] = {0, 0};
  if (a.extFactor != 0.0f) yarn_corr_dims(a, corr);
  std::vector<double> cs((size_t)a.nDims);
  const bool exact = a.mode == Numerics::Exact;
  const int64_t half = a.nDims / 2;
  for (int64_t t = 0; t < a.nTok; t++) {
    rope_cache(a, a.pos[t], corr, cs.data());
    for (int64_t h = 0; h < a.nHeads; h++) {
      float* x = a.x + (t * a.nHeads + h) * a.headDim;
      for (int64_t i0 = 0; i0 < a.nDims; i0 += 2) {
        // NORM rotates adjacent pairs; NEOX rotates element i with element i + nDims/2
        const int64_t j0 = a.layout == RopeLayout::Norm ? i0 : i0 / 2;
        const int64_t j1 = a.layout == RopeLayout::Norm ? i0 + 1 : i0 / 2 + half;
        if (exact) {
          const double x0 = x[j0], x1 = x[j1], c = cs[i0], s = cs[i0 + 1];
          x[j0] = (float)(x0 * c - x1 * s);
          x[j1] = (float)(x0 * s + x1 * c);
        } else {
          const float x0 = x[j0], x1 = x[j1], c = (float)cs[i0], s = (float)cs[i0 + 1];
          x[j0] = x0 * c - x1 * s;
          x[j1] = x0 * s + x1 * c;
        }
      }
    }
  }
}

namespace {

// One query row of one head: softmax(q.k * scale) over keys [0, nKeys), then the weighted sum of v.
void attend_row(const AttentionArgs& a, const float* q, int64_t kvOff, int64_t nKeys, float* out, float* probs,
                std::vector<double>& sc) {
  const int64_t d = a.headDim, stride = a.nHeadKv * a.headDim;
  const bool exact = a.mode == Numerics::Exact;
  double mx = -INFINITY;
  for (int64_t j = 0; j < nKeys; j++) {
    const float* k = a.k + j * stride + kvOff;
    double s = 0;
    for (int64_t i = 0; i < d; i++) s += (double)q[i] * (double)k[i];
    // ggml: kq is an f32 tensor, scaled in f32 by soft_max_ext
    sc[j] = exact ? s * (double)a.scale : (double)((float)s * a.scale);
    mx = std::max(mx, sc[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < nKeys; j++) {
    sc[j] = exact ? std::exp(sc[j] - mx) : (double)std::exp((float)sc[j] - (float)mx);
    sum += sc[j];
  }
  const double inv = 1.0 / sum;
  for (int64_t j = 0; j < nKeys; j++) {
    sc[j] = exact ? sc[j] * inv : (double)((float)sc[j] * (float)inv);
    if (probs) probs[j] = (float)sc[j];
  }
  for (int64_t i = 0; i < d; i++) {
    double acc = 0;
    for (int64_t j = 0; j < nKeys; j++) acc += sc[j] * (double)a.v[j * stride + kvOff + i];
    out[i] = (float)acc;
  }
}

}  // namespace

void attention(const AttentionArgs& a) {
  const int64_t group = a.nHead / a.nHeadKv, nCtx = a.nPast + a.nTok;
  default_pool().run((int)a.nHead, [&](int h) {
    std::vector<double> sc((size_t)nCtx);
    const int64_t kvOff = (h / group) * a.headDim;
    for (int64_t t = 0; t < a.nTok; t++) {
      const int64_t nKeys = a.nPast + t + 1;  // causal: keys up to and including this position
      float* probs = a.probs ? a.probs + (h * a.nTok + t) * nCtx : nullptr;
      if (probs) std::fill(probs, probs + nCtx, 0.0f);
      attend_row(a, a.q + t * a.nHead * a.headDim + h * a.headDim, kvOff, nKeys,
                 a.out + t * a.nHead * a.headDim + h * a.headDim, probs, sc);
    }
  });
}

void swiglu(const float* g, const float* u, float* y, int64_t n, Numerics mode) {
  if (mode == Numerics::Ggml) {
    for (int64_t i = 0; i < n; i++) y[i] = (g[i] / (1.0f + std::exp(-g[i]))) * u[i];
  } else {
    for (int64_t i = 0; i < n; i++) {
      const double x = g[i];
      y[i] = (float)(x / (1.0 + std::exp(-x)) * (double)u[i]);
    }
  }
}

void softmax_rows(float* x, int64_t nRows, int64_t n, Numerics mode) {
  for (int64_t r = 0; r < nRows; r++) {
    float* row = x + r * n;
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = std::max(mx, row[i]);
    double sum = 0;
    if (mode == Numerics::Ggml) {
      for (int64_t i = 0; i < n; i++) { row[i] = std::exp(row[i] - mx); sum += row[i]; }
      const float inv = (float)(1.0 / sum);
      for (int64_t i = 0; i < n; i++) row[i] *= inv;
    } else {
      std::vector<double> e((size_t)n);
      for (int64_t i = 0; i < n; i++) { e[i] = std::exp((double)row[i] - (double)mx); sum += e[i]; }
      for (int64_t i = 0; i < n; i++) row[i] = (float)(e[i] / sum);
    }
  }
}

}  // namespace rosetta
