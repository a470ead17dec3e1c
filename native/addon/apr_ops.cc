// N-API surface of the general matmul path's row fetch (rosetta/apr_matmul.h): the embedding lookup for
// strided (APR per-row padded) rows and APR-native types. Validated in src/bindings/kernels.ts (getRow); the checks
// here only guarantee that no call reads or writes out of bounds.
#include <napi.h>

#include <string>

#include "mapping.h"
#include "module.h"
#include "rosetta/apr_matmul.h"

namespace rosetta_addon {
namespace {

[[noreturn]] void fail(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, "getRow: " + msg); }

int64_t i64(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "getRow: argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

// getRow(w, wOffset, type, nRows, nIn, rowBytes, row, out): row `row` of [nRows, nIn] into out[0..nIn)
void GetRow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8) fail(env, "expected 8 arguments");
  size_t size = 0;
  const uint8_t* base = source_bytes(info[0], &size, "getRow: weights");
  const int64_t off = i64(info, 1), nRows = i64(info, 3), nIn = i64(info, 4), rowBytes = i64(info, 5), row = i64(info, 6);
  if (off < 0 || (size_t)off > size) fail(env, "byte offset is outside the data");
  if (nRows <= 0 || nIn <= 0 || rowBytes < 0) fail(env, "bad dimensions");
  if (!info[7].IsTypedArray() || info[7].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "getRow out: expected a Float32Array");
  auto out = info[7].As<Napi::Float32Array>();
  if ((int64_t)out.ElementLength() < nIn) fail(env, "out is shorter than a row");
  const char* err = rosetta::get_row(base + off, size - (size_t)off, (uint32_t)i64(info, 2), nRows, nIn, (size_t)rowBytes,
                                     row, out.Data());
  if (err) fail(env, err);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("opsGetRow", Napi::Function::New(env, GetRow, "opsGetRow"));
}

}  // namespace

ROSETTA_ADDON_MODULE(apr_ops, Init);

}  // namespace rosetta_addon
