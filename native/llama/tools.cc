// quantize() (llama_model_quantize), tokenize() and detokenize() (llama_tokenize / llama_detokenize on a
// vocab-only load, cheap enough to be an oracle for rosetta's own tokenizer).
#include <cstring>
#include <utility>

#include "bridge.h"

namespace rosetta_llama {

namespace {

struct FtypeName {
  const char* name;
  llama_ftype ftype;
};
// The ftypes the fixture generator and the CLI ask for, by llama-quantize's names.
const FtypeName kFtypes[] = {
    {"F32", LLAMA_FTYPE_ALL_F32},       {"F16", LLAMA_FTYPE_MOSTLY_F16},     {"BF16", LLAMA_FTYPE_MOSTLY_BF16},
    {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},  {"Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1},   {"Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0},
    {"Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1},  {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},   {"Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K},
    {"Q2_K_S", LLAMA_FTYPE_MOSTLY_Q2_K_S}, {"Q3_K_S", LLAMA_FTYPE_MOSTLY_Q3_K_S}, {"Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M},
    {"Q3_K_L", LLAMA_FTYPE_MOSTLY_Q3_K_L}, {"Q4_K_S", LLAMA_FTYPE_MOSTLY_Q4_K_S}, {"Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M},
    {"Q5_K_S", LLAMA_FTYPE_MOSTLY_Q5_K_S}, {"Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M}, {"Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K},
    {"IQ4_NL", LLAMA_FTYPE_MOSTLY_IQ4_NL}, {"IQ4_XS", LLAMA_FTYPE_MOSTLY_IQ4_XS},
};

llama_ftype parse_ftype(const std::string& s) {
  for (const auto& f : kFtypes)
    if (s == f.name) return f.ftype;
  std::string all;
  for (const auto& f : kFtypes) all += std::string(all.empty() ? "" : ", ") + f.name;
  throw InputFailure("unknown quantization type '" + s + "' (known: " + all + ")");
}

class QuantizeWorker : public Napi::AsyncWorker {
 public:
  QuantizeWorker(Napi::Env env, std::string in, std::string out, llama_model_quantize_params p)
      : Napi::AsyncWorker(env), in_(std::move(in)), out_(std::move(out)), p_(p), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      std::lock_guard<std::mutex> g(llama_lock());
      ensure_backend();
      begin_capture();
      uint32_t rc = llama_model_quantize(in_.c_str(), out_.c_str(), &p_);
      if (rc != 0) {
        std::string why = captured_errors();
        code_ = "LLAMA_INPUT";
        SetError("llama_model_quantize failed for " + in_ + (why.empty() ? "" : ": " + why));
      }
    } catch (const std::exception& e) {
      code_ = "LLAMA_INTERNAL", SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(to_js_error(Env(), code_, e.Message()).Value()); }

 private:
  std::string in_, out_, code_;
  llama_model_quantize_params p_;
  Napi::Promise::Deferred deferred_;
};

// quantize(in, out, ftypeName, {pure?, threads?}) -> Promise<void>
Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    std::string in = arg_string(info, 0, "quantize: input"), out = arg_string(info, 1, "quantize: output");
    llama_model_quantize_params p = llama_model_quantize_default_params();
    p.ftype = parse_ftype(arg_string(info, 2, "quantize: ftype"));
    p.nthread = 1;
    if (!info[3].IsUndefined()) {
      Napi::Object o = arg_object(info, 3, "quantize: options");
      p.pure = field_bool_or(o, "pure", "quantize: options.pure", p.pure);
      p.nthread = (int32_t)field_int_or(o, "threads", "quantize: options.threads", INT32_MIN, INT32_MAX, p.nthread);
    }
    auto* w = new QuantizeWorker(env, in, out, p);
    Napi::Promise pr = w->Promise();
    w->Queue();
    return pr;
  });
}

const llama_vocab* vocab_of(const std::string& path) {
  return llama_model_get_vocab(load_model(path, true, false, true));
}

// tokenize(modelPath, text, addSpecial, parseSpecial) -> Int32Array (llama_tokenize ids)
Napi::Value Tokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    std::string path = arg_string(info, 0, "tokenize: model"), text = arg_string(info, 1, "tokenize: text");
    bool addSpecial = arg_bool(info, 2, "tokenize: addSpecial"), parseSpecial = arg_bool(info, 3, "tokenize: parseSpecial");
    std::lock_guard<std::mutex> g(llama_lock());
    const llama_vocab* v = vocab_of(path);
    std::vector<llama_token> ids(text.size() + 8);
    int32_t n = llama_tokenize(v, text.data(), (int32_t)text.size(), ids.data(), (int32_t)ids.size(), addSpecial, parseSpecial);
    if (n < 0) {
      ids.resize(-n);
      n = llama_tokenize(v, text.data(), (int32_t)text.size(), ids.data(), (int32_t)ids.size(), addSpecial, parseSpecial);
    }
    if (n < 0) throw InputFailure("llama_tokenize failed");
    Napi::Int32Array a = Napi::Int32Array::New(env, n);
    if (n > 0) std::memcpy(a.Data(), ids.data(), n * sizeof(int32_t));
    return a;
  });
}

// detokenize(modelPath, ids, removeSpecial, unparseSpecial) -> string
Napi::Value Detokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    std::string path = arg_string(info, 0, "detokenize: model");
    Napi::Array arr = as_array(info[1], "detokenize: ids");
    std::vector<llama_token> ids;
    for (uint32_t i = 0; i < arr.Length(); i++)
      ids.push_back((llama_token)as_int(arr.Get(i), "detokenize: ids[i]", INT32_MIN, INT32_MAX));
    bool removeSpecial = arg_bool(info, 2, "detokenize: removeSpecial"), unparseSpecial = arg_bool(info, 3, "detokenize: unparseSpecial");
    std::lock_guard<std::mutex> g(llama_lock());
    const llama_vocab* v = vocab_of(path);
    const int32_t nv = llama_vocab_n_tokens(v);
    for (llama_token t : ids)
      if (t < 0 || t >= nv) throw InputFailure("token id " + std::to_string(t) + " is outside the vocabulary");
    std::string out(ids.size() * 16 + 16, '\0');
    int32_t n = llama_detokenize(v, ids.data(), (int32_t)ids.size(), out.data(), (int32_t)out.size(), removeSpecial, unparseSpecial);
    if (n < 0) {
      out.resize(-n);
      n = llama_detokenize(v, ids.data(), (int32_t)ids.size(), out.data(), (int32_t)out.size(), removeSpecial, unparseSpecial);
    }
    if (n < 0) throw InputFailure("llama_detokenize failed");
    out.resize(n);
    return Napi::String::New(env, out);
  });
}

}  // namespace

void init_tools(Napi::Env env, Napi::Object exports) {
  exports.Set("quantize", Napi::Function::New(env, Quantize));
  exports.Set("tokenize", Napi::Function::New(env, Tokenize));
  exports.Set("detokenize", Napi::Function::New(env, Detokenize));
}

}  // namespace rosetta_llama
