// N-API surface of the engine kernels (matmul.h, ops.h, threadpool.h). Arguments are validated in
// src/bindings/kernels.ts; the checks here (native/common/napi_args.h) only guarantee that no call can
// read or write out of bounds.
#include <napi.h>

#include <string>
#include <vector>

#include "args.h"
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

// Dimensions are positive and small enough that their products stay exact (< 2^53 / 2^20).
constexpr int64_t kMaxDim = int64_t(1) << 32;

int64_t arg_dim(const Napi::CallbackInfo& info, size_t i, const char* name) { return arg_int(info, i, name, 1, kMaxDim); }

uint32_t arg_type(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return (uint32_t)arg_int(info, i, name, 0, 0xFFFFFFFFll);
}

Numerics mode_of(const Napi::Value& v, const char* name) {
  return as_int(v, name, 0, 1) == 1 ? Numerics::Exact : Numerics::Ggml;
}

Numerics arg_mode(const Napi::CallbackInfo& info, size_t i, const char* name) { return mode_of(info[i], name); }

// Weight bytes: (source, byteOffset) where source is a Mapping or a typed array.
const uint8_t* weight_bytes(const Napi::CallbackInfo& info, size_t i, size_t* avail, const char* fn) {
  size_t size = 0;
  const uint8_t* base = source_bytes(info[i], &size, (std::string(fn) + ": weights").c_str());
  const uint64_t off = arg_index(info, i + 1, (std::string(fn) + ": weight offset").c_str());
  if (off > size) throw RangeErr(std::string(fn) + ": weights: byte offset is outside the data");
  *avail = size - (size_t)off;
  return base + off;
}

// matmul(w, wOffset, type, nOut, nIn, x, y, nTok, mode, rowBytes = 0)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    rosetta::MatmulArgs a{};
    a.w = weight_bytes(info, 0, &a.wBytes, "matmul");
    a.type = arg_type(info, 2, "matmul: type");
    a.nOut = arg_dim(info, 3, "matmul: nOut");
    a.nIn = arg_dim(info, 4, "matmul: nIn");
    a.nTok = arg_dim(info, 7, "matmul: nTok");
    a.x = arg_f32_min(info, 5, "matmul: x", a.nTok * a.nIn).Data();
    a.y = arg_f32_min(info, 6, "matmul: y", a.nTok * a.nOut).Data();
    a.mode = arg_mode(info, 8, "matmul: mode");
    a.rowBytes = (size_t)arg_index_or(info, 9, "matmul: rowBytes", 0);  // optional row stride (APR per-row padded rows)
    a.bias = arg_f32_min_or_null(info, 10, "matmul: bias", a.nOut);     // optional [nOut], added to every token's outputs
    if (const char* err = rosetta::matmul(a)) throw RangeErr(err);
    return info.Env().Undefined();
  });
}

// The type whose to_float reads act_convert's blocks for q (Q8_1's qs and d are Q8_0's).
uint32_t act_blocks_type(rosetta::ActQuant q) {
  switch (q) {
    case rosetta::ActQuant::None: return rosetta::T_F32;
    case rosetta::ActQuant::F16: return rosetta::T_F16;
    case rosetta::ActQuant::BF16: return rosetta::T_BF16;
    case rosetta::ActQuant::Q8_0: case rosetta::ActQuant::Q8_1: return rosetta::T_Q8_0;
    case rosetta::ActQuant::Q8_K: return rosetta::T_Q8_K;
  }
  return rosetta::T_F32;
}

// actRound(type, x, out, n): the activations a matmul with weights of `type` sees in ggml mode, written
// once as quantize-then-dequantize: the matmul's own conversion (act_convert, on the path the matmul
// takes), read back by the vec_dot type's to_float.
Napi::Value ActRound(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    rosetta::ActQuant q;
    if (!rosetta::act_quant_for(arg_type(info, 0, "actRound: type"), &q)) throw RangeErr("actRound: type is not supported");
    const uint64_t n = arg_index(info, 3, "actRound: n");
    if (n % (uint64_t)rosetta::act_block(q)) throw RangeErr("actRound: n is not a multiple of the block size");
    const float* x = arg_f32_min(info, 1, "actRound: x", n).Data();
    float* out = arg_f32_min(info, 2, "actRound: out", n).Data();
    const Napi::Value name = Napi::String::New(info.Env(), rosetta::act_quant_name(q));
    if (n == 0) return name;
    const rosetta::ActQuant blocks = q == rosetta::ActQuant::Q8_1 ? rosetta::ActQuant::Q8_0 : q;
    std::vector<uint8_t> buf(rosetta::act_row_bytes(blocks, (int64_t)n));
    rosetta::act_convert(blocks, x, buf.data(), (int64_t)n, rosetta::current_isa() != rosetta::Isa::Scalar);
    rosetta::to_float(*rosetta::type_traits(act_blocks_type(q)), buf.data(), out, (int64_t)n);
    return name;
  });
}

// rmsNorm(x, w | null, y, nRows, n, eps, mode)
Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const int64_t nRows = arg_dim(info, 3, "rmsNorm: nRows"), n = arg_dim(info, 4, "rmsNorm: n");
    rosetta::rms_norm(arg_f32_min(info, 0, "rmsNorm: x", nRows * n).Data(), arg_f32_min_or_null(info, 1, "rmsNorm: w", n),
                      arg_f32_min(info, 2, "rmsNorm: y", nRows * n).Data(), nRows, n, (float)arg_number(info, 5, "rmsNorm: eps"),
                      arg_mode(info, 6, "rmsNorm: mode"));
    return info.Env().Undefined();
  });
}

// rope(x, nTok, nHeads, headDim, pos Int32Array, params {nDims, neox, freqBase, freqScale, extFactor,
//      attnFactor, betaFast, betaSlow, nCtxOrig, freqFactors?, mode}); absent numbers take their defaults.
Napi::Value Rope(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    rosetta::RopeArgs a{};
    a.nTok = arg_dim(info, 1, "rope: nTok");
    a.nHeads = arg_dim(info, 2, "rope: nHeads");
    a.headDim = arg_dim(info, 3, "rope: headDim");
    a.x = arg_f32_min(info, 0, "rope: x", a.nTok * a.nHeads * a.headDim).Data();
    Napi::Int32Array pos = arg_i32(info, 4, "rope: pos");
    if ((int64_t)pos.ElementLength() < a.nTok) throw RangeErr("rope: pos is shorter than nTok");
    a.pos = pos.Data();
    Napi::Object p = arg_object(info, 5, "rope: params");
    a.nDims = (int64_t)(float)field_number_or(p, "nDims", "rope: params.nDims", (double)(float)a.headDim);
    if (a.nDims <= 0 || a.nDims > a.headDim || a.nDims % 2) throw RangeErr("rope: nDims must be even and <= headDim");
    a.layout = field_bool_or(p, "neox", "rope: params.neox", false) ? rosetta::RopeLayout::Neox : rosetta::RopeLayout::Norm;
    a.freqBase = (float)field_number_or(p, "freqBase", "rope: params.freqBase", 10000.0);
    a.freqScale = (float)field_number_or(p, "freqScale", "rope: params.freqScale", 1.0);
    a.extFactor = (float)field_number_or(p, "extFactor", "rope: params.extFactor", 0.0);
    a.attnFactor = (float)field_number_or(p, "attnFactor", "rope: params.attnFactor", 1.0);
    a.betaFast = (float)field_number_or(p, "betaFast", "rope: params.betaFast", 32.0);
    a.betaSlow = (float)field_number_or(p, "betaSlow", "rope: params.betaSlow", 1.0);
    a.nCtxOrig = (int32_t)(float)field_number_or(p, "nCtxOrig", "rope: params.nCtxOrig", 0.0);
    if (has_field(p, "freqFactors") && !p.Get("freqFactors").IsNull()) {
      Napi::Float32Array f = as_f32(p.Get("freqFactors"), "rope: params.freqFactors");
      if ((int64_t)f.ElementLength() < a.nDims / 2) throw RangeErr("rope: params.freqFactors is too short");
      a.freqFactors = f.Data();
    }
    a.mode = has_field(p, "mode") ? mode_of(p.Get("mode"), "rope: params.mode") : Numerics::Ggml;
    rosetta::rope(a);
    return info.Env().Undefined();
  });
}

// attention(q, k, v, out, probs | null, nTok, nPast, nHead, nHeadKv, headDim, scale, mode, kvStride = 0)
Napi::Value Attention(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    rosetta::AttentionArgs a{};
    a.nTok = arg_dim(info, 5, "attention: nTok");
    a.nPast = arg_int(info, 6, "attention: nPast", 0, kMaxDim);
    a.nHead = arg_dim(info, 7, "attention: nHead");
    a.nHeadKv = arg_dim(info, 8, "attention: nHeadKv");
    a.headDim = arg_dim(info, 9, "attention: headDim");
    if (a.nHead % a.nHeadKv) throw RangeErr("attention: nHead must be a multiple of nHeadKv");
    const int64_t nCtx = a.nPast + a.nTok, row = a.nHeadKv * a.headDim;
    a.kvStride = (int64_t)arg_index_or(info, 12, "attention: kvStride", 0);
    if (a.kvStride != 0 && (a.kvStride < row || a.kvStride > kMaxDim)) throw RangeErr("attention: kvStride is shorter than a cache row");
    const int64_t cache = (nCtx - 1) * (a.kvStride ? a.kvStride : row) + row;
    a.q = arg_f32_min(info, 0, "attention: q", a.nTok * a.nHead * a.headDim).Data();
    a.k = arg_f32_min(info, 1, "attention: k", cache).Data();
    a.v = arg_f32_min(info, 2, "attention: v", cache).Data();
    a.out = arg_f32_min(info, 3, "attention: out", a.nTok * a.nHead * a.headDim).Data();
    a.probs = arg_f32_min_or_null(info, 4, "attention: probs", a.nHead * a.nTok * nCtx);
    a.scale = (float)arg_number(info, 10, "attention: scale");
    a.mode = arg_mode(info, 11, "attention: mode");
    rosetta::attention(a);
    return info.Env().Undefined();
  });
}

// swiglu(g, u, y, n, mode[, rowLen = n])
Napi::Value Swiglu(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const int64_t n = (int64_t)arg_index(info, 3, "swiglu: n");
    const int64_t rowLen = (int64_t)arg_index_or(info, 5, "swiglu: rowLen", (uint64_t)n);
    if (n > 0 && (rowLen <= 0 || n % rowLen)) throw RangeErr("swiglu: rowLen must divide n");
    rosetta::swiglu(arg_f32_min(info, 0, "swiglu: g", n).Data(), arg_f32_min(info, 1, "swiglu: u", n).Data(),
                    arg_f32_min(info, 2, "swiglu: y", n).Data(), n, arg_mode(info, 4, "swiglu: mode"), rowLen);
    return info.Env().Undefined();
  });
}

// add(a, b, y, n, rowLen, broadcast): y = a + b in f32; broadcast: b is one row of rowLen
Napi::Value Add(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const int64_t n = (int64_t)arg_index(info, 3, "add: n");
    const int64_t rowLen = (int64_t)arg_index_or(info, 4, "add: rowLen", (uint64_t)n);
    if (n > 0 && (rowLen <= 0 || rowLen > n)) throw RangeErr("add: rowLen must be in 1..n");
    const bool broadcast = info.Length() > 5 && info[5].IsBoolean() && info[5].As<Napi::Boolean>().Value();
    rosetta::add_f32(arg_f32_min(info, 0, "add: a", n).Data(), arg_f32_min(info, 1, "add: b", broadcast ? rowLen : n).Data(),
                     arg_f32_min(info, 2, "add: y", n).Data(), n, rowLen, broadcast);
    return info.Env().Undefined();
  });
}

// softmaxRows(x, nRows, n, mode)
Napi::Value SoftmaxRows(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const int64_t nRows = arg_int(info, 1, "softmaxRows: nRows", 0, kMaxDim), n = arg_dim(info, 2, "softmaxRows: n");
    rosetta::softmax_rows(arg_f32_min(info, 0, "softmaxRows: x", nRows * n).Data(), nRows, n, arg_mode(info, 3, "softmaxRows: mode"));
    return info.Env().Undefined();
  });
}

// setThreads(n): 0 = one per core; returns the count in use.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    rosetta::set_threads((int)arg_int(info, 0, "setThreads: n", 0, 256));
    return Napi::Number::New(info.Env(), rosetta::get_threads());
  });
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), rosetta::get_threads()); });
}

// rowBytes(type, nIn): bytes of one packed row; 0 when nIn is not a whole number of blocks.
Napi::Value RowBytes(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const uint32_t type = arg_type(info, 0, "rowBytes: type");
    const int64_t nIn = (int64_t)arg_index(info, 1, "rowBytes: nIn");
    return Napi::Number::New(info.Env(), (double)rosetta::row_bytes(type, nIn));
  });
}

// statsMany(xs: Float32Array[], ranges: Float64Array [tensor, offset, count]*) -> Float64Array: summaries
// of slices of several tensors on the pool (rosetta::stats_many: each is stats_f32's result, bit for bit). The JS
// arrays stay referenced by `info` for the whole call.
Napi::Value StatsMany(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const Napi::Array xa = as_array(info[0], "statsMany: xs");
    std::vector<std::pair<const float*, int64_t>> xs(xa.Length());
    for (uint32_t i = 0; i < xa.Length(); i++) {
      const Napi::Float32Array f = as_f32(xa.Get(i), "statsMany: xs[i]");
      xs[i] = {f.Data(), (int64_t)f.ElementLength()};
    }
    const Napi::Float64Array r = arg_f64(info, 1, "statsMany: ranges");
    const size_t nr = r.ElementLength() / 3;
    std::vector<const float*> px(nr);
    std::vector<int64_t> pn(nr);
    for (size_t i = 0; i < nr; i++) {
      const double t = r[3 * i], off = r[3 * i + 1], cnt = r[3 * i + 2];
      const bool ints = t == (double)(int64_t)t && off == (double)(int64_t)off && cnt == (double)(int64_t)cnt;
      if (!ints || t < 0 || t >= (double)xs.size() || off < 0 || cnt < 0 || off + cnt > (double)xs[(size_t)t].second)
        throw RangeErr("statsMany: range " + std::to_string(i) + " is outside its tensor");
      px[i] = xs[(size_t)t].first + (int64_t)off;
      pn[i] = (int64_t)cnt;
    }
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
  });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("opsMatmul", Napi::Function::New(env, Matmul, "opsMatmul"));
  exports.Set("opsActRound", Napi::Function::New(env, ActRound, "opsActRound"));
  exports.Set("opsRmsNorm", Napi::Function::New(env, RmsNorm, "opsRmsNorm"));
  exports.Set("opsRope", Napi::Function::New(env, Rope, "opsRope"));
  exports.Set("opsAttention", Napi::Function::New(env, Attention, "opsAttention"));
  exports.Set("opsSwiglu", Napi::Function::New(env, Swiglu, "opsSwiglu"));
  exports.Set("opsSoftmaxRows", Napi::Function::New(env, SoftmaxRows, "opsSoftmaxRows"));
  exports.Set("opsAdd", Napi::Function::New(env, Add, "opsAdd"));
  exports.Set("opsSetThreads", Napi::Function::New(env, SetThreads, "opsSetThreads"));
  exports.Set("opsGetThreads", Napi::Function::New(env, GetThreads, "opsGetThreads"));
  exports.Set("opsStatsMany", Napi::Function::New(env, StatsMany, "opsStatsMany"));
  exports.Set("opsRowBytes", Napi::Function::New(env, RowBytes, "opsRowBytes"));
}

}  // namespace

ROSETTA_ADDON_MODULE(ops, Init);

}  // namespace rosetta_addon
