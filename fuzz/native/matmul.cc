// libFuzzer target: the matmul driver and the embedding row fetch (rosetta/matmul.h, rosetta/apr_matmul.h)
// on weight bytes of any type with any shape, row stride, numerics mode and ISA path: the entry points
// that take a model file's tensor bytes and the dims its header claims. Property: each call either
// returns an error message or computes, and never reads outside w / x / y (ASan) or hits UB (UBSan).
#include <vector>

#include "common.h"
#include "rosetta/apr_matmul.h"
#include "rosetta/matmul.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in{data, size};
  const rosetta::TypeTraits* t = nullptr;
  const uint32_t id = fuzz::pick_type(in.take<uint8_t>(), &t);
  if (t == nullptr) return 0;
  const uint8_t flags = in.take<uint8_t>();
  const int64_t nOut = 1 + in.take<uint8_t>() % 16;
  // nIn: mostly whole blocks (so the kernels run), sometimes any length (so the checks run)
  const uint16_t rawIn = in.take<uint16_t>();
  const int64_t nIn = (flags & 1) ? 1 + rawIn % 1024 : t->blockSize * (1 + rawIn % 8);
  const int64_t nTok = 1 + (flags >> 1) % 4;
  const uint16_t rawStride = in.take<uint16_t>();
  const size_t rowBytes = (flags & 8) ? rawStride % 2048 : 0;
  const rosetta::Numerics mode = (flags & 16) ? rosetta::Numerics::Exact : rosetta::Numerics::Ggml;
  rosetta::Isa paths[3];
  const int np = fuzz::isa_paths(paths);
  rosetta::set_isa(paths[((flags >> 5) & 3) % np]);
  // activations: finite values from the input (a model's activations are finite; the weights are not trusted)
  std::vector<float> x((size_t)(nTok * nIn));
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)(int8_t)(in.n ? in.p[i % in.n] : 1) / 16.0f;
  std::vector<float> y((size_t)(nTok * nOut));
  std::vector<uint8_t> w(in.p, in.p + in.n);  // exact-size copy: one byte past is out of bounds
  rosetta::MatmulArgs a{};
  a.w = w.data();
  a.wBytes = w.size();
  a.type = (flags & 128) ? 128u + (rawStride & 1u) : id;  // sometimes an APR-native type (general path)
  a.nOut = nOut;
  a.nIn = nIn;
  a.x = x.data();
  a.y = y.data();
  a.nTok = nTok;
  a.mode = mode;
  a.rowBytes = rowBytes;
  (void)rosetta::matmul(a);
  std::vector<float> row((size_t)nIn);
  (void)rosetta::get_row(w.data(), w.size(), a.type, nOut, nIn, rowBytes, (int64_t)(rawStride % (nOut + 1)), row.data());
  return 0;
}
