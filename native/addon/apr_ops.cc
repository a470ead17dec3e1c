// N-API surface of the general matmul path's row fetch (rosetta/apr_matmul.h): the embedding lookup for
// strided (APR per-row padded) rows and APR-native types. Validated in src/bindings/kernels.ts (getRow); the checks
// here (native/common/napi_args.h) only guarantee that no call reads or writes out of bounds.
#include <napi.h>

#include <string>

#include "args.h"
#include "mapping.h"
#include "module.h"
#include "rosetta/apr_matmul.h"

namespace rosetta_addon {
namespace {

// getRow(w, wOffset, type, nRows, nIn, rowBytes, row, out): row `row` of [nRows, nIn] into out[0..nIn)
Napi::Value GetRow(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    size_t size = 0;
    const uint8_t* base = source_bytes(info[0], &size, "getRow: weights");
    const uint64_t off = arg_index(info, 1, "getRow: weight offset");
    const uint32_t type = (uint32_t)arg_int(info, 2, "getRow: type", 0, 0xFFFFFFFFll);
    const int64_t nRows = arg_int(info, 3, "getRow: nRows", 1, int64_t(1) << 32);
    const int64_t nIn = arg_int(info, 4, "getRow: nIn", 1, int64_t(1) << 32);
    const uint64_t rowBytes = arg_index(info, 5, "getRow: rowBytes");
    const int64_t row = (int64_t)arg_index(info, 6, "getRow: row");
    if (off > size) throw RangeErr("getRow: byte offset is outside the data");
    Napi::Float32Array out = arg_f32_min(info, 7, "getRow: out", (uint64_t)nIn);
    if (const char* err = rosetta::get_row(base + off, size - (size_t)off, type, nRows, nIn, (size_t)rowBytes, row, out.Data()))
      throw RangeErr(std::string("getRow: ") + err);
    return info.Env().Undefined();
  });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("opsGetRow", Napi::Function::New(env, GetRow, "opsGetRow"));
}

}  // namespace

ROSETTA_ADDON_MODULE(apr_ops, Init);

}  // namespace rosetta_addon
