// The general matmul path (strided rows, APR-native types) and the row fetch; contract and numerics in
// rosetta/apr_matmul.h. Kept apart from matmul.cpp so the main driver stays the GGUF fast path; every
// output is computed with the kernel the main driver would use for the same row (vecdot.h in ggml mode,
// DotKernels otherwise), so results agree bit for bit with it.
#include "rosetta/apr_matmul.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "rosetta/isa.h"
#include "rosetta/threadpool.h"
#include "rosetta/types.h"
#include "rosetta/vecdot.h"

namespace rosetta {

namespace ref {
void dequant_apr_q8_range(const void* tensor, int64_t first, float* dst, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(tensor);
  float scale;
  std::memcpy(&scale, p, sizeof scale);
  const int8_t* q = reinterpret_cast<const int8_t*>(p + 4 + first);
  for (int64_t i = 0; i < n; i++) dst[i] = (float)q[i] * scale;  // one f32 product, as aprender decodes
}

void dequant_apr_q8(const void* src, float* dst, int64_t n) { dequant_apr_q8_range(src, 0, dst, n); }
}  // namespace ref

namespace {

// Where row r of a tensor is and how many elements decoding it yields.
struct Layout {
  const TypeTraits* tt;
  ToFloatFn toFloat;  // the current ISA's dequantizer (block types)
  int64_t nPad;       // elements per decoded row: nIn rounded up to the block size
  size_t stride;      // bytes from one row to the next
  size_t header;      // bytes before row 0 (APR_Q8's scale)
  bool aprQ8;
};

const char* layout_of(uint32_t type, int64_t nRows, int64_t nIn, size_t rowBytes, size_t wBytes, Layout* L) {
  const TypeTraits* tt = type_traits(type);
  if (!tt || !tt->supported || !tt->toFloat[0] || tt->blockSize <= 0) return "weight type is not supported";
  if (nRows <= 0 || nIn <= 0) return "empty shape";
  L->tt = tt;
  const int isa = (int)current_isa();
  L->toFloat = tt->toFloat[isa] ? tt->toFloat[isa] : tt->toFloat[0];
  L->aprQ8 = type == T_APR_Q8;
  L->nPad = (nIn + tt->blockSize - 1) / tt->blockSize * tt->blockSize;
  const size_t packed = padded_row_bytes(type, nIn);
  if (rowBytes == 0) {
    // packed rows of a partial last block do not start on block boundaries: not addressable by row
    if (L->nPad != nIn) return "row length is not a multiple of the weight type's block size";
    L->stride = packed;
  } else {
    if (rowBytes < packed) return "row stride is shorter than one stored row";
    L->stride = rowBytes;
  }
  L->header = tt->headerBytes;
  if (wBytes < L->header || (wBytes - L->header) / L->stride < (size_t)nRows) return "weight data is shorter than its rows";
  return nullptr;
}

void decode_row(const Layout& L, const uint8_t* w, int64_t r, float* dst, bool scalar) {
  if (L.aprQ8) {
    ref::dequant_apr_q8_range(w, r * (int64_t)L.stride, dst, L.nPad);
  } else {
    (scalar ? L.tt->toFloat[0] : L.toFloat)(w + L.header + (size_t)r * L.stride, dst, L.nPad);
  }
}

// How a ggml-mode row is multiplied (mirrors matmul.cpp's choices for the same weight type):
//   Direct  - the type has a llama.cpp-exact vec_dot kernel (rosetta/vecdot.h): activations converted
//             to its vec_dot type over nPad (zero-padded), the kernel runs on the stored row (padding
//             weights meet zero activations: they add exactly nothing).
//   Rounded - a vec_dot type but no exact kernel: activations rounded (zero-padded blocks), decoded rows,
//             the DotKernels f32 sums (the main driver's fallback).
//   AsF32   - no vec_dot type (APR-native): decoded rows multiplied as F32 weights are (the F32 vec_dot
//             kernel when there is one, else DotKernels).
enum class RowKind { Exact, Direct, Rounded, AsF32 };

struct Plan {
  const MatmulArgs* a;
  RowKind kind;
  const float* x;        // f32 activations as the f32 dot products see them (Exact, Rounded, AsF32)
  const uint8_t* act;    // Direct: activations in the vec_dot type, actBytes per token
  size_t actBytes;
  VecDotFn fn;           // Direct: the stored-row kernel; AsF32: the F32 kernel (or null)
  Layout L;
  const DotKernels* dk;
};

// Rows [r0, r1) of y for every token.
void general_rows(const Plan& p, int64_t r0, int64_t r1) {
  const MatmulArgs& a = *p.a;
  const int64_t n = a.nIn, np = p.L.nPad;
  if (p.kind == RowKind::Direct) {
    for (int64_t r = r0; r < r1; r++) {
      const uint8_t* wr = a.w + p.L.header + (size_t)r * p.L.stride;
      for (int64_t t = 0; t < a.nTok; t++) a.y[t * a.nOut + r] = p.fn(np, wr, p.act + p.actBytes * (size_t)t);
    }
    return;
  }
  thread_local std::vector<float> rows;
  if ((int64_t)rows.size() < 4 * np) rows.resize(4 * np);
  for (int64_t r = r0; r < r1;) {
    const int64_t nr = (r1 - r >= 4) ? 4 : 1;
    for (int64_t i = 0; i < nr; i++) decode_row(p.L, a.w, r + i, rows.data() + i * np, false);
    const float* w = rows.data();
    for (int64_t t = 0; t < a.nTok; t++) {
      const float* xt = p.x + t * n;
      float* yt = a.y + t * a.nOut + r;
      if (p.kind == RowKind::Exact) {
        for (int64_t i = 0; i < nr; i++) yt[i] = (float)p.dk->dot_f64(w + i * np, xt, n);
      } else if (p.kind == RowKind::AsF32 && p.fn) {
        for (int64_t i = 0; i < nr; i++) yt[i] = p.fn(n, w + i * np, xt);
      } else if (nr == 4) {
        p.dk->dot4_f32(w, np, xt, n, yt);
      } else {
        yt[0] = p.dk->dot_f32(w, xt, n);
      }
    }
    r += nr;
  }
}

// Rounded: x rounded per block; a partial last block as if zero-padded.
void round_activations(ActQuant aq, const MatmulArgs& a, std::vector<float>& out) {
  const int64_t bs = act_block(aq), nb = (a.nIn + bs - 1) / bs * bs;
  std::vector<float> padded((size_t)nb, 0.0f), rounded((size_t)nb);
  out.resize((size_t)(a.nTok * a.nIn));
  for (int64_t t = 0; t < a.nTok; t++) {
    std::copy(a.x + t * a.nIn, a.x + (t + 1) * a.nIn, padded.begin());
    act_round(aq, padded.data(), rounded.data(), nb);
    std::copy(rounded.begin(), rounded.begin() + a.nIn, out.begin() + t * a.nIn);
  }
}

// Direct: each token's activations zero-padded to np, converted to the vec_dot type of aq.
size_t convert_activations(ActQuant aq, const MatmulArgs& a, int64_t np, std::vector<uint8_t>& out) {
  const size_t rb = act_row_bytes(aq, np);
  out.resize(rb * (size_t)a.nTok);
  std::vector<float> padded((size_t)np, 0.0f);
  for (int64_t t = 0; t < a.nTok; t++) {
    std::copy(a.x + t * a.nIn, a.x + (t + 1) * a.nIn, padded.begin());
    act_convert(aq, padded.data(), out.data() + rb * (size_t)t, np, false);
  }
  return rb;
}

}  // namespace

size_t padded_row_bytes(uint32_t type, int64_t nIn) {
  const TypeTraits* tt = type_traits(type);
  if (!tt || tt->blockSize <= 0 || nIn <= 0) return 0;
  return (size_t)((nIn + tt->blockSize - 1) / tt->blockSize) * tt->typeSize;
}

bool matmul_wants_general(const MatmulArgs& a) {
  if (a.rowBytes != 0) return true;
  const TypeTraits* tt = type_traits(a.type);
  ActQuant aq;
  return tt && tt->supported && tt->toFloat[0] && !act_quant_for(a.type, &aq);
}

const char* check_row_alignment(uint32_t type, const void* w, size_t rowBytes) {
  const TypeTraits* tt = type_traits(type);
  if (!tt || tt->typeSize == 0) return nullptr;  // unknown types are refused by the callers' own checks
  size_t align = 1;
  while (align < 4 && tt->typeSize % (align * 2) == 0) align *= 2;  // no block holds an 8-byte field
  const size_t base = reinterpret_cast<uintptr_t>(w) + tt->headerBytes;
  if (base % align != 0) return "weights are not aligned for their block type (tensor data at a misaligned offset)";
  if (rowBytes % align != 0) return "row stride is not a multiple of the block type's alignment";
  return nullptr;
}

const char* matmul_general(const MatmulArgs& a) {
  if (a.nOut <= 0 || a.nIn <= 0 || a.nTok <= 0) return "matmul: empty shape";
  Plan p{&a, RowKind::Exact, a.x, nullptr, 0, nullptr, {}, &dot_kernels()};
  const char* err = layout_of(a.type, a.nOut, a.nIn, a.rowBytes, a.wBytes, &p.L);
  if (err == nullptr) err = check_row_alignment(a.type, a.w, a.rowBytes);
  if (err != nullptr) {
    static thread_local std::string msg;
    msg = std::string("matmul: ") + err;
    return msg.c_str();
  }
  std::vector<float> xq;
  std::vector<uint8_t> act;
  ActQuant aq;
  if (a.mode == Numerics::Ggml) {
    const bool tiny = tinyblas_order(a.nTok, a.nOut, a.nIn);
    if (!act_quant_for(a.type, &aq)) {
      p.kind = RowKind::AsF32;
      p.fn = vec_dot_fn(*type_traits(T_F32), tiny);
    } else if ((p.fn = vec_dot_fn(*p.L.tt, tiny, has_panel_order(*p.L.tt) && iq_panel_order(a.nTok, a.nOut, a.nIn))) != nullptr &&
               !p.L.aprQ8) {
      p.kind = RowKind::Direct;
      p.actBytes = convert_activations(aq, a, p.L.nPad, act);
      p.act = act.data();
    } else {
      p.kind = RowKind::Rounded;
      p.fn = nullptr;
      if (aq != ActQuant::None) {
        round_activations(aq, a, xq);
        p.x = xq.data();
      }
    }
  }
  ThreadPool& pool = default_pool();
  const int64_t perTask = std::max<int64_t>(4, ((a.nOut + pool.size() * 4 - 1) / (pool.size() * 4) + 3) / 4 * 4);
  const int nTasks = (int)((a.nOut + perTask - 1) / perTask);
  pool.run(nTasks, [&](int task) {
    const int64_t r0 = task * perTask;
    general_rows(p, r0, std::min(a.nOut, r0 + perTask));
  });
  return nullptr;
}

const char* get_row(const uint8_t* w, size_t wBytes, uint32_t type, int64_t nRows, int64_t nIn, size_t rowBytes,
                    int64_t row, float* out) {
  Layout L;
  if (const char* err = layout_of(type, nRows, nIn, rowBytes, wBytes, &L)) return err;
  if (const char* err = check_row_alignment(type, w, rowBytes)) return err;
  if (row < 0 || row >= nRows) return "row index is outside the tensor";
  // the scalar dequantizer, as the packed embedding lookup (ops toF32) uses
  if (L.nPad == nIn) {
    decode_row(L, w, row, out, true);
  } else {
    std::vector<float> tmp((size_t)L.nPad);
    decode_row(L, w, row, tmp.data(), true);
    std::copy(tmp.begin(), tmp.begin() + nIn, out);
  }
  return nullptr;
}

}  // namespace rosetta
