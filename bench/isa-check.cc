// `npm run check:isa` (scripts/isa-check.js builds this statically against build/librosetta_kernels.a):
// ggml-mode matmuls of random valid blocks (Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K; 1-64 tokens, so decode
// rows, prompt tiles and partial passes; rows of 1536 and 2816, the second in the AVX-512 K-quant
// tiles' K blocks of 4 superblocks, 4 + 4 + 3; 1, 2 and 4 threads) on every ISA path this CPU has, each
// compared bit for bit with the scalar reference. One static binary with no node, so it can be carried to
// another machine (an Intel AVX-512 CPU, an AVX2-only one) and run there as is. Exit 1 if any differs.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "rosetta/isa.h"
#include "rosetta/matmul.h"
#include "rosetta/threadpool.h"
using namespace rosetta;
int main() {
  struct T { const char* n; uint32_t id; size_t block, elems; std::vector<size_t> halves; };
  const T types[] = {{"q4_0", 2, 18, 32, {0}}, {"q5_0", 6, 22, 32, {0}}, {"q8_0", 8, 34, 32, {0}}, {"q4_K", 12, 144, 256, {0, 2}},
                     {"q5_K", 13, 176, 256, {0, 2}}, {"q6_K", 14, 210, 256, {208}}};
  const Isa isas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512};
  int fails = 0, checks = 0;
  for (int threads : {1, 2, 4}) {
    set_threads(threads);
    for (const T& t : types)
      for (int64_t nIn : {1536, 2816})
      for (int64_t nTok : {1, 2, 3, 7, 12, 16, 21, 29, 45, 64}) {
        const int64_t nOut = 37;
        const size_t rb = row_bytes(t.id, nIn);
        std::vector<uint8_t> w(rb * nOut);
        std::mt19937 g((unsigned)(t.id * 1000 + nTok + nIn));
        for (auto& b : w) b = (uint8_t)g();
        for (size_t o = 0; o + t.block <= w.size(); o += t.block)
          for (size_t h : t.halves) { const uint16_t f = (uint16_t)(0x1000 | (g() & 0x3ff)); std::memcpy(&w[o + h], &f, 2); }
        std::vector<float> x((size_t)(nIn * nTok));
        for (auto& v : x) v = (float)((int)(g() % 20001) - 10000) / 3000.0f;
        std::vector<std::vector<float>> ys;
        std::vector<Isa> ran;
        for (Isa isa : isas) {
          if (!isa_supported(isa)) continue;
          set_isa(isa);
          std::vector<float> y((size_t)(nOut * nTok));
          MatmulArgs a{w.data(), w.size(), t.id, nOut, nIn, x.data(), y.data(), nTok, Numerics::Ggml};
          if (const char* e = matmul(a)) { std::printf("%s: %s\n", t.n, e); return 2; }
          ys.push_back(y);
          ran.push_back(isa);
        }
        for (size_t k = 1; k < ys.size(); k++) {
          checks++;
          if (std::memcmp(ys[0].data(), ys[k].data(), ys[0].size() * 4) != 0) {
            fails++;
            std::printf("DIFFER %s nIn %lld nTok %lld threads %d: %s vs %s\n", t.n, (long long)nIn, (long long)nTok, threads, isa_name(ran[0]), isa_name(ran[k]));
          }
        }
      }
  }
  std::printf("paths on this CPU:");
  for (Isa isa : isas) if (isa_supported(isa)) std::printf(" %s", isa_name(isa));
  std::printf("\n%d comparisons (6 types x 2 row lengths x 10 token counts x 3 thread counts, each path against scalar), %d differ\n", checks, fails);
  return fails ? 1 : 0;
}
