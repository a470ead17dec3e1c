// The one argument-checking idiom of rosetta's two addons (native/addon -> rosetta.node, native/llama ->
// rosetta_llama.node). Every exported function runs its body in a guard (native/addon/guard.h,
// native/llama/bridge.h), reads each argument with one of the arg_* readers below, and throws ArgError
// for anything else it rejects:
//   * a value of the wrong kind (not a number, not a Float32Array, not a string...) -> JS TypeError
//   * a value of the right kind but out of range (negative count, bytes outside a buffer...) -> RangeError
// Messages name the function and the argument: "matmul: x must be a Float32Array (got a string)".
// No C++ exception ever reaches N-API uncaught, so the process never aborts.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rosetta_args {

// A bad argument: becomes a JS TypeError (wrong kind of value) or RangeError (bad number/size).
struct ArgError : std::runtime_error {
  bool range;
  explicit ArgError(const std::string& m, bool isRange = false) : std::runtime_error(m), range(isRange) {}
  Napi::Error to_js(Napi::Env env) const {
    if (range) return Napi::RangeError::New(env, what());
    return Napi::TypeError::New(env, what());
  }
};
inline ArgError TypeErr(const std::string& m) { return ArgError(m, false); }
inline ArgError RangeErr(const std::string& m) { return ArgError(m, true); }

// Runs f; an ArgError becomes a TypeError/RangeError, a JS error passes through, any other C++ exception
// goes through `other` (each addon's own mapping: a plain Error, or the bridge's coded LLAMA_* errors).
template <typename F, typename Other>
auto guard_with(Napi::Env env, F&& f, Other&& other) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const ArgError& e) {
    throw e.to_js(env);
  } catch (const std::exception& e) {
    throw other(e);
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
  if (v.IsBoolean()) return "a boolean";
  if (v.IsArray()) return "an array";
  if (v.IsTypedArray()) return "a typed array of another element type";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another kind";
}

inline std::string arg_name(const char* fn, const char* name) { return std::string(fn) + ": " + name; }

// ---- numbers ----

// A non-negative safe integer (offsets, lengths, counts, type ids).
inline uint64_t as_index(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw TypeErr(std::string(name) + " must be a non-negative integer (got " + describe(v) + ")");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > kMaxSafe || d != std::floor(d))
    throw RangeErr(std::string(name) + " must be a non-negative safe integer (got " + describe(v) + ")");
  return (uint64_t)d;
}

inline uint64_t arg_index(const Napi::CallbackInfo& info, size_t i, const char* name) { return as_index(info[i], name); }

// Optional index argument: `def` when undefined.
inline uint64_t arg_index_or(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t def) {
  return info[i].IsUndefined() ? def : as_index(info[i], name);
}

// An integer in [lo, hi].
inline int64_t as_int(const Napi::Value& v, const char* name, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw TypeErr(std::string(name) + " must be an integer (got " + describe(v) + ")");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= (double)lo && d <= (double)hi) || d != std::floor(d))
    throw RangeErr(std::string(name) + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + " (got " +
                   describe(v) + ")");
  return (int64_t)d;
}

inline int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi) {
  return as_int(info[i], name, lo, hi);
}

// Any finite number.
inline double as_number(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw TypeErr(std::string(name) + " must be a number (got " + describe(v) + ")");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw RangeErr(std::string(name) + " must be finite (got " + describe(v) + ")");
  return d;
}

inline double arg_number(const Napi::CallbackInfo& info, size_t i, const char* name) { return as_number(info[i], name); }

// ---- strings, booleans, objects, arrays ----

inline std::string as_string(const Napi::Value& v, const char* name) {
  if (!v.IsString()) throw TypeErr(std::string(name) + " must be a string (got " + describe(v) + ")");
  return v.As<Napi::String>().Utf8Value();
}

inline std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* name) { return as_string(info[i], name); }

inline bool as_bool(const Napi::Value& v, const char* name) {
  if (!v.IsBoolean()) throw TypeErr(std::string(name) + " must be a boolean (got " + describe(v) + ")");
  return v.As<Napi::Boolean>().Value();
}

inline bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* name) { return as_bool(info[i], name); }

inline Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsObject() || info[i].IsArray()) throw TypeErr(std::string(name) + " must be an object (got " + describe(info[i]) + ")");
  return info[i].As<Napi::Object>();
}

inline Napi::Array as_array(const Napi::Value& v, const char* name) {
  if (!v.IsArray()) throw TypeErr(std::string(name) + " must be an array (got " + describe(v) + ")");
  return v.As<Napi::Array>();
}

// Optional fields of an options object: `def` when absent or undefined, else checked like an argument.
inline bool has_field(const Napi::Object& o, const char* key) { return o.Has(key) && !o.Get(key).IsUndefined(); }
inline double field_number_or(const Napi::Object& o, const char* key, const char* name, double def) {
  return has_field(o, key) ? as_number(o.Get(key), name) : def;
}
inline int64_t field_int_or(const Napi::Object& o, const char* key, const char* name, int64_t lo, int64_t hi, int64_t def) {
  return has_field(o, key) ? as_int(o.Get(key), name, lo, hi) : def;
}
inline bool field_bool_or(const Napi::Object& o, const char* key, const char* name, bool def) {
  return has_field(o, key) ? as_bool(o.Get(key), name) : def;
}

// ---- typed arrays ----

template <typename T, napi_typedarray_type K>
inline Napi::TypedArrayOf<T> as_typed(const Napi::Value& v, const char* name, const char* kind) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != K)
    throw TypeErr(std::string(name) + " must be a " + kind + " (got " + describe(v) + ")");
  return v.As<Napi::TypedArrayOf<T>>();
}

inline Napi::Float32Array as_f32(const Napi::Value& v, const char* name) {
  return as_typed<float, napi_float32_array>(v, name, "Float32Array");
}

inline Napi::Float32Array arg_f32(const Napi::CallbackInfo& info, size_t i, const char* name) { return as_f32(info[i], name); }

// A Float32Array of at least `need` elements.
inline Napi::Float32Array arg_f32_min(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t need) {
  Napi::Float32Array a = as_f32(info[i], name);
  if (a.ElementLength() < need)
    throw RangeErr(std::string(name) + " has " + std::to_string(a.ElementLength()) + " elements, needs " + std::to_string(need));
  return a;
}

// Same, or nullptr for null/undefined.
inline float* arg_f32_min_or_null(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t need) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return arg_f32_min(info, i, name, need).Data();
}

inline Napi::Int32Array arg_i32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return as_typed<int32_t, napi_int32_array>(info[i], name, "Int32Array");
}

inline Napi::Float64Array arg_f64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return as_typed<double, napi_float64_array>(info[i], name, "Float64Array");
}

// ---- ranges ----

// [offset, offset+length) must lie inside [0, size); no overflow whatever the inputs.
inline void check_range(uint64_t offset, uint64_t length, uint64_t size, const char* fn, const char* what) {
  if (offset > size || length > size - offset)
    throw RangeErr(std::string(fn) + ": bytes [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                   std::to_string(length) + ") are outside " + what + " (" + std::to_string(size) + " bytes)");
}

}  // namespace rosetta_args
