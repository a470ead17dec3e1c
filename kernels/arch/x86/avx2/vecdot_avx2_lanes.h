// Lane helpers shared by the AVX2 llama.cpp-exact dot products (vecdot_avx2.cpp) and their multi-row,
// multi-token tiles (vecdot_tile_avx2.cpp). Internal to the x86 translation units: the AVX2 ones
// (-mavx2 -mfma -mf16c) and the AVX-512 dot products (avx512/vecdot_avx512.cpp), which include it under
// their own namespace (ROSETTA_LANES_NS) so that no inline function is shared between units built with
// different flags.
#pragma once
#ifndef ROSETTA_LANES_NS
#define ROSETTA_LANES_NS avx2
#endif
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "rosetta/blocks.h"
#include "rosetta/vecdot.h"

namespace rosetta {
namespace ROSETTA_LANES_NS {

// F16C conversion: the same value as fp16_to_fp32 (exact for every input; NaNs quieted the same way).
inline float half_to_f32(uint16_t h) { return _cvtsh_ss(h); }

// A rounded product that the compiler may not fuse into a following add (-mfma would contract it).
inline float mul_rounded(float a, float b) {
  float p = a * b;
  __asm__("" : "+x"(p));
  return p;
}

inline float hsum8(__m256 v) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

inline float reduce32(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 x = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// 8 int32 lanes, lane l = sum of the 4 products of bytes 4l..4l+3 (signed x signed, |x| <= 127).
inline __m256 lane_dot_i8(__m256i x, __m256i y) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

inline __m256i nibbles32(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

inline __m256i load_w(const block_q4_0& b) { return _mm256_sub_epi8(nibbles32(b.qs), _mm256_set1_epi8(8)); }
inline __m256i load_w(const block_q8_0& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
// Byte j = 0xFF where bit j of the 32-bit high-bit field qh (Q5_0 / Q5_1) is set, else 0: spread the 4 qh
// bytes over 8 bytes each, then test one bit per byte.
inline __m256i high_bits32(const uint8_t* qh4) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
                                             _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

inline __m256i load_w(const block_q5_0& b) {
  const __m256i has = high_bits32(b.qh);
  // (nibble | bit << 4) - 16 == nibble - 16 + (bit ? 16 : 0)
  const __m256i hi = _mm256_andnot_si256(has, _mm256_set1_epi8((char)0xF0));
  return _mm256_or_si256(nibbles32(b.qs), hi);
}
inline __m256i load_w(const block_iq4_nl& b) {
  const __m128i tbl = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl));
  const __m256i t2 = _mm256_broadcastsi128_si256(tbl);
  return _mm256_shuffle_epi8(t2, nibbles32(b.qs));
}

inline void q4k_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; j++) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
    sc[j + 4] = (s[j + 8] & 15) | ((s[j] >> 6) << 4);
    mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
  }
}

// ---- shared by the multi-token tiles (vecdot_tile_avx2.cpp, vecdot_tile_kq_avx2.cpp) ----

// Tokens per K-quant tile: one decoded superblock serves 8 tokens (their accumulators stay in registers,
// or at worst in L1); the Q8_0 family's is kQ0Group (rosetta/vecdot.h).
constexpr int kTileK = 8;
// Decode streams each weight once from memory; prefetching far ahead into L2 keeps enough misses in
// flight for one core to approach its share of the bandwidth (measured, a 16384 x 16384 Q4_K gemv from
// memory on one thread: 2 KB ahead into L1 12 GB/s, 8 KB ahead into L2 17 GB/s; the L1 miss queue is
// the shorter one). A prefetch never faults, even past the end.
constexpr int kPrefetch = 8192;

template <typename B>
inline void prefetch_block(const B* p) {
  const char* c = reinterpret_cast<const char*>(p) + kPrefetch;
  for (size_t o = 0; o < sizeof(B); o += 64) _mm_prefetch(c + o, _MM_HINT_T1);
}
// The Q8_0-family decode rows (about a byte per MAC, one fma chain per row) also want the lines in L1
// before they load them: a second, nearer prefetch into L1, every other block (measured, a 16384 x 16384
// Q8_0 gemv from memory: one thread 13.4 -> 15.9 GB/s, two threads 24 -> 25; the K-quant rows lose
// 10-30% with it, so they keep the L2 prefetch alone).
constexpr int kPrefetchL1 = 4096;
template <typename B>
inline void prefetch_q0(const B* p) {
  prefetch_block(p);
  _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchL1, _MM_HINT_T0);
}

// Byte shuffles that broadcast 16-bit lane k of a register to all lanes (llama.cpp's get_scale_shuffle_k4).
#define ROSETTA_PAIR16(k) 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, 2 * k, 2 * k + 1, \
                          2 * k, 2 * k + 1, 2 * k, 2 * k + 1
alignas(32) inline constexpr uint8_t kScaleShuffle[8 * 32] = {
    ROSETTA_PAIR16(0), ROSETTA_PAIR16(0), ROSETTA_PAIR16(1), ROSETTA_PAIR16(1), ROSETTA_PAIR16(2), ROSETTA_PAIR16(2),
    ROSETTA_PAIR16(3), ROSETTA_PAIR16(3), ROSETTA_PAIR16(4), ROSETTA_PAIR16(4), ROSETTA_PAIR16(5), ROSETTA_PAIR16(5),
    ROSETTA_PAIR16(6), ROSETTA_PAIR16(6), ROSETTA_PAIR16(7), ROSETTA_PAIR16(7)};
#undef ROSETTA_PAIR16

// Q4_K/Q5_K's 12 packed bytes -> scales (lanes 0-7) and mins (lanes 8-15) as 16-bit integers, the same
// values as q4k_scales, in seven vector steps from one 16-byte load (the 12 bytes and the 4 block bytes
// after them, unused): one shuffle puts each lane's low source byte in its low half and the byte
// holding its two high bits (lanes 4-7, 12-15) in its high half; lanes 12-15 want their byte's high
// nibble, which a 32-bit shift of 4 in 32-bit lanes 6 and 7 brings down (what it carries in from the
// neighbouring lane lands in bits the mask drops); then (low & (63 or 15)) | (high >> 6) << 4.
inline __m256i q4k_scales16(const uint8_t* packed) {
  const __m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(packed)));
  const __m256i idx = _mm256_setr_epi8(0, -128, 1, -128, 2, -128, 3, -128, 8, 0, 9, 1, 10, 2, 11, 3,  //
                                       4, -128, 5, -128, 6, -128, 7, -128, 8, 4, 9, 5, 10, 6, 11, 7);
  const __m256i low = _mm256_setr_epi16(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15);
  const __m256i v = _mm256_shuffle_epi8(x, idx);
  const __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 4, 4)), low);
  return _mm256_or_si256(lo, _mm256_and_si256(_mm256_srli_epi16(v, 10), _mm256_set1_epi16(0x30)));
}

// Q4_K/Q5_K's min term as ggml's AVX2 kernels form it: the 8 mins (16-bit lanes) times the pair sums of
// the token's 16 bsums (`_mm_hadd_epi16`), 4 int32 lanes.
inline __m128i qk45_min_lanes(__m128i mins, const int16_t* bsums) {
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  return _mm_madd_epi16(mins, _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
}

// Q4_K / Q5_K x one token (decode, the AVX2 tiles' one-token rows): the superblock streamed 64 quants
// at a time (two chunks decoded, their scale vectors shuffled, multiplied, added) instead of all 8
// chunks and 8 scale vectors first, which for one token only filled the 16 registers and sent the rest
// to the stack. dot_q4_K's / dot_q5_K's integers (summed in another order: exact) and float operations,
// the min term as each keeps it (Q4_K: 4 lanes fma'd per superblock; Q5_K: one integer, a scalar fma).
template <typename B>
float qk45_token_row(int64_t nb, const B* w, const block_q8_K* a) {
  constexpr bool kQ5 = std::is_same_v<B, block_q5_K>;
  const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  __m128 accm = _mm_setzero_ps();
  float summs = 0;
  for (int64_t i = 0; i < nb; i++) {
    prefetch_block(w + i);
    const float d = a[i].d * half_to_f32(w[i].d);
    const float dmin = -a[i].d * half_to_f32(w[i].dmin);
    const __m256i mins_scales = q4k_scales16(w[i].scales);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(mins_scales));
    const __m128i pm = qk45_min_lanes(_mm256_extracti128_si256(mins_scales, 1), a[i].bsums);
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kQ5) {
      __m128i s = _mm_add_epi32(pm, _mm_unpackhi_epi64(pm, pm));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
      summs = std::fma(dmin, (float)_mm_cvtsi128_si32(s), summs);
      hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh));
    } else {
      accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(pm), accm);
    }
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs + 32 * j));
      __m256i ql = _mm256_and_si256(bits, m4), qh = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      if constexpr (kQ5) {
        ql = _mm256_or_si256(ql, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j), one), 4));
        qh = _mm256_or_si256(qh, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j + 1), one), 4));
      }
      const __m256i yl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 64 * j));
      const __m256i yh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 64 * j + 32));
      const __m256i sl = _mm256_shuffle_epi8(scales, _mm256_load_si256(reinterpret_cast<const __m256i*>(kScaleShuffle) + 2 * j));
      const __m256i sh = _mm256_shuffle_epi8(scales, _mm256_load_si256(reinterpret_cast<const __m256i*>(kScaleShuffle) + 2 * j + 1));
      const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(ql, yl), sl);
      const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(qh, yh), sh);
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  if constexpr (kQ5) return hsum8(acc) + summs;
  __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
  m = _mm_add_ss(m, _mm_movehdup_ps(m));
  return hsum8(acc) + _mm_cvtss_f32(m);
}

// Byte shuffles that take 16-bit lane 2g of each half to every lane of the low half and lane 2g+1 to
// every lane of the high half: with 8 16-quant scales in both halves, a 32-quant chunk's two scales.
#define ROSETTA_PAIR16X2(g) 4 * g, 4 * g + 1, 4 * g, 4 * g + 1, 4 * g, 4 * g + 1, 4 * g, 4 * g + 1, 4 * g, 4 * g + 1, 4 * g, 4 * g + 1, \
                            4 * g, 4 * g + 1, 4 * g, 4 * g + 1, 4 * g + 2, 4 * g + 3, 4 * g + 2, 4 * g + 3, 4 * g + 2, 4 * g + 3, \
                            4 * g + 2, 4 * g + 3, 4 * g + 2, 4 * g + 3, 4 * g + 2, 4 * g + 3, 4 * g + 2, 4 * g + 3, 4 * g + 2, 4 * g + 3
alignas(32) inline constexpr uint8_t kScalePair16[4 * 32] = {ROSETTA_PAIR16X2(0), ROSETTA_PAIR16X2(1), ROSETTA_PAIR16X2(2),
                                                            ROSETTA_PAIR16X2(3)};
#undef ROSETTA_PAIR16X2

// sj = 16-bit scales 8j..8j+7 in both halves: group g's vector (scale 8j+2g in the low lanes, 8j+2g+1 in
// the high ones) by one byte shuffle.
inline __m256i scale_pair16(__m256i sj, int g) {
  return _mm256_shuffle_epi8(sj, _mm256_load_si256(reinterpret_cast<const __m256i*>(kScalePair16) + g));
}

// The 16 scales of a superblock as 16-bit lanes (sc16) -> half j's 8 in both halves, for scale_pair16.
inline __m256i scales_half(__m256i sc16, int j) {
  return j ? _mm256_permute4x64_epi64(sc16, 0xEE) : _mm256_permute4x64_epi64(sc16, 0x44);  // immediates (clang)
}

// Q3_K's 12 packed bytes -> its 16 signed 6-bit scales (value - 32) as 16-bit lanes, in sub-block
// order: ggml's 32-bit unpacking (low nibbles of bytes 0-7, then their high nibbles, each with two bits
// of bytes 8-11 above) four words at a time, two variable shifts and masks; the 12 bytes read as 8 + 4
// (the block's scales end 2 bytes before it does).
inline __m256i q3k_scales16(const uint8_t* s) {
  uint64_t lo;
  uint32_t hi;
  std::memcpy(&lo, s, 8);
  std::memcpy(&hi, s + 8, 4);
  const __m128i v = _mm_set_epi64x((long long)lo, (long long)lo);  // words aux0, aux1, aux0, aux1
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(v, _mm_setr_epi32(0, 0, 4, 4)), _mm_set1_epi8(15));
  const __m128i top = _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32((int)hi), _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
  const __m128i u = _mm_or_si128(low, _mm_slli_epi32(top, 4));
  return _mm256_cvtepi8_epi16(_mm_sub_epi8(u, _mm_set1_epi8(32)));
}

// A superblock row kernel fn<NT>(nb, w, a, arb, y, ldy) as the Row type tile_rows takes.
#define ROSETTA_TILE_ROW(Name, fn)                                                                          \
  template <typename B, int NT>                                                                             \
  struct Name {                                                                                             \
    static constexpr int64_t kBlock = QK_K;                                                                 \
    static void run(int64_t nb, const B* w, const uint8_t* a, size_t arb, float* y, int64_t ldy) {          \
      fn<NT>(nb, w, a, arb, y, ldy);                                                                        \
    }                                                                                                       \
  };

// Rows x tokens over tiles of kTileK tokens (and one tile of the remaining ones): Row<B, NT>::run does
// one weight row against NT tokens whose activation rows are arb bytes apart.
template <typename B, template <typename, int> class Row>
void tile_rows(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, const float*, int64_t nt, float* y,
               int64_t ldy) {
  const int64_t nb = n / Row<B, 1>::kBlock;
  for (int64_t t0 = 0; t0 < nt; t0 += kTileK) {
    const int64_t m = nt - t0 < kTileK ? nt - t0 : kTileK;
    const uint8_t* at = a + arb * t0;
    float* yt = y + ldy * t0;
    for (int64_t r = 0; r < nr; r++) {
      const B* wr = reinterpret_cast<const B*>(w + rb * r);
      switch (m) {
        case 8: Row<B, 8>::run(nb, wr, at, arb, yt + r, ldy); break;
        case 7: Row<B, 7>::run(nb, wr, at, arb, yt + r, ldy); break;
        case 6: Row<B, 6>::run(nb, wr, at, arb, yt + r, ldy); break;
        case 5: Row<B, 5>::run(nb, wr, at, arb, yt + r, ldy); break;
        case 4: Row<B, 4>::run(nb, wr, at, arb, yt + r, ldy); break;
        case 3: Row<B, 3>::run(nb, wr, at, arb, yt + r, ldy); break;
        case 2: Row<B, 2>::run(nb, wr, at, arb, yt + r, ldy); break;
        default: Row<B, 1>::run(nb, wr, at, arb, yt + r, ldy); break;
      }
    }
  }
}

// The Q8_0-family tile (VecDotTileFn) over a path's row kernels: decode (ad null) one row x one token at a
// time with Row1(nb, w, a); a prompt's packed groups of kQ0Group tokens (pack_q8_0_token) with
// Group(nb, w, qs, sc, y, ldy, m), m the group's real tokens.
template <typename B, float (*Row1)(int64_t, const B*, const block_q8_0*),
          void (*Group)(int64_t, const B*, const int8_t*, const float*, float*, int64_t, int64_t)>
void tile_q0_with(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, const float* ad, int64_t nt,
                  float* y, int64_t ldy) {
  const int64_t nb = n / 32;
  if (!ad) {  // decode: the token's row as quantized
    for (int64_t t = 0; t < nt; t++)
      for (int64_t r = 0; r < nr; r++)
        y[t * ldy + r] = Row1(nb, reinterpret_cast<const B*>(w + rb * r), reinterpret_cast<const block_q8_0*>(a + arb * t));
    return;
  }
  const int8_t* qs = reinterpret_cast<const int8_t*>(a);
  for (int64_t g = 0; g * kQ0Group < nt; g++) {
    const int64_t m = nt - g * kQ0Group < kQ0Group ? nt - g * kQ0Group : kQ0Group;
    for (int64_t r = 0; r < nr; r++)
      Group(nb, reinterpret_cast<const B*>(w + rb * r), qs + g * nb * kQ0Group * 32, ad + g * nb * kQ0Group, y + g * kQ0Group * ldy + r,
            ldy, m);
  }
}

// Q4_0 / Q5_0 x one token (decode) on unsigned quants: ggml's lane l is sum (q - off) y over bytes
// 4l..4l+3 (off 8, or 16 for Q5_0's 5-bit quants) = sum q y - off x sum y. The token's side of that,
// -off x its 4-byte lane sums, and its f32 block scales are formed once per tile call (for all the
// call's rows), so a block costs its quants (no offset, no sign steps), their products with the token
// (maddubs + madd, or one vpdpbusd started from the token's lanes) and nothing else: the same integers
// (exact), the same d_w x d_a product and fma as the signed kernels.
template <typename B>
struct Q0Unsigned;
template <>
struct Q0Unsigned<block_q4_0> {
  static constexpr int kShift = 3;  // x 8
  static __m256i quants(const block_q4_0& b) { return nibbles32(b.qs); }
};
template <>
struct Q0Unsigned<block_q5_0> {
  static constexpr int kShift = 4;  // x 16
  static __m256i quants(const block_q5_0& b) { return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(high_bits32(b.qh), _mm256_set1_epi8(0x10))); }
};

struct TokenQ0 {
  // the template argument loses __m256i's may_alias attribute (harmless: the lanes are only written
  // and read as __m256i; 32-byte aligned by C++17's aligned new); an aligned int32 struct ran 0.95x
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
  std::vector<__m256i> lanes;  // -off x the 4-byte lane sums of each block's quants
#pragma GCC diagnostic pop
  std::vector<float> d;      // each block's scale as f32
  void form(const block_q8_0* a, int64_t nb, int shift) {
    lanes.resize((size_t)nb);
    d.resize((size_t)nb);
    const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
      const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
      const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(one8, qy), one16);
      lanes[(size_t)b] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, shift));
      d[(size_t)b] = half_to_f32(a[b].d);
    }
  }
  __m256i neg(int64_t b) const { return lanes[(size_t)b]; }
};

// A decode matmul's Q4_0 / Q5_0 rows (a tile call without packed activations): per token its side
// formed once, then the rows two a pass through rows2(nb, w0, w1, a, tok, y0, y1) and an odd last one
// through row1(nb, w, a, tok).
template <typename B, void (*rows2)(int64_t, const B*, const B*, const block_q8_0*, const TokenQ0&, float*, float*),
          float (*row1)(int64_t, const B*, const block_q8_0*, const TokenQ0&)>
void q0u_decode(int64_t nb, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb, int64_t nt, float* y, int64_t ldy) {
  thread_local TokenQ0 tok;
  for (int64_t t = 0; t < nt; t++) {
    const block_q8_0* at = reinterpret_cast<const block_q8_0*>(a + arb * t);
    tok.form(at, nb, Q0Unsigned<B>::kShift);
    float* yt = y + t * ldy;
    int64_t r = 0;
    for (; r + 2 <= nr; r += 2)
      rows2(nb, reinterpret_cast<const B*>(w + rb * r), reinterpret_cast<const B*>(w + rb * (r + 1)), at, tok, yt + r, yt + r + 1);
    if (r < nr) yt[r] = row1(nb, reinterpret_cast<const B*>(w + rb * r), at, tok);
  }
}

// Q4_1/Q5_1's unsigned quants (Q5_1 with its 5th bit), as ggml_vec_dot_q{4,5}_1_q8_1 reads them.
inline __m256i load_w_q1(const block_q4_1& b) { return nibbles32(b.qs); }
inline __m256i load_w_q1(const block_q5_1& b) {
  const __m256i has = high_bits32(b.qh);
  return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(has, _mm256_set1_epi8(0x10)));
}

// IQ4_NL's tinyBLAS-order tile (vecdot_tile_avx2.cpp), which vec_dot_tile_iq4_nl takes for a batch.
void vec_dot_tile_iq4_nl_batch(int64_t n, const uint8_t* w, size_t rb, int64_t nr, const uint8_t* a, size_t arb,
                               const float* ad, int64_t nt, float* y, int64_t ldy);
}  // namespace ROSETTA_LANES_NS
}  // namespace rosetta
