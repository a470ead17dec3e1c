// libFuzzer target: the dequantizers of every supported type (the traits table's toFloat, the bytes of a
// tensor straight from a model file) on every ISA path this CPU runs. Properties: no read or write
// outside the blocks (ASan), no undefined behaviour (UBSan), and every path gives the scalar reference's
// bits (NaN payloads aside), as docs/kernels.md promises.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in{data, size};
  const rosetta::TypeTraits* t = nullptr;
  fuzz::pick_type(in.take<uint8_t>(), &t);
  if (t == nullptr || in.n < t->headerBytes + t->typeSize) return 0;
  int64_t blocks = (int64_t)((in.n - t->headerBytes) / t->typeSize);
  if (blocks > 64) blocks = 64;
  const int64_t n = blocks * t->blockSize;
  // an exact-size heap copy, so ASan sees one byte past the tensor as out of bounds
  const size_t bytes = t->headerBytes + (size_t)blocks * t->typeSize;
  std::vector<uint8_t> src(in.p, in.p + bytes);
  rosetta::Isa paths[3];
  const int np = fuzz::isa_paths(paths);
  std::vector<float> ref((size_t)n), out((size_t)n);
  for (int k = 0; k < np; ++k) {
    rosetta::set_isa(paths[k]);
    rosetta::to_float(*t, src.data(), k == 0 ? ref.data() : out.data(), n);
    if (k == 0) continue;
    for (int64_t i = 0; i < n; ++i) {
      const float a = ref[(size_t)i], b = out[(size_t)i];
      if (std::isnan(a) && std::isnan(b)) continue;
      if (std::memcmp(&a, &b, sizeof a) != 0) {
        fprintf(stderr, "dequant %s: %s path gives %a at %lld, scalar %a\n", t->name, rosetta::isa_name(paths[k]), b,
                (long long)i, a);
        abort();
      }
    }
  }
  return 0;
}
