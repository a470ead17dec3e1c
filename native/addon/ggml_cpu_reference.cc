// Test-only bridge to llama.cpp's own dot products: dlopens the pinned prebuilt CPU backend
// (libggml-cpu-haswell.so) at run time and calls ggml_get_type_traits_cpu(type)->vec_dot on activations
// converted by the vec_dot type's from_float, exactly what ggml_compute_forward_mul_mat does for one
// token (nrc 1, no repacking). Tests hold rosetta's ggml-mode kernels to it bit for bit.
#include <dlfcn.h>

#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "mapping.h"
#include "module.h"
#include "rosetta/types.h"

namespace rosetta_addon {
namespace {

// ABI of `struct ggml_type_traits_cpu` (ggml/include/ggml-cpu.h of the pinned llama.cpp); checked at
// open time against the library's exported kernels, so a layout change is reported instead of misread.
using from_float_t = void (*)(const float* x, void* y, int64_t k);
using vec_dot_t = void (*)(int n, float* s, size_t bs, const void* x, size_t bx, const void* y, size_t by, int nrc);
struct ggml_type_traits_cpu_abi {
  from_float_t from_float;
  vec_dot_t vec_dot;
  int vec_dot_type;  // enum ggml_type
  int64_t nrows;
};
using get_traits_cpu_t = const ggml_type_traits_cpu_abi* (*)(int type);
using cpu_init_t = void (*)();

void* g_lib = nullptr;
get_traits_cpu_t g_get = nullptr;
std::string g_path;

// Types whose vec_dot is queried (ggml ids); the library's table has GGML_TYPE_COUNT entries, and only
// these have a vec_dot whose operands rosetta can lay out.
bool queried(uint64_t id) {
  static const int ids[] = {0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 30};
  for (int i : ids)
    if ((uint64_t)i == id) return true;
  return false;
}

void* sym(const char* name) { return dlsym(g_lib, name); }

// Every field of a few entries against the exported functions they must point to.
void check_abi() {
  struct Want {
    int type, vdt;
    const char* dot;
    const char* from;  // from_float of the vec_dot type
  };
  const Want wants[] = {{2, 8, "ggml_vec_dot_q4_0_q8_0", "quantize_row_q8_0"},
                        {12, 15, "ggml_vec_dot_q4_K_q8_K", "quantize_row_q8_K"},
                        {3, 9, "ggml_vec_dot_q4_1_q8_1", "quantize_row_q8_1"},
                        {1, 1, "ggml_vec_dot_f16", "ggml_cpu_fp32_to_fp16"},
                        {20, 8, "ggml_vec_dot_iq4_nl_q8_0", "quantize_row_q8_0"}};
  for (const Want& w : wants) {
    const ggml_type_traits_cpu_abi* t = g_get(w.type);
    const ggml_type_traits_cpu_abi* v = g_get(w.vdt);
    if (t == nullptr || v == nullptr || t->vec_dot_type != w.vdt || t->nrows != 1 || t->vec_dot == nullptr ||
        (void*)t->vec_dot != sym(w.dot) || v->from_float == nullptr || (void*)v->from_float != sym(w.from))
      throw std::runtime_error("ggml cpu reference: " + g_path + " does not have the expected ggml_type_traits_cpu layout (type " +
                               std::to_string(w.type) + ")");
  }
}

void close_lib() {
  g_get = nullptr;
  if (g_lib) dlclose(g_lib);
  g_lib = nullptr;
  g_path.clear();
}

// ggmlCpuRefOpen(path): load the CPU backend library once and run ggml_cpu_init (it fills the f16
// table the haswell kernels read scales through); later calls with the same path are no-ops.
Napi::Value Open(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const std::string path = arg_string(info, 0, "ggmlCpuRefOpen: path");
    if (g_lib != nullptr) {
      if (path != g_path) throw std::runtime_error("ggml cpu reference: already loaded from " + g_path);
      return Napi::String::New(info.Env(), g_path);
    }
    // The library resolves libggml-base.so through its own RUNPATH (the same directory).
    g_lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (g_lib == nullptr) {
      const char* err = dlerror();
      throw std::runtime_error("ggml cpu reference: cannot load " + path + ": " + (err ? err : "unknown error"));
    }
    g_path = path;
    g_get = reinterpret_cast<get_traits_cpu_t>(sym("ggml_get_type_traits_cpu"));
    auto init = reinterpret_cast<cpu_init_t>(sym("ggml_cpu_init"));
    if (g_get == nullptr || init == nullptr) {
      close_lib();
      throw std::runtime_error("ggml cpu reference: " + path + " has no ggml_get_type_traits_cpu / ggml_cpu_init");
    }
    try {
      check_abi();
    } catch (...) {
      close_lib();
      throw;
    }
    init();
    return Napi::String::New(info.Env(), g_path);
  });
}

const rosetta::TypeTraits& geometry(uint32_t id) {
  const rosetta::TypeTraits* t = rosetta::type_traits(id);
  if (t == nullptr || t->blockSize <= 0 || t->typeSize == 0) throw RangeErr("ggml cpu reference: no geometry for type " + std::to_string(id));
  return *t;
}

// ggmlCpuRefVecDot(w, type, nIn, nOut, x, out): out[r] = ggml's vec_dot of weight row r (nIn elements,
// rows contiguous in w) and x converted by from_float of the type's vec_dot type. Returns that type's id.
Napi::Value VecDot(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (g_get == nullptr) throw std::runtime_error("ggml cpu reference: call ggmlCpuRefOpen(path) first");
    size_t wSize = 0;
    const uint8_t* w = source_bytes(info[0], &wSize, "ggmlCpuRefVecDot: w");
    const uint64_t type = arg_index(info, 1, "type");
    const uint64_t n = arg_index(info, 2, "nIn");
    const uint64_t rows = arg_index(info, 3, "nOut");
    if (!queried(type)) throw RangeErr("ggml cpu reference: type " + std::to_string(type) + " is not queried");
    Napi::Float32Array x = arg_f32(info, 4, "ggmlCpuRefVecDot: x"), out = arg_f32(info, 5, "ggmlCpuRefVecDot: out");
    const ggml_type_traits_cpu_abi& t = *g_get((int)type);
    const ggml_type_traits_cpu_abi& vt = *g_get(t.vec_dot_type);
    if (t.vec_dot == nullptr || vt.from_float == nullptr) throw std::runtime_error("ggml cpu reference: no vec_dot for this type");
    const rosetta::TypeTraits& wg = geometry((uint32_t)type);
    const rosetta::TypeTraits& ag = geometry((uint32_t)t.vec_dot_type);
    if (n == 0 || n > (1u << 24) || n % (uint64_t)wg.blockSize != 0 || n % (uint64_t)ag.blockSize != 0)
      throw RangeErr("ggmlCpuRefVecDot: nIn must be a positive multiple of both block sizes");
    const uint64_t rowBytes = n / wg.blockSize * wg.typeSize;
    if (rows > (1u << 24)) throw RangeErr("ggmlCpuRefVecDot: nOut is too large");
    check_range(0, rows * rowBytes, wSize, "ggmlCpuRefVecDot", "w");
    if (x.ElementLength() < n || out.ElementLength() < rows) throw RangeErr("ggmlCpuRefVecDot: x or out is too small");
    // Over-aligned and padded: the AVX2 kernels use unaligned loads, but stay clear of the end anyway.
    std::vector<uint8_t> act(n / ag.blockSize * ag.typeSize + 64);
    vt.from_float(x.Data(), act.data(), (int64_t)n);
    for (uint64_t r = 0; r < rows; r++) t.vec_dot((int)n, out.Data() + r, 0, w + r * rowBytes, 0, act.data(), 0, 1);
    return Napi::Number::New(info.Env(), t.vec_dot_type);
  });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ggmlCpuRefOpen", Napi::Function::New(env, Open, "ggmlCpuRefOpen"));
  exports.Set("ggmlCpuRefVecDot", Napi::Function::New(env, VecDot, "ggmlCpuRefVecDot"));
}

}  // namespace

ROSETTA_ADDON_MODULE(ggml_cpu_reference, Init);

}  // namespace rosetta_addon
