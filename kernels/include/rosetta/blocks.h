// rosetta kernel library: GGML block layouts and scalar float conversions.
//
// Layouts are GGML's (ggml-common.h), byte for byte: GGUF tensor data is an array of these blocks.
// Every struct is a plain aggregate of byte/uint16 fields with a static_assert on its size, so a block
// pointer may be taken at any offset that is a multiple of 2 (GGUF aligns tensor data to 32 anyway).
// Half-precision fields are stored as raw uint16_t bit patterns (`f16` / `bf16` typedefs below) and
// converted with the helpers at the end of this file, which are bit exact with ggml's conversions.
#pragma once
#include <cstdint>
#include <cstring>

namespace rosetta {

using f16 = uint16_t;   // IEEE binary16 bit pattern
using bf16 = uint16_t;  // bfloat16 bit pattern (upper half of a binary32)

constexpr int QK_K = 256;         // super-block size of the K-quants and the 256-element IQ formats
constexpr int K_SCALE_SIZE = 12;  // packed 6-bit scales/mins of Q4_K/Q5_K

// ---- 32-element blocks ----------------------------------------------------------------------------

constexpr int QK4_0 = 32;
// Q4_0: 4.5 bits/weight. y = d * (q - 8), q in [0,15]; element j in low nibble of qs[j], element j+16
// in the high nibble of qs[j].
struct block_q4_0 {
  f16 d;                  // scale
  uint8_t qs[QK4_0 / 2];  // nibbles
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");

constexpr int QK4_1 = 32;
// Q4_1: 5 bits/weight. y = d * q + m, q in [0,15]; nibble order as Q4_0.
struct block_q4_1 {
  f16 d;                  // scale
  f16 m;                  // min (offset)
  uint8_t qs[QK4_1 / 2];  // nibbles
};
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");

constexpr int QK5_0 = 32;
// Q5_0: 5.5 bits/weight. y = d * (q - 16), q = nibble | (bit j of qh as little-endian uint32) << 4.
struct block_q5_0 {
  f16 d;                  // scale
  uint8_t qh[4];          // 5th bit of each of the 32 quants (bit j -> element j)
  uint8_t qs[QK5_0 / 2];  // low 4 bits, nibble order as Q4_0
};
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");

constexpr int QK5_1 = 32;
// Q5_1: 6 bits/weight. y = d * q + m, q 5-bit as in Q5_0.
struct block_q5_1 {
  f16 d;                  // scale
  f16 m;                  // min (offset)
  uint8_t qh[4];          // 5th bits
  uint8_t qs[QK5_1 / 2];  // low 4 bits
};
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");

constexpr int QK8_0 = 32;
// Q8_0: 8.5 bits/weight. y = d * q, q signed 8-bit.
struct block_q8_0 {
  f16 d;              // scale
  int8_t qs[QK8_0];   // quants
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");

constexpr int QK8_1 = 32;
// Q8_1: 9 bits/weight. Activation format for Q4_1/Q5_1 dot products: y = d * q; s caches d * sum(q).
struct block_q8_1 {
  f16 d;              // scale
  f16 s;              // d * sum(qs)
  int8_t qs[QK8_1];   // quants
};
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");

constexpr int QK4_NL = 32;
// IQ4_NL: 4.5 bits/weight. y = d * kvalues_iq4nl[q], q a nibble (order as Q4_0), non-linear codebook.
struct block_iq4_nl {
  f16 d;                   // scale
  uint8_t qs[QK4_NL / 2];  // codebook indices
};
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");

// ---- 256-element super-blocks (K-quants) -----------------------------------------------------------

// Q2_K: 2.625 bits/weight. 16 sub-blocks of 16; sub-block i: scale = d * (scales[i] & 15),
// min = dmin * (scales[i] >> 4); y = scale * q - min, q 2-bit.
struct block_q2_K {
  uint8_t scales[QK_K / 16];  // 4-bit scale (low) and 4-bit min (high) per sub-block
  uint8_t qs[QK_K / 4];       // 2-bit quants
  f16 d;                      // super-block scale of the scales
  f16 dmin;                   // super-block scale of the mins
};
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");

// Q3_K: 3.4375 bits/weight. 16 sub-blocks of 16; y = d * (sc - 32) * (q - (hbit ? 0 : 4)),
// sc 6-bit packed in scales[12], q 2 low bits in qs plus one high bit in hmask.
struct block_q3_K {
  uint8_t hmask[QK_K / 8];  // high bit of each quant
  uint8_t qs[QK_K / 4];     // low 2 bits
  uint8_t scales[12];       // 16 x 6-bit scales, packed
  f16 d;                    // super-block scale
};
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");

// Q4_K: 4.5 bits/weight. 8 sub-blocks of 32; y = d * sc * q - dmin * m, sc/m 6-bit packed in scales[12].
struct block_q4_K {
  f16 d;                          // super-block scale of the scales
  f16 dmin;                       // super-block scale of the mins
  uint8_t scales[K_SCALE_SIZE];   // 8 x (6-bit scale, 6-bit min), packed
  uint8_t qs[QK_K / 2];           // 4-bit quants
};
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");

// Q5_K: 5.5 bits/weight. As Q4_K with a 5th bit per quant in qh.
struct block_q5_K {
  f16 d;                          // super-block scale of the scales
  f16 dmin;                       // super-block scale of the mins
  uint8_t scales[K_SCALE_SIZE];   // 8 x (6-bit scale, 6-bit min), packed
  uint8_t qh[QK_K / 8];           // 5th bits
  uint8_t qs[QK_K / 2];           // low 4 bits
};
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");

// Q6_K: 6.5625 bits/weight. 16 sub-blocks of 16; y = d * scales[i] * (q - 32), q 6-bit (ql low 4, qh high 2).
struct block_q6_K {
  uint8_t ql[QK_K / 2];       // low 4 bits
  uint8_t qh[QK_K / 4];       // high 2 bits
  int8_t scales[QK_K / 16];   // signed 8-bit sub-block scales
  f16 d;                      // super-block scale
};
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");

// Q8_K: 9.125 bits/weight. Activation format for K-quant dot products: y = d * q (d is f32);
// bsums caches the sums of each group of 16 quants.
struct block_q8_K {
  float d;                      // scale (f32, not f16)
  int8_t qs[QK_K];              // quants
  int16_t bsums[QK_K / 16];     // sum of qs in groups of 16
};
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

// IQ4_XS: 4.25 bits/weight. 8 sub-blocks of 32; ls = (low 4 bits from scales_l) | (2 bits from
// scales_h) << 4; y = d * (ls - 32) * kvalues_iq4nl[q].
struct block_iq4_xs {
  f16 d;                      // super-block scale
  uint16_t scales_h;          // high 2 bits of the 8 sub-block scales
  uint8_t scales_l[QK_K / 64];  // low 4 bits of the 8 sub-block scales (two per byte)
  uint8_t qs[QK_K / 2];       // codebook indices (nibbles)
};
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

// IQ4_NL / IQ4_XS non-linear codebook (the values are part of the GGUF format).
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                              1,    13,   25,  38,  53,  69,  89,  113};

// ---- scalar conversions -----------------------------------------------------------------------------
// `static` on purpose: this header is included by translation units compiled for different ISAs, and an
// inline function with external linkage would let the linker keep, say, the AVX-512 copy for everyone.

static inline float f32_from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
static inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

// binary16 -> binary32, exact for every input. NaNs keep their payload and come out quiet, exactly as
// F16C's vcvtph2ps and ggml's bit-trick conversion produce them.
static inline float fp16_to_fp32(f16 h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000u | (mant << 13) | (mant ? 0x00400000u : 0u));
  if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
  // zero or subnormal: mant * 2^-24 is exact in binary32
  const float v = (float)mant * 5.9604644775390625e-8f;
  return f32_from_bits(sign | f32_bits(v));
}

// binary32 -> binary16, round to nearest even, overflow to Inf: bit exact with F16C vcvtps2ph (checked on
// a third of all 2^32 inputs), which is what ggml's x86 CPU backends use. NaN -> quiet NaN with the
// payload truncated, like F16C (ggml's non-F16C fallback instead returns 0x7E00 for every NaN).
static inline f16 fp32_to_fp16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return (f16)(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  if (ax >= 0x477FF000u) return (f16)(sign | 0x7C00u);  // rounds to >= 65520: Inf
  if (ax < 0x38800000u) {                                // result is subnormal or zero
    // add 0.5 (as a binary32) so the FPU does the round-to-nearest-even at bit 2^-24
    const float r = f32_from_bits(ax) + 0.5f;
    return (f16)(sign | (f32_bits(r) - 0x3F000000u));
  }
  const uint32_t mant_odd = (ax >> 13) & 1u;
  const uint32_t r = ax + 0xC8000FFFu + mant_odd;       // rebias exponent (-112 << 23) and round
  return (f16)(sign | (r >> 13));
}

static inline float bf16_to_fp32(bf16 h) { return f32_from_bits((uint32_t)h << 16); }

// binary32 -> bfloat16, round to nearest even, NaN forced quiet -- as ggml_compute_fp32_to_bf16.
static inline bf16 fp32_to_bf16(float f) {
  const uint32_t x = f32_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (bf16)((x >> 16) | 0x40u);
  return (bf16)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace rosetta
