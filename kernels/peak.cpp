// Machine limits for bench:engine (rosetta/peak.h): threads started here, each timing its own loop.
#include "rosetta/peak.h"


#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

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

double memory_read_bandwidth(int threads, int64_t bytesPerThread, int passes) {
  threads = std::max(1, threads);
  const int64_t n = std::max<int64_t>(bytesPerThread / 64, 1) * 64;
  std::vector<std::vector<uint8_t>> bufs(threads);
  // each thread touches its own buffer first (its pages on its node)
  together(threads, [&](int t) {
    bufs[t].resize((size_t)n);
    std::memset(bufs[t].data(), t + 1, (size_t)n);
  });
  std::vector<uint64_t> sink(threads);
  double best = 0;
  for (int p = 0; p < std::max(1, passes); p++) {
    const double s = together(threads, [&](int t) {
      // 64-bit adds of every 8-byte word: compilers vectorize this to plain loads + adds, far below the
      // rate at which any core can add, so the figure is the memory system's
      // (unsigned: the sums wrap, which is defined; signed overflow would be UB, UBSan finding)
      const uint64_t* w = reinterpret_cast<const uint64_t*>(bufs[t].data());
      uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (int64_t i = 0; i < n / 8; i += 4) a0 += w[i], a1 += w[i + 1], a2 += w[i + 2], a3 += w[i + 3];
      sink[t] = a0 + a1 + a2 + a3;
    });
    best = std::max(best, (double)n * threads / s);
  }
  volatile uint64_t k = sink[0];
  (void)k;
  return best;
}

}  // namespace rosetta
