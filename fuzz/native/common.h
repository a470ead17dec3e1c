// Shared by the libFuzzer harnesses (fuzz/native/*.cc, built by scripts/fuzz.js with clang's
// -fsanitize=fuzzer,address,undefined): a little reader over the fuzzer's bytes, so each harness states
// what it draws (a type id, dims, then the rest as weight bytes).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "rosetta/isa.h"
#include "rosetta/types.h"

namespace fuzz {

struct Input {
  const uint8_t* p;
  size_t n;
  template <typename T>
  T take() {
    T v{};
    const size_t k = n < sizeof(T) ? n : sizeof(T);
    std::memcpy(&v, p, k);
    p += k;
    n -= k;
    return v;
  }
};

// A type id the traits table knows and supports, drawn from one byte (every id is reachable); *t its traits.
inline uint32_t pick_type(uint8_t b, const rosetta::TypeTraits** t) {
  const uint32_t max = rosetta::type_id_max();
  for (uint32_t k = 0; k <= max; ++k) {
    const uint32_t id = (b + k) % (max + 1);
    *t = rosetta::type_traits(id);
    if (*t != nullptr && (*t)->supported) return id;
  }
  *t = nullptr;
  return 0;
}

// The ISA paths this CPU runs (each is tried: they must agree and none may read out of bounds).
inline int isa_paths(rosetta::Isa out[3]) {
  int k = 0;
  for (rosetta::Isa isa : {rosetta::Isa::Scalar, rosetta::Isa::Avx2, rosetta::Isa::Avx512})
    if (rosetta::isa_supported(isa)) out[k++] = isa;
  return k;
}

}  // namespace fuzz
