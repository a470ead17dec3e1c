// Norm, RoPE, attention, softmax and SwiGLU with llama.cpp's CPU semantics (Ggml) or in f64 (Exact).
// The scalar code is the reference of every ISA path; the exp-heavy loops (SwiGLU, softmax blocks) also
// have an AVX2 form with ggml's own intrinsics (arch/x86/avx2/ops_avx2.cpp), bit-identical to it.
#include "rosetta/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "rosetta/isa.h"
#include "rosetta/reduce.h"
#include "rosetta/threadpool.h"
#include "rosetta/vecdot.h"

namespace rosetta {

// kernels/arch/x86/avx2/ops_avx2.cpp: the same lanes with ggml's AVX2 intrinsics (bit-identical).
void swiglu8_avx2(const float* g, const float* u, float* y, int64_t n);
double exp_blocks_avx2(float* p, int64_t nBlocks, float mx);
void kqv_tiny_avx2(const float* p, const float* v, int64_t stride, int64_t nKeys, int64_t d, float* out);
void kqv_dot_avx2(const float* p, const float* v, int64_t stride, int64_t nKeys, int64_t d, float* out);
void rope_rotate_fma(float* x, const float* c, const float* s, int64_t nDims, bool adjacent);
float kq_scores_avx2(const float* q, const float* k, int64_t stride, int64_t nKeys, int64_t d, float scale, float* p);
// kernels/arch/x86/avx512/ops_avx512.cpp: two of them 16 lanes wide (bit-identical).
void kqv_tiny_avx512(const float* p, const float* v, int64_t stride, int64_t nKeys, int64_t d, float* out);
float kq_scores_avx512(const float* q, const float* k, int64_t stride, int64_t nKeys, int64_t d, float scale, float* p);

namespace {
// Rows [0, nRows) of a row-independent op, shared out over the pool when there is enough work (a prompt;
// one decode row stays on the calling thread). Each row is computed exactly as alone.
template <typename F>
void for_rows(int64_t nRows, int64_t rowWork, F&& f) {
  ThreadPool& pool = default_pool();
  if (nRows < 2 || pool.size() < 2 || nRows * rowWork < (int64_t)1 << 15) {
    for (int64_t r = 0; r < nRows; r++) f(r);
    return;
  }
  const int64_t nTasks = std::min<int64_t>(nRows, (int64_t)pool.size() * 4), per = (nRows + nTasks - 1) / nTasks;
  pool.run((int)((nRows + per - 1) / per), [&](int t) {
    for (int64_t r = t * per, end = std::min(nRows, r + per); r < end; r++) f(r);
  });
}

// Rows a ggml-mode RMSNorm sums side by side.
constexpr int64_t kNormRows = 8;

// ggml_float sums of squares of rows [r0, r0 + nr), nr <= kNormRows: each square rounded to f32, then
// added in f64 in element order, as ggml's one-row loop does. One row's loop is a chain of dependent f64
// adds (4 cycles each); a block of rows runs its chains side by side, each row's additions unchanged.
void sum_squares_rows(const float* x, int64_t n, int64_t r0, int64_t nr, double* sum) {
  if (nr == kNormRows) {
    double s[kNormRows] = {};
    const float* xr[kNormRows];
    for (int64_t k = 0; k < kNormRows; k++) xr[k] = x + (r0 + k) * n;
    for (int64_t i = 0; i < n; i++)
#pragma GCC unroll 8
      for (int64_t k = 0; k < kNormRows; k++) s[k] += (double)(xr[k][i] * xr[k][i]);
    for (int64_t k = 0; k < kNormRows; k++) sum[k] = s[k];
    return;
  }
  for (int64_t k = 0; k < nr; k++) {
    const float* xr = x + (r0 + k) * n;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)(xr[i] * xr[i]);
    sum[k] = s;
  }
}

}  // namespace

void rms_norm(const float* x, const float* w, float* y, int64_t nRows, int64_t n, float eps, Numerics mode) {
  if (mode == Numerics::Ggml) {
    for_rows((nRows + kNormRows - 1) / kNormRows, n * kNormRows, [&](int64_t b) {
      const int64_t r0 = b * kNormRows, nr = std::min(kNormRows, nRows - r0);
      double sum[kNormRows];
      sum_squares_rows(x, n, r0, nr, sum);
      for (int64_t k = 0; k < nr; k++) {
        const float* xr = x + (r0 + k) * n;
        float* yr = y + (r0 + k) * n;
        const float mean = (float)(sum[k] / (double)n);
        const float scale = 1.0f / std::sqrt(mean + eps);
        // ggml runs RMS_NORM then MUL as separate f32 ops: (x * scale) * w
        for (int64_t i = 0; i < n; i++) yr[i] = w ? (xr[i] * scale) * w[i] : xr[i] * scale;
      }
    });
    return;
  }
  for_rows(nRows, n, [&](int64_t r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)xr[i] * (double)xr[i];
    const double scale = 1.0 / std::sqrt(sum / (double)n + (double)eps);
    for (int64_t i = 0; i < n; i++) yr[i] = (float)((double)xr[i] * scale * (w ? (double)w[i] : 1.0));
  });
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

namespace {
// The last rope call's cos/sin table per token, kept by the calling thread: q and k of a layer, and every
// layer of a forward pass, rotate the same positions with the same parameters, and the table (nDims/2
// cosf/sinf pairs per token) cost as much as the rotations. A call whose positions or parameters differ
// in anything the table depends on recomputes it; the values are those rope_cache gives (bit for bit).
struct RopeMemo {
  std::vector<int32_t> pos;
  std::vector<float> factors;
  int64_t nDims = -1;
  float freqBase = 0, freqScale = 0, extFactor = 0, attnFactor = 0, betaFast = 0, betaSlow = 0;
  int32_t nCtxOrig = 0;
  Numerics mode = Numerics::Ggml;
  std::vector<double> cs;  // [nTok][nDims]

  bool holds(const RopeArgs& a) const {
    return nDims == a.nDims && freqBase == a.freqBase && freqScale == a.freqScale && extFactor == a.extFactor &&
           attnFactor == a.attnFactor && betaFast == a.betaFast && betaSlow == a.betaSlow && nCtxOrig == a.nCtxOrig &&
           mode == a.mode && (int64_t)pos.size() == a.nTok && std::equal(pos.begin(), pos.end(), a.pos) &&
           factors.size() == (a.freqFactors ? (size_t)(a.nDims / 2) : 0) &&
           (!a.freqFactors || std::equal(factors.begin(), factors.end(), a.freqFactors));
  }
  void take(const RopeArgs& a) {
    pos.assign(a.pos, a.pos + a.nTok);
    factors.assign(a.freqFactors, a.freqFactors ? a.freqFactors + a.nDims / 2 : a.freqFactors);
    nDims = a.nDims, freqBase = a.freqBase, freqScale = a.freqScale, extFactor = a.extFactor, attnFactor = a.attnFactor;
    betaFast = a.betaFast, betaSlow = a.betaSlow, nCtxOrig = a.nCtxOrig, mode = a.mode;
    cs.resize((size_t)(a.nTok * a.nDims));
  }
};
}  // namespace

void rope(const RopeArgs& a) {
  float corr[2] = {0, 0};
  if (a.extFactor != 0.0f) yarn_corr_dims(a, corr);
  const bool exact = a.mode == Numerics::Exact;
  const int64_t half = a.nDims / 2;
  const bool simd = current_isa() != Isa::Scalar;
  thread_local RopeMemo memo;
  const bool have = memo.holds(a);
  if (!have) memo.take(a);
  double* const table = memo.cs.data();  // rows written by whichever thread takes token t (a miss)
  for_rows(a.nTok, a.nHeads * a.nDims, [&](int64_t t) {
    thread_local std::vector<float> cf;
    if ((int64_t)cf.size() < a.nDims) cf.resize((size_t)a.nDims);
    double* const cs = table + t * a.nDims;
    if (!have) rope_cache(a, a.pos[t], corr, cs);
    if (!exact && simd) {
      // the pairs' cos and sin as f32 once for all heads (the scalar path below converts them per use)
      for (int64_t i = 0; i < half; i++) cf[i] = (float)cs[2 * i], cf[half + i] = (float)cs[2 * i + 1];
      for (int64_t h = 0; h < a.nHeads; h++)
        rope_rotate_fma(a.x + (t * a.nHeads + h) * a.headDim, cf.data(), cf.data() + half, a.nDims, a.layout == RopeLayout::Norm);
      return;
    }
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
          // as the haswell build's compiler contracted rotate_pairs (measured against its output):
          // x0*c - x1*s with x0*c fused, x0*s + x1*c with x0*s fused
          const float x0 = x[j0], x1 = x[j1], c = (float)cs[i0], s = (float)cs[i0 + 1];
          x[j0] = std::fma(x0, c, -(x1 * s));
          x[j1] = std::fma(x0, s, x1 * c);
        }
      }
    }
  });
}

namespace {

inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::vector<float>& tls_probs(int64_t n) {
  thread_local std::vector<float> p;
  if ((int64_t)p.size() < n) p.resize((size_t)n);
  return p;
}

// ggml_v_expf (AVX2 build), one lane: the same operations in the same order, so bit for bit the same.
float v_expf(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  uint32_t zb;
  std::memcpy(&zb, &z, 4);
  const uint32_t e = zb << 23;
  const float k = bits_f32(e + 0x3f800000u);
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, 0x1.ffffecp-1f * b);
  if (!(std::fabs(n) > 126.0f)) return std::fma(k, j, k);
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = bits_f32(g + 0x7f000000u), s2 = bits_f32(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return std::fma(s2, j, s2) * s1;
}

// One query row of one head. Exact: f64 throughout. Ggml: llama.cpp's graph with FA off and an f32 KV
// cache of n_kv (a multiple of 256) cells: kq = ggml_vec_dot_f32 per key, soft_max_ext (scale in f32,
// masked cells -inf, ggml_v_expf over blocks of 8, f64 sum of each block's hsum), then kqv =
// mul_mat(v^T, kq): tinyBLAS (one 8-lane accumulator) for a batch of >= 2 rows when headDim % 4 == 0,
// else ggml_vec_dot_f32 over the n_kv cells. Masked cells contribute exact zeros, so only the valid
// prefix is visited, with each cell in the lane its index gives it.
int64_t kv_stride(const AttentionArgs& a) { return a.kvStride ? a.kvStride : a.nHeadKv * a.headDim; }

void attend_row_ggml(const AttentionArgs& a, const float* q, int64_t kvOff, int64_t nKeys, float* out, float* probs,
                     std::vector<double>& sc) {
  const int64_t d = a.headDim, stride = kv_stride(a);
  const VecDotFn dotF32 = vec_dot_fn(*type_traits(T_F32), false);  // ggml_vec_dot_f32
  const int64_t nPad = (nKeys + 7) / 8 * 8;
  std::vector<float>& p = tls_probs(nPad);
  float mx = -INFINITY;
  const bool simd = current_isa() != Isa::Scalar;
  const bool avx512 = current_isa() == Isa::Avx512;
  if (avx512 && d % 32 == 0) mx = kq_scores_avx512(q, a.k + kvOff, stride, nKeys, d, a.scale, p.data());
  else if (simd && d % 32 == 0) mx = kq_scores_avx2(q, a.k + kvOff, stride, nKeys, d, a.scale, p.data());
  else
    for (int64_t j = 0; j < nKeys; j++) {
      p[j] = dotF32(d, a.k + j * stride + kvOff, q) * a.scale;
      mx = std::max(mx, p[j]);
    }
  double sum = 0;
  int64_t j0 = 0;
  if (simd) sum = exp_blocks_avx2(p.data(), nKeys / 8, mx), j0 = nKeys / 8 * 8;
  for (; j0 < nPad; j0 += 8) {
    for (int64_t j = j0; j < j0 + 8; j++) p[j] = j < nKeys ? v_expf(p[j] - mx) : 0.0f;
    sum += (double)hsum8_ref(&p[j0]);
  }
  const float inv = (float)(1.0 / sum);
  for (int64_t j = 0; j < nKeys; j++) {
    p[j] *= inv;
    if (probs) probs[j] = p[j];
  }
  const bool tiny = a.nTok >= 2 && d % 4 == 0;
  if (simd && d % 8 == 0) {
    if (tiny && avx512 && d % 16 == 0) return kqv_tiny_avx512(p.data(), a.v + kvOff, stride, nKeys, d, out);
    if (tiny) return kqv_tiny_avx2(p.data(), a.v + kvOff, stride, nKeys, d, out);
    return kqv_dot_avx2(p.data(), a.v + kvOff, stride, nKeys, d, out);
  }
  for (int64_t i = 0; i < d; i++) {
    const float* v = a.v + kvOff + i;
    if (tiny) {
      float acc[8] = {0};
      for (int64_t j = 0; j < nKeys; j++) acc[j & 7] = std::fma(p[j], v[j * stride], acc[j & 7]);
      out[i] = hsum8_ref(acc);
    } else {
      float acc[4][8] = {{0}};
      for (int64_t j = 0; j < nKeys; j++) acc[(j >> 3) & 3][j & 7] = std::fma(p[j], v[j * stride], acc[(j >> 3) & 3][j & 7]);
      out[i] = reduce32_ref(acc);
    }
  }
  (void)sc;
}

void attend_row_exact(const AttentionArgs& a, const float* q, int64_t kvOff, int64_t nKeys, float* out, float* probs,
                      std::vector<double>& sc) {
  const int64_t d = a.headDim, stride = kv_stride(a);
  double mx = -INFINITY;
  for (int64_t j = 0; j < nKeys; j++) {
    const float* k = a.k + j * stride + kvOff;
    double s = 0;
    for (int64_t i = 0; i < d; i++) s += (double)q[i] * (double)k[i];
    sc[j] = s * (double)a.scale;
    mx = std::max(mx, sc[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < nKeys; j++) {
    sc[j] = std::exp(sc[j] - mx);
    sum += sc[j];
  }
  const double inv = 1.0 / sum;
  for (int64_t j = 0; j < nKeys; j++) {
    sc[j] = sc[j] * inv;
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
  const bool exact = a.mode == Numerics::Exact;
  // Heads in contiguous blocks, one block per thread, each a whole number of KV groups where it can be:
  // one head per task had the two threads on neighbouring heads at once, writing the same output
  // cache lines (a head's row is 512 bytes, the buffers are not line-aligned) and reading both KV
  // heads; in blocks the attention of a 64-token prompt ran 1.6x faster on two threads (docs/engine.md).
  const int64_t threads = default_pool().size();
  int64_t per = (a.nHead + threads - 1) / threads;
  if (group > 1) per = std::min(a.nHead, (per + group - 1) / group * group);
  default_pool().run((int)((a.nHead + per - 1) / per), [&](int task) {
    std::vector<double> sc((size_t)nCtx);
    for (int64_t h = task * per, h1 = std::min(a.nHead, h + per); h < h1; h++) {
      const int64_t kvOff = (h / group) * a.headDim;
      for (int64_t t = 0; t < a.nTok; t++) {
        const int64_t nKeys = a.nPast + t + 1;  // causal: keys up to and including this position
        float* probs = a.probs ? a.probs + (h * a.nTok + t) * nCtx : nullptr;
        if (probs) std::fill(probs, probs + nCtx, 0.0f);
        const float* q = a.q + t * a.nHead * a.headDim + h * a.headDim;
        float* out = a.out + t * a.nHead * a.headDim + h * a.headDim;
        if (exact) attend_row_exact(a, q, kvOff, nKeys, out, probs, sc);
        else attend_row_ggml(a, q, kvOff, nKeys, out, probs, sc);
      }
    }
  });
}

void add_f32(const float* a, const float* b, float* y, int64_t n, int64_t rowLen, bool broadcast) {
  if (rowLen <= 0 || rowLen > n) rowLen = n;
  for_rows((n + rowLen - 1) / rowLen, rowLen, [&](int64_t r) {
    const int64_t i0 = r * rowLen, len = std::min(n, i0 + rowLen) - i0;
    const float* ar = a + i0;
    const float* br = broadcast ? b : b + i0;
    float* yr = y + i0;
    for (int64_t i = 0; i < len; i++) yr[i] = ar[i] + br[i];
  });
}

void swiglu(const float* g, const float* u, float* y, int64_t n, Numerics mode, int64_t rowLen) {
  if (mode == Numerics::Ggml && rowLen > 0 && rowLen < n) {
    for_rows(n / rowLen, rowLen, [&](int64_t r) { swiglu(g + r * rowLen, u + r * rowLen, y + r * rowLen, rowLen, mode, 0); });
    return;
  }
  if (mode == Numerics::Ggml) {
    // ggml_vec_swiglu_f32: ggml_v_silu over blocks of 8, the tail with libm expf
    const int64_t nVec = n & ~int64_t(7);
    int64_t i = 0;
    if (current_isa() != Isa::Scalar) swiglu8_avx2(g, u, y, nVec), i = nVec;
    for (; i < nVec; i++) y[i] = (g[i] / (1.0f + v_expf(0.0f - g[i]))) * u[i];
    for (; i < n; i++) y[i] = (g[i] / (1.0f + std::exp(-g[i]))) * u[i];
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
      // ggml_vec_soft_max_f32: blocks of 8 through ggml_v_expf, each block's hsum added in f64
      int64_t i = 0;
      if (current_isa() != Isa::Scalar) sum = exp_blocks_avx2(row, n / 8, mx), i = n / 8 * 8;
      for (; i + 7 < n; i += 8) {
        for (int64_t j = i; j < i + 8; j++) row[j] = v_expf(row[j] - mx);
        sum += (double)hsum8_ref(row + i);
      }
      for (; i < n; i++) { row[i] = std::exp(row[i] - mx); sum += row[i]; }
      const float inv = (float)(1.0 / sum);
      for (int64_t i = 0; i < n; i++) row[i] *= inv;
    } else {
      std::vector<double> e((size_t)n);
      for (int64_t i = 0; i < n; i++) { e[i] = std::exp((double)row[i] - (double)mx); sum += e[i]; }
      for (int64_t i = 0; i < n; i++) row[i] = (float)(e[i] / sum);
    }
  }
}

void stats_many(const float* const* x, const int64_t* n, int64_t nJobs, Stats* out) {
  // every chunk of every slice is one piece of work (a few chunks per pool task), then each slice's
  // chunks are folded in order: stats_f32's result, however the chunks were spread over threads
  std::vector<int64_t> first(nJobs + 1, 0);
  for (int64_t j = 0; j < nJobs; j++) first[j + 1] = first[j] + (n[j] + kStatsChunk - 1) / kStatsChunk;
  std::vector<StatsChunk> chunks(first[nJobs]);
  std::vector<std::pair<int64_t, int64_t>> where(first[nJobs]);  // chunk -> (slice, chunk in slice)
  for (int64_t j = 0; j < nJobs; j++)
    for (int64_t k = first[j]; k < first[j + 1]; k++) where[k] = {j, k - first[j]};
  constexpr int64_t kPerTask = 4;
  const int64_t nTasks = (first[nJobs] + kPerTask - 1) / kPerTask;
  default_pool().run((int)nTasks, [&](int t) {
    for (int64_t k = t * kPerTask; k < std::min(first[nJobs], (t + 1) * kPerTask); k++) {
      const auto [j, ck] = where[k];
      chunks[k] = stats_chunk(x[j] + ck * kStatsChunk, std::min(kStatsChunk, n[j] - ck * kStatsChunk), 1);
    }
  });
  for (int64_t j = 0; j < nJobs; j++) out[j] = stats_fold(chunks.data() + first[j], first[j + 1] - first[j], n[j]);
}

}  // namespace rosetta
