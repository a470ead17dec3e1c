// rosetta kernel library: the machine's limits, measured (bench:engine reports its figures as a fraction
// of them). Not used by any computation.
#pragma once
#include <cstdint>

namespace rosetta {

// Peak int8 multiply-accumulate rate of the current ISA path's integer dot instruction, all `threads`
// threads at once, each running `ms` milliseconds of independent register-resident accumulations
// (avx512: VNNI vpdpbusd, 64 u8 x s8 MACs an instruction; avx2: vpmaddubsw + vpmaddwd + vpaddd, 32 MACs;
// scalar: 0, no figure). Returns MACs per second over all threads.
double int8_peak_macs(int threads, double ms);

// Memory read bandwidth: `threads` threads each reading its own `bytesPerThread` buffer (far larger than
// the caches; touched first so no page fault is timed) `passes` times. Returns bytes per second over all
// threads (the best pass).
double memory_read_bandwidth(int threads, int64_t bytesPerThread, int passes);

namespace avx2 {
int64_t int8_peak_loop(int64_t iters);  // returns the MACs done
}
namespace avx512 {
int64_t int8_peak_loop(int64_t iters);
}

}  // namespace rosetta
