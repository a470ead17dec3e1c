// Per-ISA dequantizers behind the traits table (types.cpp). Private to kernels/: callers go through
// type_traits()/to_float_fn(). Every ISA has the same set with the same signature, and each function is
// bit exact with ggml's to_float for its type (checked by tests/kernels/dequant.test.ts).
#pragma once
#include <cstdint>

// X(name): one dequantizer `dequant_<name>(const void* src, float* dst, int64_t n)`, n a multiple of
// the type's block size.
#define ROSETTA_DEQUANT_TYPES(X) \
  X(f32) X(f16) X(bf16) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(q2_K) X(q3_K) X(q4_K) X(q5_K) \
  X(q6_K) X(q8_K) X(iq4_nl) X(iq4_xs)

#define ROSETTA_DECLARE_DEQUANT(name) void dequant_##name(const void* src, float* dst, int64_t n);

namespace rosetta {
namespace ref { ROSETTA_DEQUANT_TYPES(ROSETTA_DECLARE_DEQUANT) }
namespace avx2 { ROSETTA_DEQUANT_TYPES(ROSETTA_DECLARE_DEQUANT) }
namespace avx512 { ROSETTA_DEQUANT_TYPES(ROSETTA_DECLARE_DEQUANT) }
}  // namespace rosetta
