// Machine limits for bench:engine (rosetta/peak.h): threads started here, each timing its own loop.
#include "rosetta/peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "rosetta/isa.h"

namespace rosetta {
namespace {
using Clock = std::chrono::steady_clock;

// Runs f(t) on `threads` threads released together; returns the wall seconds from release to the last end.
template <typename F>
double together(int threads, F f) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&, t] {
      ready++;
      while (!go.load()) std::this_thread::yield();
      f(t);
    });
  while (ready.load() < threads) std::this_thread::yield();
  const auto t0 = Clock::now();
  go = true;
  for (auto& t : ts) t.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

double int8_peak_macs(int threads, double ms) {
  int64_t (*loop)(int64_t) = nullptr;
  switch (current_isa()) {
    case Isa::Avx512: loop = avx512::int8_peak_loop; break;
    case Isa::Avx2: loop = avx2::int8_peak_loop; break;
    default: return 0;
  }
  threads = std::max(1, threads);
  // iterations for ~ms on one thread, from a short calibration run
  int64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = Clock::now();
    loop(iters);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0.01) {
      iters = (int64_t)(iters * (ms / 1000.0) / s) + 1;
      break;
    }
    iters *= 4;
  }
  std::vector<int64_t> macs(threads);
  const double s = together(threads, [&](int t) { macs[t] = loop(iters); });
  int64_t total = 0;
  for (int64_t m : macs) total += m;
  return (double)total / s;
}

namespace {
// One thread's read buffer: anonymous memory in 2 MB pages where the kernel gives them (MADV_HUGEPAGE on
// a 2 MB-aligned range), as the model mappings are advised (native/addon/mapping.cc). In 4 KB pages the
// hardware prefetchers stop at every page boundary and each page costs a TLB walk: the figure was then
// the page size's limit, not the memory's (session 8: 2 threads read 32.7 GB/s by that loop while a
// decode step streamed 56).
struct ReadBuffer {
  uint8_t* data = nullptr;
  size_t size = 0;
  void* base = nullptr;
  size_t mapped = 0;
  std::vector<uint8_t> fallback;
  explicit ReadBuffer(size_t n) : size(n) {
#if defined(__linux__)
    const size_t huge = size_t(2) << 20;
    mapped = (n + 2 * huge - 1) / huge * huge;
    base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base != MAP_FAILED) {
      data = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + huge - 1) & ~(uintptr_t)(huge - 1));
#ifdef MADV_HUGEPAGE
      (void)madvise(data, (n + huge - 1) / huge * huge, MADV_HUGEPAGE);
#endif
      return;
    }
    base = nullptr;
    mapped = 0;
#endif
    fallback.resize(n);
    data = fallback.data();
  }
  ~ReadBuffer() {
#if defined(__linux__)
    if (base) munmap(base, mapped);
#endif
  }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
};

// 64-bit adds of every 8-byte word: compilers vectorize this to plain loads + adds, far below the rate
// at which any core can add, so the figure is the memory system's (unsigned: the sums wrap, which is
// defined; signed overflow would be UB, UBSan finding). With `ahead`, each 64-byte line also prefetches
// the line that many bytes further into L2, as the decode rows do (docs/engine.md, "Decode").
uint64_t read_words(const uint8_t* p, int64_t n, int64_t ahead) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  if (ahead > 0) {
    for (int64_t i = 0; i < n / 8; i += 8) {
      if (i * 8 + ahead < n) __builtin_prefetch(p + i * 8 + ahead, 0, 2);
      a0 += w[i] + w[i + 4], a1 += w[i + 1] + w[i + 5], a2 += w[i + 2] + w[i + 6], a3 += w[i + 3] + w[i + 7];
    }
  } else {
    for (int64_t i = 0; i < n / 8; i += 4) a0 += w[i], a1 += w[i + 1], a2 += w[i + 2], a3 += w[i + 3];
  }
  return a0 + a1 + a2 + a3;
}
}  // namespace

double memory_read_bandwidth(int threads, int64_t bytesPerThread, int passes) {
  threads = std::max(1, threads);
  // whole 64-byte lines, at least one
  const int64_t n = std::max<int64_t>(bytesPerThread / 64, 1) * 64;
  std::vector<std::unique_ptr<ReadBuffer>> bufs(threads);
  // each thread maps and touches its own buffer first (its pages on its node)
  together(threads, [&](int t) {
    bufs[t] = std::make_unique<ReadBuffer>((size_t)n);
    std::memset(bufs[t]->data, t + 1, (size_t)n);
  });
  std::vector<uint64_t> sink(threads);
  double best = 0;
  // each pass reads every buffer twice, plain and with the prefetch; the best of all is the figure
  for (int p = 0; p < std::max(1, passes); p++)
    for (int64_t ahead : {int64_t(0), int64_t(8192)}) {
      const double s = together(threads, [&](int t) { sink[t] = read_words(bufs[t]->data, n, ahead); });
      best = std::max(best, (double)n * threads / s);
    }
  volatile uint64_t k = sink[0];
  (void)k;
  return best;
}

}  // namespace rosetta
