// Test/bench-only bridge to llama.cpp's own dequantizers: dlopens a prebuilt libggml-base.so at run time
// (no link-time dependency) and calls ggml_get_type_traits(type)->to_float, so tests can compare rosetta
// with ggml bit for bit and the bench can time both on the same data.
#include <dlfcn.h>

#include <cstring>
#include <string>

#include "args.h"
#include "mapping.h"
#include "module.h"
#include "rosetta/types.h"

namespace rosetta_addon {
namespace {

// ABI of `struct ggml_type_traits` (ggml/include/ggml.h of the pinned llama.cpp); checked at open time
// against known values, so a layout change is reported instead of misread.
using ggml_to_float_t = void (*)(const void* x, float* y, int64_t k);
struct ggml_type_traits_abi {
  const char* type_name;
  int64_t blck_size;
  int64_t blck_size_interleave;
  size_t type_size;
  bool is_quantized;
  ggml_to_float_t to_float;
  void* from_float_ref;
};
using get_traits_t = const ggml_type_traits_abi* (*)(int type);

void* g_lib = nullptr;
get_traits_t g_get = nullptr;
std::string g_path;

// Highest id passed to ggml: ggml_get_type_traits aborts on ids >= GGML_TYPE_COUNT, and every id
// rosetta dequantizes is below this.
constexpr uint32_t kMaxGgmlId = 30;

void check_abi() {
  const ggml_type_traits_abi* q40 = g_get(2);
  const ggml_type_traits_abi* q6k = g_get(14);
  if (q40 == nullptr || q6k == nullptr || q40->type_name == nullptr || std::strcmp(q40->type_name, "q4_0") != 0 ||
      q40->blck_size != 32 || q40->type_size != 18 || q6k->type_size != 210 || q6k->to_float == nullptr)
    throw std::runtime_error("ggml reference: " + g_path + " does not have the expected ggml_type_traits layout");
}

// ggmlRefOpen(path): load the library once; later calls with the same path are no-ops.
Napi::Value Open(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const std::string path = arg_string(info, 0, "ggmlRefOpen: path");
    if (g_lib != nullptr) {
      if (path != g_path) throw std::runtime_error("ggml reference: already loaded from " + g_path);
      return Napi::String::New(info.Env(), g_path);
    }
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* err = dlerror();
      throw std::runtime_error("ggml reference: cannot load " + path + ": " + (err ? err : "unknown error"));
    }
    auto get = reinterpret_cast<get_traits_t>(dlsym(lib, "ggml_get_type_traits"));
    if (get == nullptr) {
      dlclose(lib);
      throw std::runtime_error("ggml reference: " + path + " has no ggml_get_type_traits");
    }
    g_lib = lib;
    g_get = get;
    g_path = path;
    try {
      check_abi();
    } catch (...) {
      g_get = nullptr;
      g_lib = nullptr;
      dlclose(lib);
      throw;
    }
    return Napi::String::New(info.Env(), g_path);
  });
}

const ggml_type_traits_abi& traits(const Napi::Value& v) {
  if (g_get == nullptr) throw std::runtime_error("ggml reference: call ggmlRefOpen(path) first");
  const uint64_t id = as_index(v, "type");
  if (id > kMaxGgmlId || rosetta::type_traits((uint32_t)id) == nullptr || rosetta::type_traits((uint32_t)id)->blockSize == 0)
    throw RangeErr("ggml reference: type id " + std::to_string(id) + " is not queried");
  return *g_get((int)id);
}

// ggml's dequantizer for a type: the traits' to_float, else the exported dequantize_row_<name> (ggml's
// type table leaves to_float empty for q8_K, which only exists as a dot-product operand).
ggml_to_float_t to_float_of(const ggml_type_traits_abi& t) {
  if (t.to_float != nullptr || t.type_name == nullptr) return t.to_float;
  const std::string sym = std::string("dequantize_row_") + t.type_name;
  return reinterpret_cast<ggml_to_float_t>(dlsym(g_lib, sym.c_str()));
}

// ggmlRefTraits(type): { name, blockSize, typeSize, isQuantized, hasToFloat }
Napi::Value Traits(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const ggml_type_traits_abi& t = traits(info[0]);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("name", t.type_name ? t.type_name : "");
    o.Set("blockSize", (double)t.blck_size);
    o.Set("typeSize", (double)t.type_size);
    o.Set("isQuantized", t.is_quantized);
    o.Set("hasToFloat", to_float_of(t) != nullptr);
    return o;
  });
}

// ggmlRefToFloat(src, offset, byteLength, type, nElements, out): same contract and checks as dequantize.
Napi::Value ToFloat(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    size_t srcSize = 0;
    const uint8_t* src = source_bytes(info[0], &srcSize, "ggmlRefToFloat: src");
    const uint64_t offset = arg_index(info, 1, "offset");
    const uint64_t byteLength = arg_index(info, 2, "byteLength");
    const ggml_type_traits_abi& t = traits(info[3]);
    const uint64_t n = arg_index(info, 4, "nElements");
    Napi::Float32Array out = arg_f32(info, 5, "ggmlRefToFloat: out");
    const ggml_to_float_t fn = to_float_of(t);
    if (fn == nullptr) throw std::runtime_error(std::string("ggml has no to_float for ") + t.type_name);
    if (t.blck_size <= 0 || n % (uint64_t)t.blck_size != 0 || byteLength != n / t.blck_size * t.type_size)
      throw RangeErr("ggmlRefToFloat: sizes do not match the type");
    check_range(offset, byteLength, srcSize, "ggmlRefToFloat", "the source");
    if (n > out.ElementLength()) throw RangeErr("ggmlRefToFloat: out is too small");
    fn(src + offset, out.Data(), (int64_t)n);
    return info.Env().Undefined();
  });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ggmlRefOpen", Napi::Function::New(env, Open, "ggmlRefOpen"));
  exports.Set("ggmlRefTraits", Napi::Function::New(env, Traits, "ggmlRefTraits"));
  exports.Set("ggmlRefToFloat", Napi::Function::New(env, ToFloat, "ggmlRefToFloat"));
}

}  // namespace

ROSETTA_ADDON_MODULE(ggml_reference, Init);

}  // namespace rosetta_addon
