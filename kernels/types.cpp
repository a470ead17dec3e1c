// The traits table: the only place that maps a type id to its layout and its dequantizers.
#include "rosetta/types.h"

#include <cstring>

#include "rosetta/blocks.h"
#include "rosetta/isa.h"
#include "rosetta/internal/dequant.h"

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

#define ROSETTA_FNS(name) {ref::dequant_##name, avx2::dequant_##name, avx512::dequant_##name}

struct Entry {
  uint32_t id;
  TypeTraits t;
};

// Unsupported entries carry GGML's exact geometry so sizes can still be reported (and checked) by name.
const Entry kEntries[] = {
    {T_F32, {"f32", 1, 4, true, ROSETTA_FNS(f32)}},
    {T_F16, {"f16", 1, 2, true, ROSETTA_FNS(f16)}},
    {T_Q4_0, {"q4_0", QK4_0, sizeof(block_q4_0), true, ROSETTA_FNS(q4_0)}},
    {T_Q4_1, {"q4_1", QK4_1, sizeof(block_q4_1), true, ROSETTA_FNS(q4_1)}},
    {T_Q5_0, {"q5_0", QK5_0, sizeof(block_q5_0), true, ROSETTA_FNS(q5_0)}},
    {T_Q5_1, {"q5_1", QK5_1, sizeof(block_q5_1), true, ROSETTA_FNS(q5_1)}},
    {T_Q8_0, {"q8_0", QK8_0, sizeof(block_q8_0), true, ROSETTA_FNS(q8_0)}},
    {T_Q8_1, {"q8_1", QK8_1, sizeof(block_q8_1), false, {}}},
    {T_Q2_K, {"q2_K", QK_K, sizeof(block_q2_K), true, ROSETTA_FNS(q2_K)}},
    {T_Q3_K, {"q3_K", QK_K, sizeof(block_q3_K), true, ROSETTA_FNS(q3_K)}},
    {T_Q4_K, {"q4_K", QK_K, sizeof(block_q4_K), true, ROSETTA_FNS(q4_K)}},
    {T_Q5_K, {"q5_K", QK_K, sizeof(block_q5_K), true, ROSETTA_FNS(q5_K)}},
    {T_Q6_K, {"q6_K", QK_K, sizeof(block_q6_K), true, ROSETTA_FNS(q6_K)}},
    {T_Q8_K, {"q8_K", QK_K, sizeof(block_q8_K), true, ROSETTA_FNS(q8_K)}},
    {T_IQ2_XXS, {"iq2_xxs", QK_K, 66, false, {}}},
    {T_IQ2_XS, {"iq2_xs", QK_K, 74, false, {}}},
    {T_IQ3_XXS, {"iq3_xxs", QK_K, 98, false, {}}},
    {T_IQ1_S, {"iq1_s", QK_K, 50, false, {}}},
    {T_IQ4_NL, {"iq4_nl", QK4_NL, sizeof(block_iq4_nl), true, ROSETTA_FNS(iq4_nl)}},
    {T_IQ3_S, {"iq3_s", QK_K, 110, false, {}}},
    {T_IQ2_S, {"iq2_s", QK_K, 82, false, {}}},
    {T_IQ4_XS, {"iq4_xs", QK_K, sizeof(block_iq4_xs), true, ROSETTA_FNS(iq4_xs)}},
    {T_I8, {"i8", 1, 1, false, {}}},
    {T_I16, {"i16", 1, 2, false, {}}},
    {T_I32, {"i32", 1, 4, false, {}}},
    {T_I64, {"i64", 1, 8, false, {}}},
    {T_F64, {"f64", 1, 8, false, {}}},
    {T_IQ1_M, {"iq1_m", QK_K, 56, false, {}}},
    {T_BF16, {"bf16", 1, 2, true, ROSETTA_FNS(bf16)}},
    {T_TQ1_0, {"tq1_0", QK_K, 54, false, {}}},
    {T_TQ2_0, {"tq2_0", QK_K, 66, false, {}}},
    {T_MXFP4, {"mxfp4", 32, 17, false, {}}},
    {T_NVFP4, {"nvfp4", 64, 36, false, {}}},
    {T_Q1_0, {"q1_0", 128, 18, false, {}}},
    {T_Q2_0, {"q2_0", 64, 18, false, {}}},
    // APR-native (docs: /work/shared/docs/apr-format.md section 4.3). apr_q8 has one f32 scale for the
    // whole tensor (headerBytes 4), then one i8 per element (kernels/apr_matmul.cpp).
    {T_APR_Q4, {"apr_q4", 32, 18, true, {ref::dequant_apr_q4, avx2::dequant_apr_q4, avx2::dequant_apr_q4}}},
    {T_APR_Q8, {"apr_q8", 1, 1, true, {ref::dequant_apr_q8, ref::dequant_apr_q8, ref::dequant_apr_q8}, 4}},
};
#undef ROSETTA_FNS

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

}  // namespace rosetta
