// libFuzzer target: the matmul driver and the embedding row fetch (rosetta/matmul.h, rosetta/apr_matmul.h)
// on weight bytes of any type with any shape, row stride, numerics mode and ISA path: the entry points
// that take a model file's tensor bytes and the dims its header claims. Properties: each call either
// returns an error message or computes, and never reads outside w / x / y (ASan) or hits UB (UBSan); a
// ggml-mode matmul of a GGML type on a SIMD path gives the scalar reference's floats bit for bit (NaN
// as NaN), up to 24 tokens (the AVX-512 prompt tiles pass over 16 at a time, then a partial pass).
#include <cstdio>
#include <cstring>
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
  // nIn: mostly whole blocks (so the kernels run; up to 12, so the AVX-512 K-quant tiles' K blocks of 4
  // superblocks run whole and partial), sometimes any length (so the checks run)
  const uint16_t rawIn = in.take<uint16_t>();
  const int64_t nIn = (flags & 1) ? 1 + rawIn % 1024 : t->blockSize * (1 + rawIn % 12);
  const uint8_t more = in.take<uint8_t>();
  const int64_t nTok = (more & 1) ? 1 + (more >> 1) % 24 : 1 + (flags >> 1) % 4;
  const uint16_t rawStride = in.take<uint16_t>();
  const size_t rowBytes = (flags & 8) ? rawStride % 2048 : 0;
  const rosetta::Numerics mode = (flags & 16) ? rosetta::Numerics::Exact : rosetta::Numerics::Ggml;
  rosetta::Isa paths[3];
  const int np = fuzz::isa_paths(paths);
  const rosetta::Isa isa = paths[((flags >> 5) & 3) % np];
  rosetta::set_isa(isa);
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
  const char* err = rosetta::matmul(a);
  if (err == nullptr && mode == rosetta::Numerics::Ggml && a.type < 128 && isa != rosetta::Isa::Scalar) {
    std::vector<float> ref(y.size());
    a.y = ref.data();
    rosetta::set_isa(rosetta::Isa::Scalar);
    if (rosetta::matmul(a) != nullptr) __builtin_trap();  // the same arguments cannot fail on another path
    for (size_t i = 0; i < y.size(); ++i) {
      uint32_t u, v;
      std::memcpy(&u, &y[i], 4);
      std::memcpy(&v, &ref[i], 4);
      if (u != v && !(y[i] != y[i] && ref[i] != ref[i])) {
        std::fprintf(stderr, "type %u, %lld x %lld, %lld tokens, rowBytes %zu, %s: output %zu is %a, scalar %a\n", a.type,
                     (long long)nOut, (long long)nIn, (long long)nTok, rowBytes, rosetta::isa_name(isa), i, y[i], ref[i]);
        __builtin_trap();
      }
    }
  }
  std::vector<float> row((size_t)nIn);
  (void)rosetta::get_row(w.data(), w.size(), a.type, nOut, nIn, rowBytes, (int64_t)(rawStride % (nOut + 1)), row.data());
  return 0;
}
