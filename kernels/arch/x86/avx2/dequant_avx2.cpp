// AVX2 + F16C dequantizers (bodies in ../dequant_x86.inc, shared with the avx512 build).
#include <immintrin.h>

#include <cstring>

#include "rosetta/blocks.h"
#include "rosetta/internal/dequant.h"

namespace rosetta {
namespace avx2 {
#include "../dequant_x86.inc"
}  // namespace avx2
}  // namespace rosetta
