// Kernel bindings: dequantize, stats, diff, the type table and ISA control. Everything is checked here
// before any memory is touched; the kernels themselves trust their arguments.
#include <cstring>
#include <memory>
#include <string>

#include "stats_js.h"
#include "args.h"
#include "mapping.h"
#include "module.h"
#include "rosetta/isa.h"
#include "rosetta/reduce.h"
#include "rosetta/peak.h"
#include "rosetta/types.h"

namespace rosetta_addon {
namespace {

using rosetta::TypeTraits;

const TypeTraits& supported_type(const Napi::Value& v) {
  const uint64_t id = as_index(v, "type");
  const TypeTraits* t = id <= 0xFFFFFFFFu ? rosetta::type_traits((uint32_t)id) : nullptr;
  if (t == nullptr) throw RangeErr("unknown tensor type id " + std::to_string(id));
  if (!t->supported) throw ArgError(std::string("tensor type ") + t->name + " is not supported");
  return *t;
}

// dequantize(src, offset, byteLength, type, nElements, out, outOffset = 0)
Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    size_t srcSize = 0;
    const uint8_t* src = source_bytes(info[0], &srcSize, "dequantize: src");
    const uint64_t offset = arg_index(info, 1, "offset");
    const uint64_t byteLength = arg_index(info, 2, "byteLength");
    const TypeTraits& t = supported_type(info[3]);
    const uint64_t n = arg_index(info, 4, "nElements");
    Napi::Float32Array out = arg_f32(info, 5, "out");
    const uint64_t outOffset = arg_index_or(info, 6, "outOffset", 0);
    const uint64_t bs = (uint64_t)t.blockSize;
    if (n % bs != 0)
      throw RangeErr("nElements " + std::to_string(n) + " is not a multiple of the " + t.name + " block size " +
                     std::to_string(bs));
    const uint64_t expected = n / bs * (uint64_t)t.typeSize + t.headerBytes;  // n < 2^53, typeSize < 2^9: no overflow
    if (byteLength != expected)
      throw RangeErr("byteLength " + std::to_string(byteLength) + " does not match " + std::to_string(n) + " " +
                     t.name + " elements (" + std::to_string(expected) + " bytes)");
    check_range(offset, byteLength, srcSize, "dequantize", "the source");
    if (outOffset > out.ElementLength() || n > out.ElementLength() - outOffset)
      throw RangeErr("out has " + std::to_string(out.ElementLength()) + " elements; " + std::to_string(n) +
                     " do not fit at outOffset " + std::to_string(outOffset));
    if (n == 0) return info.Env().Undefined();
    const uint8_t* p = src + offset;
    // Blocks hold 16/32-bit fields: give the kernels aligned input even for an odd-offset JS view.
    std::unique_ptr<uint8_t[]> copy;
    if (reinterpret_cast<uintptr_t>(p) % 4 != 0) {
      copy.reset(new uint8_t[byteLength]);
      std::memcpy(copy.get(), p, byteLength);
      p = copy.get();
    }
    rosetta::to_float(t, p, out.Data() + outOffset, (int64_t)n);
    return info.Env().Undefined();
  });
}

// stats(x: Float32Array, offset, count, stride): over x[offset + i*stride], i < count.
Napi::Value Stats(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Float32Array x = arg_f32(info, 0, "stats: x");
    const uint64_t offset = arg_index(info, 1, "offset");
    const uint64_t count = arg_index(info, 2, "count");
    const uint64_t stride = arg_index(info, 3, "stride");
    const uint64_t len = x.ElementLength();
    if (count > 0) {
      if (stride == 0) throw RangeErr("stats: stride must be >= 1");
      // last index = offset + (count-1)*stride must be < len, computed without overflow
      if (offset >= len || (count - 1) > (len - 1 - offset) / stride)
        throw RangeErr("stats: " + std::to_string(count) + " elements at offset " + std::to_string(offset) +
                       " with stride " + std::to_string(stride) + " exceed the array (" + std::to_string(len) +
                       " elements)");
    }
    return rosetta_js::stats_object(info.Env(), rosetta::stats_f32(x.Data() + (count ? offset : 0), (int64_t)count, (int64_t)stride));
  });
}

// diff(a, b): pairwise metrics, a is the reference; same lengths required.
Napi::Value Diff(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Float32Array a = arg_f32(info, 0, "diff: a");
    Napi::Float32Array b = arg_f32(info, 1, "diff: b");
    if (a.ElementLength() != b.ElementLength())
      throw RangeErr("diff: lengths differ (" + std::to_string(a.ElementLength()) + " vs " +
                     std::to_string(b.ElementLength()) + ")");
    const rosetta::DiffMetrics m = rosetta::diff_f32(a.Data(), b.Data(), (int64_t)a.ElementLength());
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("count", (double)m.count);
    o.Set("nonfinite", (double)m.nonfinite);
    o.Set("nonfiniteMismatch", (double)m.nonfiniteMismatch);
    o.Set("maxAbs", m.maxAbs);
    o.Set("maxAbsIndex", (double)m.maxAbsIndex);
    o.Set("meanAbs", m.meanAbs);
    o.Set("nmseEnergy", m.nmseEnergy);
    o.Set("nmseVariance", m.nmseVariance);
    o.Set("sqnrDb", m.sqnrDb);
    o.Set("cosine", m.cosine);
    return o;
  });
}

Napi::Value TypeTraitsTable(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Array arr = Napi::Array::New(env);
    uint32_t k = 0;
    for (uint32_t id = 0; id <= rosetta::type_id_max(); ++id) {
      const TypeTraits* t = rosetta::type_traits(id);
      if (t == nullptr) continue;
      Napi::Object o = Napi::Object::New(env);
      o.Set("id", id);
      o.Set("name", t->name);
      o.Set("blockSize", (double)t->blockSize);
      o.Set("typeSize", (double)t->typeSize);
      o.Set("supported", t->supported);
      o.Set("headerBytes", (double)t->headerBytes);
      arr.Set(k++, o);
    }
    return arr;
  });
}

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const rosetta::CpuFeatures& f = rosetta::cpu_features();
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("avx2", f.avx2);
    o.Set("fma", f.fma);
    o.Set("f16c", f.f16c);
    o.Set("bmi2", f.bmi2);
    o.Set("avx512f", f.avx512f);
    o.Set("avx512bw", f.avx512bw);
    o.Set("avx512vl", f.avx512vl);
    o.Set("avx512dq", f.avx512dq);
    o.Set("avx512vnni", f.avx512vnni);
    o.Set("avx512bf16", f.avx512bf16);
    Napi::Array paths = Napi::Array::New(env);
    uint32_t k = 0;
    for (rosetta::Isa isa : {rosetta::Isa::Scalar, rosetta::Isa::Avx2, rosetta::Isa::Avx512})
      if (rosetta::isa_supported(isa)) paths.Set(k++, rosetta::isa_name(isa));
    o.Set("isas", paths);
    o.Set("best", rosetta::isa_name(rosetta::best_isa()));
    return o;
  });
}

Napi::Value Isa(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), rosetta::isa_name(rosetta::current_isa()));
  });
}

// setIsa(name): force a path; throws if unknown or not runnable on this CPU.
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const std::string name = arg_string(info, 0, "setIsa: name");
    rosetta::Isa isa;
    if (!rosetta::parse_isa(name.c_str(), &isa))
      throw RangeErr("setIsa: unknown ISA path '" + name + "' (expected scalar, avx2 or avx512)");
    if (!rosetta::set_isa(isa))
      throw Napi::Error::New(info.Env(), "setIsa: this CPU cannot run the " + name + " path (best available: " +
                                             rosetta::isa_name(rosetta::best_isa()) + ")");
    return Napi::String::New(info.Env(), rosetta::isa_name(isa));
  });
}

// int8PeakMacs(threads, ms) / memoryReadBandwidth(threads, bytesPerThread, passes): the machine's limits
// (rosetta/peak.h), for bench:engine; MACs/s and bytes/s over all threads.
Napi::Value Int8PeakMacs(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const double threads = arg_number(info, 0, "int8PeakMacs: threads"), ms = arg_number(info, 1, "int8PeakMacs: ms");
    if (!(threads >= 1 && threads <= 1024) || !(ms > 0 && ms <= 60000)) throw RangeErr("int8PeakMacs: threads in 1..1024, ms in (0, 60000]");
    return Napi::Number::New(info.Env(), rosetta::int8_peak_macs((int)threads, ms));
  });
}

Napi::Value MemoryReadBandwidth(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const double threads = arg_number(info, 0, "memoryReadBandwidth: threads");
    const double bytes = arg_number(info, 1, "memoryReadBandwidth: bytesPerThread");
    const double passes = arg_number(info, 2, "memoryReadBandwidth: passes");
    if (!(threads >= 1 && threads <= 1024) || !(bytes >= 64 && bytes <= 64.0 * (1 << 30)) || !(passes >= 1 && passes <= 100))
      throw RangeErr("memoryReadBandwidth: threads in 1..1024, bytesPerThread in 64..64 GiB, passes in 1..100");
    return Napi::Number::New(info.Env(), rosetta::memory_read_bandwidth((int)threads, (int64_t)bytes, (int)passes));
  });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("int8PeakMacs", Napi::Function::New(env, Int8PeakMacs, "int8PeakMacs"));
  exports.Set("memoryReadBandwidth", Napi::Function::New(env, MemoryReadBandwidth, "memoryReadBandwidth"));
  exports.Set("dequantize", Napi::Function::New(env, Dequantize, "dequantize"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
  exports.Set("diff", Napi::Function::New(env, Diff, "diff"));
  exports.Set("typeTraits", Napi::Function::New(env, TypeTraitsTable, "typeTraits"));
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures, "cpuFeatures"));
  exports.Set("isa", Napi::Function::New(env, Isa, "isa"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
}

}  // namespace

ROSETTA_ADDON_MODULE(kernels, Init);

}  // namespace rosetta_addon
