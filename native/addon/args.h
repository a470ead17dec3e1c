// Argument checking and the exception edge shared by the addon modules: every entry point runs its body
// in guard(), so no C++ exception ever reaches N-API uncaught and the process never aborts.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

namespace rosetta_addon {

// A bad argument: becomes a JS TypeError (wrong kind of value) or RangeError (bad number/size).
struct ArgError : std::runtime_error {
  bool range;
  explicit ArgError(const std::string& m, bool isRange = false) : std::runtime_error(m), range(isRange) {}
};
inline ArgError RangeErr(const std::string& m) { return ArgError(m, true); }

template <typename F>
auto guard(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const ArgError& e) {
    if (e.range) throw Napi::RangeError::New(env, e.what());
    throw Napi::TypeError::New(env, e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "rosetta native: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "rosetta native: unknown C++ exception");
  }
}

constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1

inline std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "NaN";
    std::string s = std::to_string(d);
    if (d == std::floor(d) && std::fabs(d) < 1e18) s = std::to_string((long long)d);
    return s;
  }
  if (v.IsString()) return "a string";
  if (v.IsNull()) return "null";
  return "a non-number";
}

// A non-negative safe integer argument (offsets, lengths, counts).
inline uint64_t as_index(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw ArgError(std::string(name) + " must be a non-negative integer (got " + describe(v) + ")");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > kMaxSafe || d != std::floor(d))
    throw RangeErr(std::string(name) + " must be a non-negative safe integer (got " + describe(v) + ")");
  return (uint64_t)d;
}

inline uint64_t arg_index(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return as_index(info[i], name);
}

// Optional index argument: `def` when undefined.
inline uint64_t arg_index_or(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t def) {
  return info[i].IsUndefined() ? def : as_index(info[i], name);
}

// [offset, offset+length) must lie inside [0, size); no overflow whatever the inputs.
inline void check_range(uint64_t offset, uint64_t length, uint64_t size, const char* fn, const char* what) {
  if (offset > size || length > size - offset)
    throw RangeErr(std::string(fn) + ": bytes [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                   std::to_string(length) + ") are outside " + what + " (" + std::to_string(size) + " bytes)");
}

}  // namespace rosetta_addon
