// Matmul driver (one for every weight type). Everything type-specific comes from the traits table
// (rosetta/types.h): ggml mode converts the activations with the vec_dot type's from_float and runs the
// weight type's tile or vec_dot on the stored rows; exact mode (and a type without a dot kernel)
// dequantizes weight rows with the type's to_float into a small per-thread buffer for the DotKernels.
#include "rosetta/matmul.h"
#include "rosetta/apr_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "rosetta/blocks.h"
#include "rosetta/isa.h"
#include "rosetta/threadpool.h"
#include "rosetta/types.h"
#include "rosetta/vecdot.h"

namespace rosetta {

namespace {

const TypeTraits& act_traits(ActQuant q) { return *type_traits(static_cast<uint32_t>(q)); }

}  // namespace

bool act_quant_for(uint32_t type, ActQuant* out) {
  const TypeTraits* tt = type_traits(type);
  if (!tt || tt->vecDotType == kNoVecDot) return false;
  *out = static_cast<ActQuant>(tt->vecDotType);
  return true;
}

const char* act_quant_name(ActQuant q) { return act_traits(q).name; }

int64_t act_block(ActQuant q) { return act_traits(q).blockSize; }

size_t act_row_bytes(ActQuant q, int64_t n) { return row_bytes(static_cast<uint32_t>(q), n); }

void act_convert(ActQuant q, const float* x, void* out, int64_t n, bool simd) {
  const TypeTraits& t = act_traits(q);
  (simd ? from_float_fn(t) : t.fromFloat[0])(x, out, n);
}

void act_round(ActQuant q, const float* x, float* out, int64_t n) { act_traits(q).round(x, out, n); }

size_t row_bytes(uint32_t type, int64_t nIn) {
  const TypeTraits* tt = type_traits(type);
  if (!tt || tt->blockSize <= 0 || nIn <= 0 || nIn % tt->blockSize) return 0;
  return (size_t)(nIn / tt->blockSize) * tt->typeSize;
}

const DotKernels& dot_kernels() {
  static const DotKernels& (*const kPerIsa[])() = {dot_kernels_ref, dot_kernels_avx2, dot_kernels_avx512};
  return kPerIsa[static_cast<int>(current_isa())]();
}

namespace {

struct Plan {
  const MatmulArgs* a;
  const float* x;      // activations as the dot products see them
  size_t rb;           // stored bytes per weight row
  ToFloatFn toFloat;   // null: rows are f32 already
  const DotKernels* dk;
};

// y + b for rows [r0, r1) of every token (MatmulArgs::bias).
void add_bias_rows(const MatmulArgs& a, int64_t r0, int64_t r1) {
  if (!a.bias) return;
  for (int64_t t = 0; t < a.nTok; t++) {
    float* yt = a.y + t * a.nOut;
    for (int64_t r = r0; r < r1; r++) yt[r] = yt[r] + a.bias[r];
  }
}

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
// to the vec_dot type once (its from_float), then the weight type's tile runs on each block of 16 stored
// weight rows, or, for a type without a tile on this path (or in llama.cpp's IQ panel order: `panel`), its
// vec_dot on each (row, token) pair. All
// three come from the traits table, one lookup per matmul.
void matmul_vecdot(const MatmulArgs& a, const TypeTraits& tt, VecDotFn fn, size_t rb, bool panel) {
  const ActQuant aq = static_cast<ActQuant>(tt.vecDotType);
  const int64_t n = a.nIn;
  size_t arb = (size_t)n * sizeof(float);
  thread_local std::vector<uint8_t> buf;  // reused across calls: no allocation per matmul
  thread_local std::vector<int8_t> packedQs;
  thread_local std::vector<float> packedSc;
  thread_local std::vector<Q8KQuad> packedK;  // std::vector honours alignas(64) since C++17
  thread_local std::vector<Q8KDecode> packedD;
  const uint8_t* act = reinterpret_cast<const uint8_t*>(a.x);
  const VecDotTileFn tile = panel ? nullptr : vec_dot_tile_fn(tt);
  const float* ad = nullptr;
  if (aq != ActQuant::None) {
    arb = act_row_bytes(aq, n);
    if (buf.size() < arb * (size_t)a.nTok) buf.resize(arb * (size_t)a.nTok);
    // a prompt's Q8_0 activations are also packed for the tiles (rosetta/vecdot.h)
    const bool pack = tile && aq == ActQuant::Q8_0 && a.nTok > 1, lanes = pack && q0_offset_tile(a.type);
    const int64_t nb = n / 32, groups = (a.nTok + kQ0Group - 1) / kQ0Group;
    // a prompt's Q8_K activations in quads for the AVX-512 K-quant tiles (the other paths read the rows)
    // (one token: its Q8KDecode for the Q4_K/Q5_K decode rows; Q6_K's read the row)
    const bool avx512K = tile && aq == ActQuant::Q8_K && current_isa() == Isa::Avx512;
    const bool packK = avx512K && a.nTok > 1, packD = avx512K && a.nTok == 1 && (a.type == T_Q4_K || a.type == T_Q5_K);
    const int64_t nbK = n / QK_K, quadsK = (a.nTok + kQKQuad - 1) / kQKQuad;
    if (packK && packedK.size() < (size_t)(quadsK * nbK)) packedK.resize(quadsK * nbK);
    if (packD && packedD.size() < (size_t)nbK) packedD.resize(nbK);
    if (pack) {
      size_t qsBytes = (size_t)(groups * nb * kQ0Group * 32), scFloats = (size_t)(groups * nb * kQ0Group);
      if (lanes) q0_lane_sizes(a.nTok, nb, &qsBytes, &scFloats);
      if (packedQs.size() < qsBytes) packedQs.resize(qsBytes);
      if (packedSc.size() < scFloats) packedSc.resize(scFloats);
    }
    // each token's row is converted on its own, so the pool may share them out
    const FromFloatFn fromFloat = from_float_fn(act_traits(aq));
    uint8_t* const dst = buf.data();  // not `buf` inside the task: a thread_local names each thread's own
    int8_t* const pq = packedQs.data();
    float* const ps = packedSc.data();
    Q8KQuad* const pk = packedK.data();
    // a task per group of tokens that share cache lines in the packed layouts (a quad's 4 tokens are
    // interleaved in its blocks): one token per task had two threads writing the same lines, and its
    // packing took 2.1% of a two-thread prompt against 0.2% on one thread (perf, 1.5B Q4_K_M, 64 tokens)
    const int64_t per = packK ? kQKQuad : (pack && !lanes) ? kQ0Group : 1;
    default_pool().run((int)((a.nTok + per - 1) / per), [&](int u) {
      const int64_t t0 = u * per, end = std::min<int64_t>(a.nTok, t0 + per);
      for (int64_t t = t0; t < end; t++) {
        fromFloat(a.x + t * n, dst + arb * (size_t)t, n);
        if (pack && !lanes) pack_q8_0_token(reinterpret_cast<const block_q8_0*>(dst + arb * (size_t)t), nb, t, pq, ps);
      }
      if (packK) pack_q8_K_quad(dst + arb * (size_t)t0, arb, (int)(end - t0), nbK, pk + u * nbK);
    });
    act = buf.data();
    if (packK) ad = reinterpret_cast<const float*>(pk);
    if (packD) {
      pack_q8_K_decode(reinterpret_cast<const block_q8_K*>(dst), nbK, packedD.data());
      ad = reinterpret_cast<const float*>(packedD.data());
    }
    if (lanes)  // a group's tokens share cache lines: one task per group
      default_pool().run((int)q0_lane_units(a.nTok), [&](int u) { pack_q8_0_lanes(reinterpret_cast<const block_q8_0*>(dst), arb, nb, u, a.nTok, pq, ps); });
    else if (pack)
      pack_q8_0_padding(nb, a.nTok, pq, ps);
    if (pack) {
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
      add_bias_rows(a, r0, r1);
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
    add_bias_rows(a, r0, r1);
  });
}

}  // namespace

const char* matmul(const MatmulArgs& a) {
  if (matmul_wants_general(a)) {  // strided rows, APR-native types
    const char* err = matmul_general(a);
    if (!err) add_bias_rows(a, 0, a.nOut);
    return err;
  }
  const TypeTraits* tt = type_traits(a.type);
  ActQuant aq;
  if (!tt || !tt->supported || !tt->toFloat[0] || !act_quant_for(a.type, &aq)) return "matmul: weight type is not supported";
  if (a.nOut <= 0 || a.nIn <= 0 || a.nTok <= 0) return "matmul: empty shape";
  const size_t rb = row_bytes(a.type, a.nIn);
  if (rb == 0) return "matmul: row length is not a multiple of the weight type's block size";
  if (a.wBytes / rb < (size_t)a.nOut) return "matmul: weight data is shorter than its shape";
  if (const char* err = check_row_alignment(a.type, a.w, 0)) {
    static thread_local std::string msg;
    msg = std::string("matmul: ") + err;
    return msg.c_str();
  }
  if (a.mode == Numerics::Ggml) {
    // only the float kernels differ between tinyBLAS's order and vec_dot's
    const bool tiny = tinyblas_order(a.nTok, a.nOut, a.nIn);
    const bool panel = has_panel_order(*tt) && iq_panel_order(a.nTok, a.nOut, a.nIn);
    if (VecDotFn fn = vec_dot_fn(*tt, tiny, panel)) {
      if (a.nIn % act_block(aq)) return "matmul: row length is not a multiple of the activation block size";
      matmul_vecdot(a, *tt, fn, rb, panel);
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
    const int64_t r0 = task * perTask, r1 = std::min(a.nOut, r0 + perTask);
    matmul_rows(p, r0, r1);
    add_bias_rows(a, r0, r1);
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

bool q0_offset_tile(uint32_t type) { return current_isa() == Isa::Avx512 && (type == T_Q4_0 || type == T_Q5_0 || type == T_Q8_0); }

// Full groups of 16 in lanes; the rest (under 16) in groups of 8.
static inline int64_t lane_groups(int64_t nt) { return nt / kQ0Lanes; }

int64_t q0_lane_units(int64_t nt) { return lane_groups(nt) + (nt - lane_groups(nt) * kQ0Lanes + kQ0Group - 1) / kQ0Group; }

void q0_lane_sizes(int64_t nt, int64_t nb, size_t* qsBytes, size_t* scFloats) {
  const int64_t full = lane_groups(nt), tail = (nt - full * kQ0Lanes + kQ0Group - 1) / kQ0Group;
  *qsBytes = (size_t)((full * kQ0Lanes + tail * kQ0Group) * nb * 32);
  *scFloats = (size_t)((full * kQ0Lanes + tail * kQ0TailScales) * nb);
}

// Where token `slot` of a tail group sits in its block's kQ0TailScales (twice): element slot / 2 of the
// 128-bit blocks 0 and 1 for an even slot, of blocks 2 and 3 for an odd one.
static inline int spread_lane(int slot, int copy) { return (slot % 2) * 8 + copy * 4 + slot / 2; }

static inline const block_q8_0& row_block(const block_q8_0* rows, size_t arb, int64_t t, int64_t b) {
  return reinterpret_cast<const block_q8_0*>(reinterpret_cast<const uint8_t*>(rows) + arb * (size_t)t)[b];
}

// 4 quants + 128 (unsigned) from src to dst.
static inline void offset4(const int8_t* src, int8_t* dst) {
  uint32_t v;
  std::memcpy(&v, src, 4);
  v ^= 0x80808080u;
  std::memcpy(dst, &v, 4);
}

void pack_q8_0_lanes(const block_q8_0* rows, size_t arb, int64_t nb, int64_t unit, int64_t nt, int8_t* qs, float* sc) {
  const int64_t full = lane_groups(nt);
  if (unit < full) {
    const int64_t t0 = unit * kQ0Lanes;
    for (int64_t b = 0; b < nb; b++) {
      int8_t* blk = qs + (unit * nb + b) * kQ0Lanes * 32;
      float* s = sc + (unit * nb + b) * kQ0Lanes;
      for (int64_t t = 0; t < kQ0Lanes; t++) {
        const block_q8_0& x = row_block(rows, arb, t0 + t, b);
        s[t] = fp16_to_fp32(x.d);
        for (int l = 0; l < 8; l++) offset4(x.qs + 4 * l, blk + (l * kQ0Lanes + t) * 4);
      }
    }
    return;
  }
  const int64_t h = unit - full, t0 = full * kQ0Lanes + h * kQ0Group, used = std::min<int64_t>(kQ0Group, nt - t0);
  int8_t* tq = qs + full * nb * kQ0Lanes * 32;
  float* ts = sc + full * nb * kQ0Lanes;
  for (int64_t b = 0; b < nb; b++) {
    int8_t* blk = tq + (h * nb + b) * kQ0Group * 32;
    float* s = ts + (h * nb + b) * kQ0TailScales;
    for (int k = 0; k < kQ0Group; k++) {
      float d = 0.0f;
      if (k < used) {
        const block_q8_0& x = row_block(rows, arb, t0 + k, b);
        for (int l = 0; l < 8; l++) offset4(x.qs + 4 * l, blk + k * 32 + 4 * l);
        d = fp16_to_fp32(x.d);
      } else {
        std::memset(blk + k * 32, 0, 32);
      }
      for (int c = 0; c < 2; c++) s[spread_lane(k, c)] = d;
    }
  }
}

// ggml's pair sums of a block's 16 bsums (the hadd its Q4_K/Q5_K kernels take the min term from).
static void pair_sums8(const block_q8_K& b, int16_t out[8]) {
  for (int j = 0; j < 8; j++) out[j] = (int16_t)(b.bsums[2 * j] + b.bsums[2 * j + 1]);
}

void pack_q8_K_decode(const block_q8_K* row, int64_t nb, Q8KDecode* out) {
  static constexpr int kOrder[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int64_t i = 0; i < nb; i++) {
    const block_q8_K& b = row[i];
    Q8KDecode& o = out[i];
    for (int c = 0; c < 8; c++) std::memcpy(o.qs + 32 * c, b.qs + 32 * kOrder[c], 32);
    o.dd[0] = b.d, o.dd[1] = -b.d, o.dd[2] = 0, o.dd[3] = 0;
    pair_sums8(b, o.sums8);
  }
}

}  // namespace rosetta
