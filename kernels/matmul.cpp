// Matmul driver: activation rounding (ggml's vec_dot types), weight rows dequantized in place from the
// stored blocks into a small per-thread buffer, and dot products from the current ISA's kernels.
#include "rosetta/matmul.h"
#include "rosetta/apr_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "rosetta/blocks.h"
#include "rosetta/isa.h"
#include "rosetta/threadpool.h"
#include "rosetta/types.h"
#include "rosetta/vecdot.h"

namespace rosetta {

bool act_quant_for(uint32_t type, ActQuant* out) {
  // ggml-cpu.c type_traits_cpu[type].vec_dot_type, for the types rosetta dequantizes.
  switch (type) {
    case T_F32: *out = ActQuant::None; return true;
    case T_F16: *out = ActQuant::F16; return true;
    case T_BF16: *out = ActQuant::BF16; return true;
    case T_Q4_0: case T_Q5_0: case T_Q8_0: case T_IQ4_NL: case T_MXFP4: *out = ActQuant::Q8_0; return true;
    case T_Q4_1: case T_Q5_1: *out = ActQuant::Q8_1; return true;
    case T_Q2_K: case T_Q3_K: case T_Q4_K: case T_Q5_K: case T_Q6_K: case T_IQ4_XS:
    case T_IQ2_XXS: case T_IQ2_XS: case T_IQ2_S: case T_IQ3_XXS: case T_IQ3_S: case T_IQ1_S: case T_IQ1_M:
    case T_TQ1_0: case T_TQ2_0:
      *out = ActQuant::Q8_K; return true;
    default: return false;
  }
}

const char* act_quant_name(ActQuant q) {
  static const char* names[] = {"f32", "f16", "bf16", "q8_0", "q8_1", "q8_K"};
  return names[(int)q];
}

int64_t act_block(ActQuant q) {
  switch (q) {
    case ActQuant::Q8_0: case ActQuant::Q8_1: return 32;
    case ActQuant::Q8_K: return QK_K;
    default: return 1;
  }
}

namespace {

// quantize_row_q8_0 / q8_1 of ggml's x86 backend: d = amax/127 stored as f16, q = round-half-even(x *
// 127/amax). The Q8_1 sum field (d * sum q, f16) only enters Q4_1/Q5_1 dot products through the min
// term and is not emulated.
void round_q8_0(const float* x, float* out, int64_t n) {
  for (int64_t b = 0; b < n; b += 32) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = std::fmax(amax, std::fabs(x[b + j]));
    const float d = fp16_to_fp32(fp32_to_fp16(amax / 127.f));
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    for (int j = 0; j < 32; j++) out[b + j] = d * std::nearbyint(x[b + j] * id);
  }
}

// quantize_row_q8_K_ref: the signed value of largest magnitude maps to -127; d = 1/iscale is f32.
void round_q8_K(const float* x, float* out, int64_t n) {
  for (int64_t b = 0; b < n; b += QK_K) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK_K; j++) {
      const float ax = std::fabs(x[b + j]);
      if (ax > amax) { amax = ax; max = x[b + j]; }
    }
    if (amax == 0.0f) {
      for (int j = 0; j < QK_K; j++) out[b + j] = 0.0f;
      continue;
    }
    const float iscale = -127.f / max;
    const float d = 1 / iscale;
    for (int j = 0; j < QK_K; j++) {
      float q = std::nearbyint(iscale * x[b + j]);
      if (q > 127.f) q = 127.f;
      out[b + j] = d * q;
    }
  }
}

}  // namespace

size_t act_row_bytes(ActQuant q, int64_t n) {
  switch (q) {
    case ActQuant::None: return (size_t)n * sizeof(float);
    case ActQuant::F16: case ActQuant::BF16: return (size_t)n * 2;
    case ActQuant::Q8_0: return (size_t)(n / 32) * sizeof(block_q8_0);
    case ActQuant::Q8_1: return (size_t)(n / 32) * sizeof(block_q8_1);
    case ActQuant::Q8_K: return (size_t)(n / QK_K) * sizeof(block_q8_K);
  }
  return 0;
}

void act_convert(ActQuant q, const float* x, void* out, int64_t n, bool simd) {
  switch (q) {
    case ActQuant::None: std::memcpy(out, x, (size_t)n * sizeof(float)); break;
    case ActQuant::F16: convert_f16(x, static_cast<uint16_t*>(out), n); break;
    case ActQuant::BF16: convert_bf16(x, static_cast<uint16_t*>(out), n); break;
    case ActQuant::Q8_0: (simd ? quantize_q8_0_avx2 : quantize_q8_0)(x, static_cast<block_q8_0*>(out), n); break;
    case ActQuant::Q8_1: (simd ? quantize_q8_1_avx2 : quantize_q8_1)(x, static_cast<block_q8_1*>(out), n); break;
    case ActQuant::Q8_K: (simd ? quantize_q8_K_avx2 : quantize_q8_K)(x, static_cast<block_q8_K*>(out), n); break;
  }
}

void act_round(ActQuant q, const float* x, float* out, int64_t n) {
  switch (q) {
    case ActQuant::None: for (int64_t i = 0; i < n; i++) out[i] = x[i]; break;
    case ActQuant::F16: for (int64_t i = 0; i < n; i++) out[i] = fp16_to_fp32(fp32_to_fp16(x[i])); break;
    case ActQuant::BF16: for (int64_t i = 0; i < n; i++) out[i] = bf16_to_fp32(fp32_to_bf16(x[i])); break;
    case ActQuant::Q8_0: case ActQuant::Q8_1: round_q8_0(x, out, n); break;
    case ActQuant::Q8_K: round_q8_K(x, out, n); break;
  }
}

size_t row_bytes(uint32_t type, int64_t nIn) {
  const TypeTraits* tt = type_traits(type);
  if (!tt || tt->blockSize <= 0 || nIn <= 0 || nIn % tt->blockSize) return 0;
  return (size_t)(nIn / tt->blockSize) * tt->typeSize;
}

const DotKernels& dot_kernels() {
  switch (current_isa()) {
    case Isa::Avx512: return dot_kernels_avx512();
    case Isa::Avx2: return dot_kernels_avx2();
    default: return dot_kernels_ref();
  }
}

namespace {

struct Plan {
  const MatmulArgs* a;
  const float* x;      // activations as the dot products see them
  size_t rb;           // stored bytes per weight row
  ToFloatFn toFloat;   // null: rows are f32 already
  const DotKernels* dk;
};

// Rows [r0, r1) of y for every token.
void matmul_rows(const Plan& p, int64_t r0, int64_t r1) {
  const MatmulArgs& a = *p.a;
  const int64_t n = a.nIn;
  thread_local std::vector<float> buf;
  if (p.toFloat && (int64_t)buf.size() < 4 * n) buf.resize(4 * n);
  for (int64_t r = r0; r < r1;) {
    const int64_t nr = (r1 - r >= 4) ? 4 : 1;
    const float* w;
    if (p.toFloat) {
      for (int64_t i = 0; i < nr; i++) p.toFloat(a.w + (r + i) * p.rb, buf.data() + i * n, n);
      w = buf.data();
    } else {
      w = reinterpret_cast<const float*>(a.w + r * p.rb);
    }
    for (int64_t t = 0; t < a.nTok; t++) {
      const float* xt = p.x + t * n;
      float* yt = a.y + t * a.nOut + r;
      if (a.mode == Numerics::Exact) {
        for (int64_t i = 0; i < nr; i++) yt[i] = (float)p.dk->dot_f64(w + i * n, xt, n);
      } else if (nr == 4) {
        p.dk->dot4_f32(w, n, xt, n, yt);
      } else {
        yt[0] = p.dk->dot_f32(w, xt, n);
      }
    }
    r += nr;
  }
}

// ggml mode for the types with llama.cpp-exact kernels (rosetta/vecdot.h): the activations are converted
// to the vec_dot type once, then every output is one kernel call on the stored weight row.
void matmul_vecdot(const MatmulArgs& a, VecDotFn fn, ActQuant aq, size_t rb) {
  const int64_t n = a.nIn;
  size_t arb = (size_t)n * sizeof(float);
  thread_local std::vector<uint8_t> buf;  // reused across calls: no allocation per matmul
  thread_local std::vector<int8_t> packedQs;
  thread_local std::vector<float> packedSc;
  const uint8_t* act = reinterpret_cast<const uint8_t*>(a.x);
  const VecDotTileFn tile = vecdot_tile_for(a.type);
  const float* ad = nullptr;
  if (aq != ActQuant::None) {
    arb = act_row_bytes(aq, n);
    if (buf.size() < arb * (size_t)a.nTok) buf.resize(arb * (size_t)a.nTok);
    // a prompt's Q8_0 activations are also packed for the tiles (rosetta/vecdot.h)
    const int64_t nb = n / 32, groups = (a.nTok + kQ0Group - 1) / kQ0Group;
    const bool pack = tile && aq == ActQuant::Q8_0 && a.nTok > 1;
    if (pack && packedSc.size() < (size_t)(groups * nb * kQ0Group)) {
      packedSc.resize(groups * nb * kQ0Group);
      packedQs.resize(groups * nb * kQ0Group * 32);
    }
    // each token's row is converted on its own, so the pool may share them out
    const bool simd = current_isa() != Isa::Scalar;
    uint8_t* const dst = buf.data();  // not `buf` inside the task: a thread_local names each thread's own
    int8_t* const pq = packedQs.data();
    float* const ps = packedSc.data();
    default_pool().run((int)a.nTok, [&](int t) {
      act_convert(aq, a.x + t * n, dst + arb * (size_t)t, n, simd);
      if (pack) pack_q8_0_token(reinterpret_cast<const block_q8_0*>(dst + arb * (size_t)t), nb, t, pq, ps);
    });
    act = buf.data();
    if (pack) {
      pack_q8_0_padding(nb, a.nTok, pq, ps);
      act = reinterpret_cast<const uint8_t*>(pq);
      ad = ps;
    }
  }
  ThreadPool& pool = default_pool();
  // Row chunks of 16: one chunk's weight rows stay in cache while every token passes over them.
  const int64_t perTask = std::max<int64_t>(16, (a.nOut + pool.size() * 4 - 1) / (pool.size() * 4) / 16 * 16);
  const int nTasks = (int)((a.nOut + perTask - 1) / perTask);
  pool.run(nTasks, [&](int task) {
    const int64_t r0 = task * perTask, r1 = std::min(a.nOut, r0 + perTask);
    if (tile) {
      for (int64_t b0 = r0; b0 < r1; b0 += 16)
        tile(n, a.w + (size_t)b0 * rb, rb, std::min(r1, b0 + 16) - b0, act, arb, ad, a.nTok, a.y + b0, a.nOut);
      return;
    }
    for (int64_t b0 = r0; b0 < r1; b0 += 16) {
      const int64_t b1 = std::min(r1, b0 + 16);
      for (int64_t t = 0; t < a.nTok; t++) {
        const uint8_t* at = act + arb * (size_t)t;
        float* yt = a.y + t * a.nOut;
        for (int64_t r = b0; r < b1; r++) yt[r] = fn(n, a.w + (size_t)r * rb, at);
      }
    }
  });
}

}  // namespace

const char* matmul(const MatmulArgs& a) {
  if (matmul_wants_general(a)) return matmul_general(a);  // strided rows, APR-native types
  const TypeTraits* tt = type_traits(a.type);
  ActQuant aq;
  if (!tt || !tt->supported || !tt->toFloat[0] || !act_quant_for(a.type, &aq)) return "matmul: weight type is not supported";
  if (a.nOut <= 0 || a.nIn <= 0 || a.nTok <= 0) return "matmul: empty shape";
  const size_t rb = row_bytes(a.type, a.nIn);
  if (rb == 0) return "matmul: row length is not a multiple of the weight type's block size";
  if (a.wBytes / rb < (size_t)a.nOut) return "matmul: weight data is shorter than its shape";
  if (a.mode == Numerics::Ggml) {
    // only the float kernels differ between tinyBLAS's order and vec_dot's
    const bool tiny = tinyblas_order(a.nTok, a.nOut, a.nIn);
    if (VecDotFn fn = vecdot_for(vecdot_kernels(), a.type, tiny)) {
      if (a.nIn % act_block(aq)) return "matmul: row length is not a multiple of the activation block size";
      matmul_vecdot(a, fn, aq, rb);
      return nullptr;
    }
  }
  const float* xs = a.x;
  std::vector<float> xq;
  if (a.mode == Numerics::Ggml && aq != ActQuant::None) {
    if (a.nIn % act_block(aq)) return "matmul: row length is not a multiple of the activation block size";
    xq.resize((size_t)(a.nTok * a.nIn));
    for (int64_t t = 0; t < a.nTok; t++) act_round(aq, a.x + t * a.nIn, xq.data() + t * a.nIn, a.nIn);
    xs = xq.data();
  }
  Plan p{&a, xs, rb, nullptr, &dot_kernels()};
  if (a.type != T_F32) {
    const int isa = (int)current_isa();
    p.toFloat = tt->toFloat[isa] ? tt->toFloat[isa] : tt->toFloat[0];
  }
  ThreadPool& pool = default_pool();
  // Row chunks of a multiple of 4, a few per thread so that uneven threads still balance.
  const int64_t perTask = std::max<int64_t>(4, ((a.nOut + pool.size() * 4 - 1) / (pool.size() * 4) + 3) / 4 * 4);
  const int nTasks = (int)((a.nOut + perTask - 1) / perTask);
  pool.run(nTasks, [&](int task) {
    const int64_t r0 = task * perTask;
    matmul_rows(p, r0, std::min(a.nOut, r0 + perTask));
  });
  return nullptr;
}

void pack_q8_0_token(const block_q8_0* row, int64_t nb, int64_t t, int8_t* qs, float* sc) {
  const int64_t g = t / kQ0Group, slot = t % kQ0Group;
  for (int64_t b = 0; b < nb; b++) {
    const int64_t at = (g * nb + b) * kQ0Group + slot;
    std::memcpy(qs + at * 32, row[b].qs, 32);
    sc[at] = fp16_to_fp32(row[b].d);
  }
}

void pack_q8_0_padding(int64_t nb, int64_t nt, int8_t* qs, float* sc) {
  const int64_t g = nt / kQ0Group, used = nt % kQ0Group;
  if (used == 0) return;
  for (int64_t b = 0; b < nb; b++) {
    const int64_t at = (g * nb + b) * kQ0Group + used;
    std::memset(qs + at * 32, 0, (size_t)(kQ0Group - used) * 32);
    std::memset(sc + at, 0, (size_t)(kQ0Group - used) * sizeof(float));
  }
}

}  // namespace rosetta
