// AVX-512 dequantizers: the shared x86 bodies (../dequant_x86.inc) compiled with AVX-512 flags, plus
// 512-bit versions of the pure conversions, whose speed is bound by how wide the conversion is.
#include <immintrin.h>

#include <cstring>

#include "rosetta/blocks.h"
#include "rosetta/internal/dequant.h"

namespace rosetta {
namespace avx512 {
namespace shared {
#include "../dequant_x86.inc"
}  // namespace shared

void dequant_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, (size_t)n * 4); }

void dequant_f16(const void* src, float* dst, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(src);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i h0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i));
    const __m256i h1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i + 32));
    // maskz with a full mask: same instruction, but avoids GCC 12's false -Wuninitialized on the
    // unmasked intrinsic's internal _mm512_undefined_ps().
    _mm512_storeu_ps(dst + i, _mm512_maskz_cvtph_ps(0xFFFF, h0));
    _mm512_storeu_ps(dst + i + 16, _mm512_maskz_cvtph_ps(0xFFFF, h1));
  }
  shared::dequant_f16(p + 2 * i, dst + i, n - i);
}

void dequant_bf16(const void* src, float* dst, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(src);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i));
    _mm512_storeu_si512(dst + i, _mm512_maskz_slli_epi32(0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, h), 16));
  }
  shared::dequant_bf16(p + 2 * i, dst + i, n - i);
}

#define ROSETTA_FORWARD(name) \
  void dequant_##name(const void* src, float* dst, int64_t n) { shared::dequant_##name(src, dst, n); }
ROSETTA_FORWARD(q4_0) ROSETTA_FORWARD(q4_1) ROSETTA_FORWARD(q5_0) ROSETTA_FORWARD(q5_1)
ROSETTA_FORWARD(q8_0) ROSETTA_FORWARD(q2_K) ROSETTA_FORWARD(q3_K) ROSETTA_FORWARD(q4_K)
ROSETTA_FORWARD(q5_K) ROSETTA_FORWARD(q6_K) ROSETTA_FORWARD(q8_K) ROSETTA_FORWARD(iq4_nl)
ROSETTA_FORWARD(iq4_xs)
#undef ROSETTA_FORWARD

}  // namespace avx512
}  // namespace rosetta
