// `npm run bench:matmul` (scripts/bench-matmul.js builds this against build/librosetta_kernels.a): one
// ggml-mode matmul of rosetta's kernels on random valid weights, timed alone: GMAC/s and GB/s of weights,
// the median of REPS calls. A kernel development tool (rosetta only: the side-by-side targets are
// bench:engine's); ROSETTA_ISA picks the path. COPIES > 1: the calls take COPIES copies of the weights
// in turn, so that a matrix that fits the last-level cache is read from memory each call, as a decode
// step reads its weights (one copy: from cache after the first call).
//   bench-matmul TYPE ROWS COLS TOKENS THREADS [REPS] [COPIES]   (TYPE: q4_K, q5_K, q6_K, q8_0, q4_0, q5_0, q2_K, q3_K)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "rosetta/isa.h"
#include "rosetta/matmul.h"
#include "rosetta/threadpool.h"

using namespace rosetta;

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: bench-matmul TYPE ROWS COLS TOKENS THREADS [REPS] [COPIES]\n");
    return 2;
  }
  const std::string name = argv[1];
  struct T { const char* n; uint32_t id; size_t block; std::vector<size_t> halves; };
  const T types[] = {{"q4_K", 12, 144, {0, 2}}, {"q5_K", 13, 176, {0, 2}}, {"q6_K", 14, 210, {208}}, {"q8_0", 8, 34, {0}}, {"q4_0", 2, 18, {0}}, {"q5_0", 6, 22, {0}},
                     {"q2_K", 10, 84, {80, 82}}, {"q3_K", 11, 110, {108}}};
  const T* t = nullptr;
  for (const T& x : types) if (name == x.n) t = &x;
  if (!t) { std::fprintf(stderr, "bench-matmul: unknown type %s\n", argv[1]); return 2; }
  const int64_t nOut = std::atoll(argv[2]), nIn = std::atoll(argv[3]), nTok = std::atoll(argv[4]);
  const int threads = std::atoi(argv[5]), reps = argc > 6 ? std::atoi(argv[6]) : 15, copies = argc > 7 ? std::atoi(argv[7]) : 1;
  if (reps < 1 || copies < 1) { std::fprintf(stderr, "bench-matmul: REPS and COPIES are at least 1\n"); return 2; }
  set_threads(threads);
  const size_t rb = row_bytes(t->id, nIn);
  if (rb == 0) { std::fprintf(stderr, "bench-matmul: %lld columns are not whole blocks\n", (long long)nIn); return 2; }
  std::vector<uint8_t> w(rb * nOut);
  std::mt19937 g(1);
  for (auto& b : w) b = (uint8_t)g();
  for (size_t o = 0; o + t->block <= w.size(); o += t->block)
    for (size_t h : t->halves) {
      const uint16_t f16 = (uint16_t)(0x0400 | (g() & 0x3ff));  // finite, small
      std::memcpy(&w[o + h], &f16, 2);
    }
  std::vector<float> x((size_t)(nIn * nTok)), y((size_t)(nOut * nTok));
  for (auto& v : x) v = (float)(g() % 2000) / 1000.0f - 1;
  std::vector<std::vector<uint8_t>> ws((size_t)copies - 1, w);  // copies 1.. (copy 0 is w)
  MatmulArgs a{w.data(), w.size(), t->id, nOut, nIn, x.data(), y.data(), nTok, Numerics::Ggml};
  std::vector<double> ts;
  for (int r = 0; r < reps; r++) {
    a.w = r % copies ? ws[(size_t)(r % copies) - 1].data() : w.data();
    const auto t0 = std::chrono::steady_clock::now();
    if (const char* e = matmul(a)) { std::fprintf(stderr, "bench-matmul: %s\n", e); return 2; }
    ts.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ts.begin(), ts.end());
  const double med = ts[ts.size() / 2];
  double sum = 0;
  for (float v : y) sum += v;
  std::printf("%s %lldx%lld x %lld token(s), %d thread(s), %d cop%s, %s path: %.3f ms, %.1f GMAC/s, %.1f GB/s of weights (checksum %.6g)\n", t->n,
              (long long)nOut, (long long)nIn, (long long)nTok, threads, copies, copies == 1 ? "y" : "ies", isa_name(current_isa()), med * 1e3,
              (double)nOut * nIn * nTok / med / 1e9, (double)w.size() / med / 1e9, sum);
  return 0;
}
