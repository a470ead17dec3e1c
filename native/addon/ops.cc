// N-API surface of the engine kernels (matmul.h, ops.h, threadpool.h). Arguments are validated in
// src/bindings/kernels.ts; the checks here only guarantee that no call can read or write out of bounds.
#include <napi.h>

#include <string>
#include <vector>

#include "mapping.h"
#include "module.h"
#include "rosetta/isa.h"
#include "rosetta/matmul.h"
#include "rosetta/ops.h"
#include "rosetta/reduce.h"
#include "rosetta/threadpool.h"
#include "rosetta/types.h"

namespace rosetta_addon {
namespace {

using rosetta::Numerics;

[[noreturn]] void fail(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

int64_t i64(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }

Napi::Float32Array f32(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* what) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a Float32Array");
  auto a = info[i].As<Napi::Float32Array>();
  if (need < 0 || (int64_t)a.ElementLength() < need)
    fail(info.Env(), std::string(what) + ": Float32Array has " + std::to_string(a.ElementLength()) + " elements, needs " +
                         std::to_string(need));
  return a;
}

float* f32_or_null(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* what) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return f32(info, i, need, what).Data();
}

Numerics mode_arg(const Napi::CallbackInfo& info, size_t i) {
  return i64(info, i) == 1 ? Numerics::Exact : Numerics::Ggml;
}

// Weight bytes: (source, byteOffset) where source is a Mapping or a typed array.
const uint8_t* weight_bytes(const Napi::CallbackInfo& info, size_t i, size_t* avail) {
  size_t size = 0;
  const uint8_t* base = source_bytes(info[i], &size, "weights");
  const int64_t off = i64(info, i + 1);
  if (off < 0 || (size_t)off > size) fail(info.Env(), "weights: byte offset is outside the data");
  *avail = size - (size_t)off;
  return base + off;
}

// matmul(w, wOffset, type, nOut, nIn, x, y, nTok, mode, rowBytes = 0)
void Matmul(const Napi::CallbackInfo& info) {
  rosetta::MatmulArgs a{};
  a.w = weight_bytes(info, 0, &a.wBytes);
  a.type = (uint32_t)i64(info, 2);
  a.nOut = i64(info, 3);
  a.nIn = i64(info, 4);
  a.nTok = i64(info, 7);
  if (a.nOut <= 0 || a.nIn <= 0 || a.nTok <= 0) fail(info.Env(), "matmul: dimensions must be positive");
  a.x = f32(info, 5, a.nTok * a.nIn, "matmul x").Data();
  a.y = f32(info, 6, a.nTok * a.nOut, "matmul y").Data();
  a.mode = mode_arg(info, 8);
  if (info.Length() > 9 && info[9].IsNumber()) {  // optional row stride (APR per-row padded rows)
    const int64_t rb = i64(info, 9);
    if (rb < 0) fail(info.Env(), "matmul: rowBytes must be >= 0");
    a.rowBytes = (size_t)rb;
  }
  if (const char* err = rosetta::matmul(a)) fail(info.Env(), err);
}

// toF32(w, wOffset, type, n, out): n elements of a stored tensor (n a multiple of the block size)
void ToF32(const Napi::CallbackInfo& info) {
  size_t avail = 0;
  const uint8_t* w = weight_bytes(info, 0, &avail);
  const uint32_t type = (uint32_t)i64(info, 2);
  const int64_t n = i64(info, 3);
  float* out = f32(info, 4, n, "toF32 out").Data();
  const rosetta::TypeTraits* tt = rosetta::type_traits(type);
  const size_t rb = rosetta::row_bytes(type, n);
  if (!tt || !tt->supported || !tt->toFloat[0]) fail(info.Env(), "toF32: type is not supported");
  if (rb == 0 || rb > avail || tt->headerBytes > avail - rb)
    fail(info.Env(), "toF32: element count does not fit the data or the block size");
  tt->toFloat[0](w, out, n);
}

// actRound(type, x, out, n): the activations a matmul with weights of `type` sees in ggml mode
Napi::Value ActRound(const Napi::CallbackInfo& info) {
  rosetta::ActQuant q;
  if (!rosetta::act_quant_for((uint32_t)i64(info, 0), &q)) fail(info.Env(), "actRound: type is not supported");
  const int64_t n = i64(info, 3);
  if (n < 0 || n % rosetta::act_block(q)) fail(info.Env(), "actRound: n is not a multiple of the block size");
  rosetta::act_round(q, f32(info, 1, n, "actRound x").Data(), f32(info, 2, n, "actRound out").Data(), n);
  return Napi::String::New(info.Env(), rosetta::act_quant_name(q));
}

// rmsNorm(x, w | null, y, nRows, n, eps, mode)
void RmsNorm(const Napi::CallbackInfo& info) {
  const int64_t nRows = i64(info, 3), n = i64(info, 4);
  if (nRows <= 0 || n <= 0) fail(info.Env(), "rmsNorm: dimensions must be positive");
  rosetta::rms_norm(f32(info, 0, nRows * n, "rmsNorm x").Data(), f32_or_null(info, 1, n, "rmsNorm w"),
                    f32(info, 2, nRows * n, "rmsNorm y").Data(), nRows, n, info[5].As<Napi::Number>().FloatValue(),
                    mode_arg(info, 6));
}

float num(const Napi::Object& o, const char* key, float dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().FloatValue() : dflt;
}

// rope(x, nTok, nHeads, headDim, pos Int32Array, params {nDims, neox, freqBase, freqScale, extFactor,
//      attnFactor, betaFast, betaSlow, nCtxOrig, freqFactors?, mode})
void Rope(const Napi::CallbackInfo& info) {
  rosetta::RopeArgs a{};
  a.nTok = i64(info, 1);
  a.nHeads = i64(info, 2);
  a.headDim = i64(info, 3);
  if (a.nTok <= 0 || a.nHeads <= 0 || a.headDim <= 0) fail(info.Env(), "rope: dimensions must be positive");
  a.x = f32(info, 0, a.nTok * a.nHeads * a.headDim, "rope x").Data();
  if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), "rope pos: expected an Int32Array");
  auto pos = info[4].As<Napi::Int32Array>();
  if ((int64_t)pos.ElementLength() < a.nTok) fail(info.Env(), "rope pos: too short");
  a.pos = pos.Data();
  Napi::Object p = info[5].As<Napi::Object>();
  a.nDims = (int64_t)num(p, "nDims", (float)a.headDim);
  if (a.nDims <= 0 || a.nDims > a.headDim || a.nDims % 2) fail(info.Env(), "rope: nDims must be even and <= headDim");
  a.layout = p.Get("neox").ToBoolean() ? rosetta::RopeLayout::Neox : rosetta::RopeLayout::Norm;
  a.freqBase = num(p, "freqBase", 10000.f);
  a.freqScale = num(p, "freqScale", 1.f);
  a.extFactor = num(p, "extFactor", 0.f);
  a.attnFactor = num(p, "attnFactor", 1.f);
  a.betaFast = num(p, "betaFast", 32.f);
  a.betaSlow = num(p, "betaSlow", 1.f);
  a.nCtxOrig = (int32_t)num(p, "nCtxOrig", 0.f);
  Napi::Value ff = p.Get("freqFactors");
  if (ff.IsTypedArray()) {
    auto f = ff.As<Napi::Float32Array>();
    if ((int64_t)f.ElementLength() < a.nDims / 2) fail(info.Env(), "rope freqFactors: too short");
    a.freqFactors = f.Data();
  }
  a.mode = num(p, "mode", 0.f) == 1.f ? Numerics::Exact : Numerics::Ggml;
  rosetta::rope(a);
}

// attention(q, k, v, out, probs | null, nTok, nPast, nHead, nHeadKv, headDim, scale, mode)
void Attention(const Napi::CallbackInfo& info) {
  rosetta::AttentionArgs a{};
  a.nTok = i64(info, 5);
  a.nPast = i64(info, 6);
  a.nHead = i64(info, 7);
  a.nHeadKv = i64(info, 8);
  a.headDim = i64(info, 9);
  if (a.nTok <= 0 || a.nPast < 0 || a.nHead <= 0 || a.nHeadKv <= 0 || a.headDim <= 0 || a.nHead % a.nHeadKv)
    fail(info.Env(), "attention: bad dimensions");
  const int64_t nCtx = a.nPast + a.nTok;
  a.q = f32(info, 0, a.nTok * a.nHead * a.headDim, "attention q").Data();
  a.k = f32(info, 1, nCtx * a.nHeadKv * a.headDim, "attention k").Data();
  a.v = f32(info, 2, nCtx * a.nHeadKv * a.headDim, "attention v").Data();
  a.out = f32(info, 3, a.nTok * a.nHead * a.headDim, "attention out").Data();
  a.probs = f32_or_null(info, 4, a.nHead * a.nTok * nCtx, "attention probs");
  a.scale = info[10].As<Napi::Number>().FloatValue();
  a.mode = mode_arg(info, 11);
  rosetta::attention(a);
}

// swiglu(g, u, y, n, mode[, rowLen])
void Swiglu(const Napi::CallbackInfo& info) {
  const int64_t n = i64(info, 3);
  if (n < 0) fail(info.Env(), "swiglu: n must be >= 0");
  const int64_t rowLen = info.Length() > 5 && !info[5].IsUndefined() ? i64(info, 5) : n;
  if (n > 0 && (rowLen <= 0 || n % rowLen)) fail(info.Env(), "swiglu: rowLen must divide n");
  rosetta::swiglu(f32(info, 0, n, "swiglu g").Data(), f32(info, 1, n, "swiglu u").Data(),
                  f32(info, 2, n, "swiglu y").Data(), n, mode_arg(info, 4), rowLen);
}

// softmaxRows(x, nRows, n, mode)
void SoftmaxRows(const Napi::CallbackInfo& info) {
  const int64_t nRows = i64(info, 1), n = i64(info, 2);
  if (nRows < 0 || n <= 0) fail(info.Env(), "softmaxRows: bad dimensions");
  rosetta::softmax_rows(f32(info, 0, nRows * n, "softmaxRows x").Data(), nRows, n, mode_arg(info, 3));
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  rosetta::set_threads((int)i64(info, 0));
  return Napi::Number::New(info.Env(), rosetta::get_threads());
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), rosetta::get_threads()); }

Napi::Value RowBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)rosetta::row_bytes((uint32_t)i64(info, 0), i64(info, 1)));
}

// statsMany(xs: Float32Array[], ranges: Float64Array [tensor, offset, count]*) -> Float64Array: summaries
// of slices of several tensors on the pool (rosetta::stats_many: each is stats_f32's result, bit for bit). The JS
// arrays stay referenced by `info` for the whole call.
Napi::Value StatsMany(const Napi::CallbackInfo& info) {
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "statsMany xs: expected an array of Float32Array");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), "statsMany ranges: expected a Float64Array");
  const Napi::Array xa = info[0].As<Napi::Array>();
  std::vector<std::pair<const float*, int64_t>> xs(xa.Length());
  for (uint32_t i = 0; i < xa.Length(); i++) {
    const Napi::Value v = xa.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(info.Env(), "statsMany xs: expected an array of Float32Array");
    const Napi::Float32Array f = v.As<Napi::Float32Array>();
    xs[i] = {f.Data(), (int64_t)f.ElementLength()};
  }
  const Napi::Float64Array r = info[1].As<Napi::Float64Array>();
  const size_t nr = r.ElementLength() / 3;
  struct Job { const float* x; int64_t n; };
  std::vector<Job> jobs(nr);
  for (size_t i = 0; i < nr; i++) {
    const double t = r[3 * i], off = r[3 * i + 1], cnt = r[3 * i + 2];
    const bool ints = t == (double)(int64_t)t && off == (double)(int64_t)off && cnt == (double)(int64_t)cnt;
    if (!ints || t < 0 || t >= (double)xs.size() || off < 0 || cnt < 0 || off + cnt > (double)xs[(size_t)t].second)
      fail(info.Env(), "statsMany: range " + std::to_string(i) + " is outside its tensor");
    jobs[i] = {xs[(size_t)t].first + (int64_t)off, (int64_t)cnt};
  }
  std::vector<const float*> px(nr);
  std::vector<int64_t> pn(nr);
  for (size_t i = 0; i < nr; i++) px[i] = jobs[i].x, pn[i] = jobs[i].n;
  std::vector<rosetta::Stats> out(nr);
  rosetta::stats_many(px.data(), pn.data(), (int64_t)nr, out.data());
  // 10 doubles per summary in stats_js.h's field order (objects are built on the JS side: creating
  // them through N-API costs ~4 us each, more than the statistics of a one-token point)
  Napi::Float64Array a = Napi::Float64Array::New(info.Env(), nr * 10);
  for (size_t i = 0; i < nr; i++) {
    const rosetta::Stats& t = out[i];
    const double v[10] = {(double)t.count, (double)t.nan, (double)t.inf, (double)t.zeros, t.mean, t.std, t.min, t.max, t.absmax, t.l2};
    for (int k = 0; k < 10; k++) a[i * 10 + k] = v[k];
  }
  return a;
}

template <auto F>
Napi::Value Wrap(const Napi::CallbackInfo& info) {
  try {
    if constexpr (std::is_void_v<decltype(F(info))>) {
      F(info);
      return info.Env().Undefined();
    } else {
      return F(info);
    }
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("rosetta ops: ") + e.what());
  }
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("opsMatmul", Napi::Function::New<Wrap<Matmul>>(env, "opsMatmul"));
  exports.Set("opsToF32", Napi::Function::New<Wrap<ToF32>>(env, "opsToF32"));
  exports.Set("opsActRound", Napi::Function::New<Wrap<ActRound>>(env, "opsActRound"));
  exports.Set("opsRmsNorm", Napi::Function::New<Wrap<RmsNorm>>(env, "opsRmsNorm"));
  exports.Set("opsRope", Napi::Function::New<Wrap<Rope>>(env, "opsRope"));
  exports.Set("opsAttention", Napi::Function::New<Wrap<Attention>>(env, "opsAttention"));
  exports.Set("opsSwiglu", Napi::Function::New<Wrap<Swiglu>>(env, "opsSwiglu"));
  exports.Set("opsSoftmaxRows", Napi::Function::New<Wrap<SoftmaxRows>>(env, "opsSoftmaxRows"));
  exports.Set("opsSetThreads", Napi::Function::New<Wrap<SetThreads>>(env, "opsSetThreads"));
  exports.Set("opsGetThreads", Napi::Function::New<Wrap<GetThreads>>(env, "opsGetThreads"));
  exports.Set("opsStatsMany", Napi::Function::New<Wrap<StatsMany>>(env, "opsStatsMany"));
  exports.Set("opsRowBytes", Napi::Function::New<Wrap<RowBytes>>(env, "opsRowBytes"));
}

}  // namespace

ROSETTA_ADDON_MODULE(ops, Init);

}  // namespace rosetta_addon
