// Run-time ISA selection (see isa.h). cpuid is read once; the selected path is an atomic so set_isa()
// from one thread and kernel calls from another never tear.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "rosetta/isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define ROSETTA_X86 1
#endif

namespace rosetta {
namespace {

#ifdef ROSETTA_X86
uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}
#endif

CpuFeatures detect() {
  CpuFeatures f{};
#ifdef ROSETTA_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  // The OS must save the YMM (bits 1,2) and ZMM/opmask (bits 5,6,7) state, or the instructions fault.
  const bool ymm_os = (xcr0 & 0x6) == 0x6;
  const bool zmm_os = ymm_os && (xcr0 & 0xE0) == 0xE0;
  f.fma = ymm_os && ((c >> 12) & 1);
  f.f16c = ymm_os && ((c >> 29) & 1);
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = ymm_os && ((b >> 5) & 1);
    f.bmi2 = (b >> 8) & 1;
    f.avx512f = zmm_os && ((b >> 16) & 1);
    f.avx512dq = zmm_os && ((b >> 17) & 1);
    f.avx512bw = zmm_os && ((b >> 30) & 1);
    f.avx512vl = zmm_os && ((b >> 31) & 1);
    f.avx512vnni = zmm_os && ((c >> 11) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512bf16 = zmm_os && ((a >> 5) & 1);
  }
#endif
  return f;
}

Isa parse_isa_or_throw(const char* s) {
  Isa isa;
  if (parse_isa(s, &isa)) return isa;
  throw std::invalid_argument(std::string("ROSETTA_ISA=") + s +
                              " is not an ISA path (expected scalar, avx2 or avx512)");
}

std::atomic<int> g_isa{-1};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return f.avx2 && f.fma && f.f16c && f.bmi2;
    case Isa::Avx512:
      // Everything the avx512 translation units are compiled with (cmake/kernels.cmake), so the compiler
      // is free to use any of it.
      return isa_supported(Isa::Avx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
             f.avx512vnni && f.avx512bf16;
  }
  return false;
}

Isa best_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa current_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v >= 0) return static_cast<Isa>(v);
  Isa isa = best_isa();
  const char* env = std::getenv("ROSETTA_ISA");
  if (env != nullptr && *env != '\0') {
    // An impossible request is an error every time it is consulted, never a silent fallback.
    isa = parse_isa_or_throw(env);
    if (!isa_supported(isa))
      throw std::runtime_error(std::string("ROSETTA_ISA=") + env + " but this CPU cannot run the " + env +
                               " path (best available: " + isa_name(best_isa()) + ")");
  }
  int expected = -1;
  g_isa.compare_exchange_strong(expected, static_cast<int>(isa));
  return static_cast<Isa>(g_isa.load());
}

bool set_isa(Isa isa) {
  if (!isa_supported(isa)) return false;
  g_isa.store(static_cast<int>(isa));
  return true;
}

bool parse_isa(const char* name, Isa* out) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (std::strcmp(name, isa_name(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

}  // namespace rosetta
