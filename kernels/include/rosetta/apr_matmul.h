// rosetta kernel library: the matmul rows the main driver (matmul.cpp) does not take, and row fetches.
//
//   * Strided rows: MatmulArgs.rowBytes != 0. APR K-quant matrices whose row length is not a multiple of
//     256 are stored per-row padded (apr-format.md §4.4): each row holds ceil(nIn/256) super-blocks and
//     the padding elements are discarded. Row r starts at w + r * rowBytes.
//   * APR-native types (no ggml vec_dot type): APR_Q4 (32-element blocks) and APR_Q8 (one f32 scale for
//     the whole tensor at w[0..4), then nOut * nIn i8; value = f32(i8 * scale), one f32 product).
//
// Numerics (docs/apr.md, "Running APR files"):
//   Exact - as matmul.h: dequantized weights times the f32 activations, accumulated in f64.
//   Ggml  - a type with a llama.cpp-exact vec_dot kernel (rosetta/vecdot.h; padded Q4_K / Q6_K): the
//           activations are zero-padded to the stored row length and converted to the vec_dot type, and
//           the kernel runs on the stored row: exactly what llama.cpp computes for the same rows stored
//           with explicit zero padding. APR-native types have no llama.cpp counterpart: their decoded
//           rows are multiplied as F32 weights are (f32 activations, the F32 vec_dot kernel that
//           matmul.cpp would pick for the same shape), so an APR_Q8 / APR_Q4 matmul equals, bit for bit,
//           an F32 matmul of the dequantized weights.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rosetta/matmul.h"

namespace rosetta {

// True when matmul(a) must go through matmul_general (strided rows or a type without a vec_dot type).
bool matmul_wants_general(const MatmulArgs& a);

// Same contract as matmul(): nullptr on success, else a message; never reads outside w/x/y.
const char* matmul_general(const MatmulArgs& a);

// Bytes of one row of nIn elements as the general path lays rows out: the packed row of
// ceil(nIn/blockSize) blocks (0 for an unknown/unsupported type). Header bytes are not included.
size_t padded_row_bytes(uint32_t type, int64_t nIn);

// Blocks hold 16/32-bit fields, so every row must start at a multiple of the block's alignment (the
// largest power of two <= 4 that divides its size). nullptr when the weights at w with this row stride
// (0 = packed) are aligned, else a message; matmul() and get_row() refuse misaligned rows (UB otherwise).
const char* check_row_alignment(uint32_t type, const void* w, size_t rowBytes);

// Row `row` of a [nRows, nIn] tensor at w (wBytes available) into out[0..nIn): the embedding lookup
// (ggml GET_ROWS: the row dequantized exactly). rowBytes 0 = packed rows. nullptr on success.
const char* get_row(const uint8_t* w, size_t wBytes, uint32_t type, int64_t nRows, int64_t nIn, size_t rowBytes,
                    int64_t row, float* out);

namespace ref {
// APR_Q8 elements [first, first + n) of the tensor at `tensor` (scale, then i8 values).
void dequant_apr_q8_range(const void* tensor, int64_t first, float* dst, int64_t n);
// The traits-table form: the first n elements (src = the tensor's first byte, its scale).
void dequant_apr_q8(const void* src, float* dst, int64_t n);
}  // namespace ref

}  // namespace rosetta
