// The traits table: the only place that maps a type id to anything: its layout, its dequantizers and,
// as ggml-cpu.c's type_traits_cpu, its vec_dot type, dot kernels, prefill tiles and from_float, one
// function per ISA path (scalar, avx2, avx512; the avx512 column has its own dot kernels for F16, BF16,
// Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K and reuses the AVX2 ones for the rest).
#include "rosetta/types.h"

#include <cstring>

#include "rosetta/blocks.h"
#include "rosetta/isa.h"
#include "rosetta/internal/dequant.h"
#include "rosetta/internal/vecdot.h"

namespace rosetta {
namespace ref {
void dequant_apr_q4(const void* src, float* dst, int64_t n);
void dequant_apr_q8(const void* src, float* dst, int64_t n);  // apr_matmul.cpp
}  // namespace ref
namespace avx2 {
void dequant_apr_q4(const void* src, float* dst, int64_t n);
}

namespace {

constexpr uint32_t kMaxId = 129;

// Per-ISA columns {scalar, avx2, avx512}.
#define DEQ(name) {ref::dequant_##name, avx2::dequant_##name, avx512::dequant_##name}
#define VD(name) {ref::vec_dot_##name, avx2::vec_dot_##name, avx2::vec_dot_##name}
#define TINY(name) {ref::vec_dot_##name##_tiny, avx2::vec_dot_##name##_tiny, avx2::vec_dot_##name##_tiny}
#define TILE(name) {nullptr, avx2::vec_dot_tile_##name, avx2::vec_dot_tile_##name}
// The same with the AVX-512 path's own kernels (vecdot_avx512.cpp).
#define VD512(name) {ref::vec_dot_##name, avx2::vec_dot_##name, avx512::vec_dot_##name}
#define TILE512(name) {nullptr, avx2::vec_dot_tile_##name, avx512::vec_dot_tile_##name}
// An activation format: from_float per path, and its scalar round trip.
#define FROM_REF(name) {ref::from_float_##name, ref::from_float_##name, ref::from_float_##name}, ref::round_##name
#define FROM_X86(name) {ref::from_float_##name, avx2::from_float_##name, avx2::from_float_##name}, ref::round_##name
#define FROM_X86_512(name) {ref::from_float_##name, avx2::from_float_##name, avx512::from_float_##name}, ref::round_##name
// A weight type with a llama.cpp-exact dot product: vec_dot type, no from_float / round, vec_dot, no
// tinyBLAS order, prefill tile (AVX2).
#define DOT(act, name) act, {}, nullptr, VD(name), {}, TILE(name)
#define DOT512(act, name) act, {}, nullptr, VD512(name), {}, TILE512(name)

struct Entry {
  uint32_t id;
  TypeTraits t;
};

// Unsupported entries carry GGML's exact geometry so sizes can still be reported (and checked) by name,
// and ggml's vec_dot type (act_quant_for / actRound report it).
// Fields: name, blockSize, typeSize, supported, toFloat | vecDotType, fromFloat, round, vecDot, vecDotTiny,
// tile | headerBytes.
const Entry kEntries[] = {
    // float types: activation formats (from_float) and weight types, with vec_dot's and tinyBLAS's order
    {T_F32, {"f32", 1, 4, true, DEQ(f32), T_F32, FROM_REF(f32), VD(f32), TINY(f32), {}}},
    {T_F16, {"f16", 1, 2, true, DEQ(f16), T_F16, FROM_REF(f16), VD512(f16), TINY(f16), {}}},
    {T_BF16, {"bf16", 1, 2, true, DEQ(bf16), T_BF16, FROM_REF(bf16), VD512(bf16), TINY(bf16), {}}},
    // x q8_0
    {T_Q4_0, {"q4_0", QK4_0, sizeof(block_q4_0), true, DEQ(q4_0), DOT512(T_Q8_0, q4_0)}},
    {T_Q5_0, {"q5_0", QK5_0, sizeof(block_q5_0), true, DEQ(q5_0), DOT512(T_Q8_0, q5_0)}},
    {T_Q8_0, {"q8_0", QK8_0, sizeof(block_q8_0), true, DEQ(q8_0), T_Q8_0, FROM_X86_512(q8_0), VD512(q8_0), {}, TILE512(q8_0)}},
    // IQ4_NL: vec_dot's order for one token, tinyBLAS_Q0_AVX's for a batch; only a tile sees nt, so the
    // scalar path has its tile too
    {T_IQ4_NL, {"iq4_nl", QK4_NL, sizeof(block_iq4_nl), true, DEQ(iq4_nl), T_Q8_0, {}, nullptr, VD(iq4_nl), TINY(iq4_nl),
                {ref::vec_dot_tile_iq4_nl, avx2::vec_dot_tile_iq4_nl, avx2::vec_dot_tile_iq4_nl}}},
    {T_MXFP4, {"mxfp4", 32, 17, false, {}, T_Q8_0}},
    // x q8_1
    {T_Q4_1, {"q4_1", QK4_1, sizeof(block_q4_1), true, DEQ(q4_1), DOT(T_Q8_1, q4_1)}},
    {T_Q5_1, {"q5_1", QK5_1, sizeof(block_q5_1), true, DEQ(q5_1), DOT(T_Q8_1, q5_1)}},
    // an activation format only (ggml has no to_float for it)
    {T_Q8_1, {"q8_1", QK8_1, sizeof(block_q8_1), false, {}, kNoVecDot, FROM_X86(q8_1)}},
    // x q8_K
    {T_Q2_K, {"q2_K", QK_K, sizeof(block_q2_K), true, DEQ(q2_K), DOT(T_Q8_K, q2_K)}},
    {T_Q3_K, {"q3_K", QK_K, sizeof(block_q3_K), true, DEQ(q3_K), DOT(T_Q8_K, q3_K)}},
    {T_Q4_K, {"q4_K", QK_K, sizeof(block_q4_K), true, DEQ(q4_K), DOT512(T_Q8_K, q4_K)}},
    {T_Q5_K, {"q5_K", QK_K, sizeof(block_q5_K), true, DEQ(q5_K), DOT512(T_Q8_K, q5_K)}},
    {T_Q6_K, {"q6_K", QK_K, sizeof(block_q6_K), true, DEQ(q6_K), DOT512(T_Q8_K, q6_K)}},
    // IQ4_XS: vec_dot's order, and llama.cpp's IQ panel order for a batch (iq_panel_order)
    {T_IQ4_XS, {"iq4_xs", QK_K, sizeof(block_iq4_xs), true, DEQ(iq4_xs), DOT(T_Q8_K, iq4_xs), 0,
                {ref::vec_dot_iq4_xs_panel, avx2::vec_dot_iq4_xs_panel, avx2::vec_dot_iq4_xs_panel}}},
    {T_IQ2_XXS, {"iq2_xxs", QK_K, 66, false, {}, T_Q8_K}},
    {T_IQ2_XS, {"iq2_xs", QK_K, 74, false, {}, T_Q8_K}},
    {T_IQ3_XXS, {"iq3_xxs", QK_K, 98, false, {}, T_Q8_K}},
    {T_IQ1_S, {"iq1_s", QK_K, 50, false, {}, T_Q8_K}},
    {T_IQ3_S, {"iq3_s", QK_K, 110, false, {}, T_Q8_K}},
    {T_IQ2_S, {"iq2_s", QK_K, 82, false, {}, T_Q8_K}},
    {T_IQ1_M, {"iq1_m", QK_K, 56, false, {}, T_Q8_K}},
    {T_TQ1_0, {"tq1_0", QK_K, 54, false, {}, T_Q8_K}},
    {T_TQ2_0, {"tq2_0", QK_K, 66, false, {}, T_Q8_K}},
    // q8_K: an activation format (engine-internal as weights: no dot product, multiplied as f32 rows by
    // matmul_general)
    {T_Q8_K, {"q8_K", QK_K, sizeof(block_q8_K), true, DEQ(q8_K), kNoVecDot, FROM_X86_512(q8_K)}},
    // known by name only
    {T_I8, {"i8", 1, 1, false, {}}},
    {T_I16, {"i16", 1, 2, false, {}}},
    {T_I32, {"i32", 1, 4, false, {}}},
    {T_I64, {"i64", 1, 8, false, {}}},
    {T_F64, {"f64", 1, 8, false, {}}},
    {T_NVFP4, {"nvfp4", 64, 36, false, {}}},
    {T_Q1_0, {"q1_0", 128, 18, false, {}}},
    {T_Q2_0, {"q2_0", 64, 18, false, {}}},
    // APR-native (docs: /work/shared/docs/apr-format.md section 4.3), no vec_dot type: multiplied as their
    // dequantized f32 rows (rosetta/apr_matmul.h). apr_q8 has one f32 scale for the whole tensor
    // (headerBytes 4), then one i8 per element (kernels/apr_matmul.cpp).
    {T_APR_Q4, {"apr_q4", 32, 18, true, {ref::dequant_apr_q4, avx2::dequant_apr_q4, avx2::dequant_apr_q4}}},
    {T_APR_Q8, {"apr_q8", 1, 1, true, {ref::dequant_apr_q8, ref::dequant_apr_q8, ref::dequant_apr_q8}, kNoVecDot,
                {}, nullptr, {}, {}, {}, 4}},
};
#undef DEQ
#undef VD
#undef TINY
#undef TILE
#undef VD512
#undef TILE512
#undef DOT512
#undef FROM_REF
#undef FROM_X86
#undef FROM_X86_512
#undef DOT

struct Table {
  const TypeTraits* byId[kMaxId + 1] = {};
  Table() {
    for (const Entry& e : kEntries) byId[e.id] = &e.t;
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

const TypeTraits* type_traits(uint32_t type) { return type <= kMaxId ? table().byId[type] : nullptr; }

uint32_t type_id_max() { return kMaxId; }

const TypeTraits* type_traits_by_name(const char* name) {
  for (const Entry& e : kEntries)
    if (std::strcmp(e.t.name, name) == 0) return &e.t;
  return nullptr;
}

ToFloatFn to_float_fn(const TypeTraits& t) { return t.toFloat[static_cast<int>(current_isa())]; }

void to_float(const TypeTraits& t, const void* src, float* dst, int64_t n) { to_float_fn(t)(src, dst, n); }

VecDotFn vec_dot_fn(const TypeTraits& t, bool tiny, bool panel) {
  const int isa = static_cast<int>(current_isa());
  if (panel && t.vecDotPanel[isa]) return t.vecDotPanel[isa];
  return tiny && t.vecDotTiny[isa] ? t.vecDotTiny[isa] : t.vecDot[isa];
}

bool has_panel_order(const TypeTraits& t) { return t.vecDotPanel[0] != nullptr; }

VecDotTileFn vec_dot_tile_fn(const TypeTraits& t) { return t.tile[static_cast<int>(current_isa())]; }

FromFloatFn from_float_fn(const TypeTraits& t) { return t.fromFloat[static_cast<int>(current_isa())]; }

}  // namespace rosetta
