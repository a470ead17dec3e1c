// rosetta kernel library: run-time ISA selection.
//
// Each ISA is compiled in its own translation units with its own flags (cmake/kernels.cmake); cpuid is
// read once and the best path is chosen. ROSETTA_ISA=scalar|avx2|avx512 (or set_isa) forces a path, so
// one machine can run every path that its CPU supports and diff them against each other.
#pragma once
#include <cstdint>

namespace rosetta {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2, fma, f16c, bmi2;
  bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16;
};

const CpuFeatures& cpu_features();
bool isa_supported(Isa isa);   // the CPU can run this path
Isa best_isa();                // highest supported path
// Path in use: ROSETTA_ISA at first use, else best. Throws std::runtime_error when ROSETTA_ISA names an
// unknown path or one this CPU cannot run (never a silent fallback).
Isa current_isa();
// Force a path. Returns false (and changes nothing) when the CPU cannot run it.
bool set_isa(Isa isa);
// Parse "scalar" | "avx2" | "avx512"; false if the name is unknown.
bool parse_isa(const char* name, Isa* out);
const char* isa_name(Isa isa); // "scalar" | "avx2" | "avx512"

}  // namespace rosetta
