// run(): one traced forward pass (prompt as one batch, logits at every position) plus optional greedy
// decode steps, on a worker thread (Napi::AsyncWorker) so the JS thread stays free.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

#include "stats_js.h"
#include "bridge.h"
#include "capture.h"
#include "gguf.h"

namespace rosetta_llama {

namespace {

struct RunOptions {
  std::string model;
  std::vector<int32_t> tokens;
  int gen = 0;
  // teacher forcing: decode step s consumes forced[s] (when given) instead of the greedy choice
  std::vector<int32_t> forced;
  int threads = 1;
  bool useExtraBufts = true;
  bool callback = true;  // false: no cb_eval at all (tests compare logits with and without)
  // true: logits of each batch's last position only (what llama.cpp's own tools ask for; bench:engine),
  // so the last layer is cut to that row and `logits` holds one row per decode call
  bool lastLogits = false;
  CaptureOptions capture;
  // Run conditions (docs/llamacpp-bridge.md): device "" = CPU only, else a loaded GPU device's name.
  std::string device;
  int gpuLayers = -1;       // layers offloaded to `device` (-1: all, and the output layer)
  bool flashAttn = false;
  std::string typeK = "f32", typeV = "f32";
  int nBatch = 0, nUbatch = 0;  // 0: the prompt as one ubatch (tokens rounded up to 256)
};

// One scalar metadata entry as llama.cpp loaded it (arrays are not kept by llama.cpp).
struct MetaEntry {
  std::string key;
  enum Kind { kString, kNumber, kBool } kind = kString;
  std::string str;
  double num = 0;
  bool flag = false;
};

struct ModelInfo {
  std::string arch, desc, ftype;
  int nLayer = 0, nEmbd = 0, nHead = 0, nHeadKv = 0, nVocab = 0, nCtxTrain = 0;
  int ropeType = -1;  // llama_model_rope_type: -1 none, 0 norm, 2 neox, ...
  double ropeFreqScaleTrain = 1;
  bool addBos = false;
  std::vector<MetaEntry> meta;
  std::vector<std::string> tensorNames;  // which tensors the file holds (tied output, biases, q/k norms)
};

struct RunResult {
  ModelInfo model;
  std::vector<CapturedPoint> points;
  std::vector<float> logits;  // [positions, vocab]
  std::vector<int32_t> generated;
  std::vector<std::string> errors;
  int nCtx = 0, nBatch = 0, nUbatch = 0, askCalls = 0, dataCalls = 0;
  double decodeMs = 0;  // every llama_decode call, the prompt's included
  double promptMs = 0;  // the prompt's (step 0) llama_decode calls alone
  std::string offload;         // llama.cpp's "offloaded N/M layers to GPU" line
  std::string deviceDesc;      // the device's description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)")
};

ggml_type kv_type(const std::string& s) {
  for (ggml_type t : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_IQ4_NL})
    if (s == ggml_type_name(t)) return t;
  throw InputFailure("unsupported KV cache type '" + s + "' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl)");
}

std::string meta(const llama_model* m, const char* key) {
  char buf[256];
  int n = llama_model_meta_val_str(m, key, buf, sizeof buf);
  return n < 0 ? "" : std::string(buf);
}

ModelInfo describe(const llama_model* m) {
  ModelInfo i;
  i.arch = meta(m, "general.architecture");
  char buf[256];
  if (llama_model_desc(m, buf, sizeof buf) > 0) i.desc = buf;
  i.ftype = llama_ftype_name(llama_model_ftype(m));
  i.nLayer = llama_model_n_layer(m);
  i.nEmbd = llama_model_n_embd(m);
  i.nHead = llama_model_n_head(m);
  i.nHeadKv = llama_model_n_head_kv(m);
  i.nCtxTrain = llama_model_n_ctx_train(m);
  const llama_vocab* v = llama_model_get_vocab(m);
  i.nVocab = llama_vocab_n_tokens(v);
  i.addBos = llama_vocab_get_add_bos(v);
  i.ropeType = (int)llama_model_rope_type(m);
  i.ropeFreqScaleTrain = llama_model_rope_freq_scale_train(m);
  return i;
}

// The file's scalar metadata as llama.cpp loaded it: the keys from llama_model_meta_* (what llama.cpp kept).
// That API prints floats with std::to_string (6 decimals: eps 1e-7 reads "0.000000"), so values are re-read
// typed from the same file with ggml's gguf reader (metadata only, no tensor data), which also lists the
// tensor names. Without the gguf read (it cannot fail after llama.cpp loaded the file, but still) the
// strings are kept as llama.cpp printed them.
void read_metadata(const llama_model* m, const std::string& path, ModelInfo& info) {
  gguf_init_params gp = {true, nullptr};
  gguf_context* g = gguf_init_from_file(path.c_str(), gp);
  std::unique_ptr<gguf_context, void (*)(gguf_context*)> guard(g, [](gguf_context* c) { if (c) gguf_free(c); });
  const int n = llama_model_meta_count(m);
  std::vector<char> buf(1 << 16);
  for (int i = 0; i < n; i++) {
    MetaEntry e;
    if (llama_model_meta_key_by_index(m, i, buf.data(), buf.size()) < 0) continue;
    e.key = buf.data();
    int len = llama_model_meta_val_str_by_index(m, i, buf.data(), buf.size());
    if (len < 0) continue;
    e.str = std::string(buf.data(), std::min<size_t>((size_t)len, buf.size() - 1));
    const int64_t id = g ? gguf_find_key(g, e.key.c_str()) : -1;
    if (id >= 0) {
      switch (gguf_get_kv_type(g, id)) {
        case GGUF_TYPE_FLOAT32: e.kind = MetaEntry::kNumber, e.num = gguf_get_val_f32(g, id); break;
        case GGUF_TYPE_FLOAT64: e.kind = MetaEntry::kNumber, e.num = gguf_get_val_f64(g, id); break;
        case GGUF_TYPE_UINT8: e.kind = MetaEntry::kNumber, e.num = gguf_get_val_u8(g, id); break;
        case GGUF_TYPE_INT8: e.kind = MetaEntry::kNumber, e.num = gguf_get_val_i8(g, id); break;
        case GGUF_TYPE_UINT16: e.kind = MetaEntry::kNumber, e.num = gguf_get_val_u16(g, id); break;
        case GGUF_TYPE_INT16: e.kind = MetaEntry::kNumber, e.num = gguf_get_val_i16(g, id); break;
        case GGUF_TYPE_UINT32: e.kind = MetaEntry::kNumber, e.num = gguf_get_val_u32(g, id); break;
        case GGUF_TYPE_INT32: e.kind = MetaEntry::kNumber, e.num = gguf_get_val_i32(g, id); break;
        case GGUF_TYPE_UINT64: e.kind = MetaEntry::kNumber, e.num = (double)gguf_get_val_u64(g, id); break;
        case GGUF_TYPE_INT64: e.kind = MetaEntry::kNumber, e.num = (double)gguf_get_val_i64(g, id); break;
        case GGUF_TYPE_BOOL: e.kind = MetaEntry::kBool, e.flag = gguf_get_val_bool(g, id); break;
        default: break;  // strings: llama.cpp's copy is exact
      }
    }
    info.meta.push_back(std::move(e));
  }
  if (g)
    for (int64_t t = 0; t < gguf_get_n_tensors(g); t++) info.tensorNames.push_back(gguf_get_tensor_name(g, t));
}

struct CtxFree {
  void operator()(llama_context* c) const { llama_free(c); }
};

void decode(llama_context* ctx, Capture* cap, const std::vector<int32_t>& toks, int pos0, int step, RunResult& r,
            int nVocab, bool lastOnly) {
  const int n = (int)toks.size();
  if (cap) cap->begin_step(step, pos0, n);
  // The step's tokens in batches of n_batch (llama_decode splits each into ubatches of n_ubatch).
  for (int c0 = 0; c0 < n; c0 += r.nBatch) {
    const int m = std::min(r.nBatch, n - c0);
    llama_batch b = llama_batch_init(m, 0, 1);
    std::unique_ptr<llama_batch, void (*)(llama_batch*)> guard(&b, [](llama_batch* p) { llama_batch_free(*p); });
    for (int i = 0; i < m; i++) {
      b.token[i] = toks[c0 + i];
      b.pos[i] = pos0 + c0 + i;
      b.n_seq_id[i] = 1;
      b.seq_id[i][0] = 0;
      b.logits[i] = !lastOnly || c0 + i == n - 1;  // every position (unless lastOnly): else the last layer is cut to the output rows
    }
    b.n_tokens = m;
    begin_capture();
    auto t0 = std::chrono::steady_clock::now();
    int32_t rc = llama_decode(ctx, b);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    r.decodeMs += ms;
    if (step == 0) r.promptMs += ms;
    if (rc != 0) {
      std::string why = captured_errors();
      throw InputFailure("llama_decode failed (" + std::to_string(rc) + ")" + (why.empty() ? "" : ": " + why));
    }
    for (int i = 0; i < m; i++) {
      if (lastOnly && c0 + i != n - 1) continue;
      const float* l = llama_get_logits_ith(ctx, i);
      if (!l) throw std::runtime_error("llama.cpp returned no logits for position " + std::to_string(pos0 + c0 + i));
      r.logits.insert(r.logits.end(), l, l + nVocab);
    }
  }
  if (cap) cap->end_step();
}

int32_t argmax(const float* x, int n) {
  int32_t best = 0;  // first index on ties
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

void execute(const RunOptions& o, RunResult& r) {
  std::lock_guard<std::mutex> g(llama_lock());
  llama_model* m = load_model(o.model, false, o.useExtraBufts, true, o.device, o.gpuLayers, &r.offload);
  if (!o.device.empty()) r.deviceDesc = ggml_backend_dev_description(find_device(o.device));
  r.model = describe(m);
  read_metadata(m, o.model, r.model);
  const int T = (int)o.tokens.size();
  if (T == 0) throw InputFailure("the prompt has no tokens");
  for (int32_t t : o.tokens)
    if (t < 0 || t >= r.model.nVocab)
      throw InputFailure("token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(r.model.nVocab - 1) + ")");
  // One ubatch for the prompt, a context that is a multiple of the KV padding (256): the graph shape, and
  // so the numerics, depend only on the token count.
  const int need = T + o.gen;
  r.nCtx = ((need + 255) / 256) * 256;
  r.nBatch = o.nBatch > 0 ? o.nBatch : r.nCtx;
  r.nUbatch = o.nUbatch > 0 ? std::min(o.nUbatch, r.nBatch) : r.nBatch;
  std::unique_ptr<Capture> cap(o.callback ? new Capture(o.capture) : nullptr);
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = r.nCtx;
  cp.n_batch = r.nBatch;
  cp.n_ubatch = r.nUbatch;
  cp.n_seq_max = 1;
  cp.n_threads = o.threads;
  cp.n_threads_batch = o.threads;
  cp.flash_attn_type = o.flashAttn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.type_k = kv_type(o.typeK);
  cp.type_v = kv_type(o.typeV);
  cp.no_perf = true;
  if (cap) {
    cp.cb_eval = capture_eval_callback;
    cp.cb_eval_user_data = cap.get();
  }
  begin_capture();
  std::unique_ptr<llama_context, CtxFree> ctx(llama_init_from_model(m, cp));
  if (!ctx) {
    std::string why = captured_errors();
    throw InputFailure("llama.cpp could not create a context" + (why.empty() ? "" : ": " + why));
  }
  decode(ctx.get(), cap.get(), o.tokens, 0, 0, r, r.model.nVocab, o.lastLogits);
  for (int32_t t : o.forced)
    if (t < 0 || t >= r.model.nVocab)
      throw InputFailure("forced token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(r.model.nVocab - 1) + ")");
  for (int s = 0; s < o.gen; s++) {
    const float* last = r.logits.data() + (r.logits.size() - r.model.nVocab);
    int32_t next = s < (int)o.forced.size() ? o.forced[s] : argmax(last, r.model.nVocab);
    r.generated.push_back(next);
    decode(ctx.get(), cap.get(), {next}, T + s, s + 1, r, r.model.nVocab, o.lastLogits);
  }
  if (cap) {
    r.points = std::move(cap->points);
    r.errors = std::move(cap->errors);
    r.askCalls = cap->askCalls;
    r.dataCalls = cap->dataCalls;
  }
}

Napi::Float32Array floats(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

Napi::Object point_js(Napi::Env env, const CapturedPoint& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("point", p.point);
  o.Set("layer", p.layer < 0 ? env.Null() : Napi::Number::New(env, p.layer));
  o.Set("step", p.step);
  Napi::Array shape = Napi::Array::New(env, p.shape.size());
  for (size_t i = 0; i < p.shape.size(); i++) shape.Set(i, (double)p.shape[i]);
  o.Set("shape", shape);
  o.Set("firstPos", p.firstPos);
  o.Set("tokens", p.tokens);
  o.Set("all", rosetta_js::stats_object(env, p.all));
  o.Set("last", rosetta_js::stats_object(env, p.last));
  Napi::Object src = Napi::Object::New(env);
  src.Set("name", p.source.name);
  src.Set("occurrence", p.source.occurrence);
  src.Set("op", p.source.op);
  src.Set("type", p.source.type);
  Napi::Array ne = Napi::Array::New(env, p.source.ne.size());
  for (size_t i = 0; i < p.source.ne.size(); i++) ne.Set(i, (double)p.source.ne[i]);
  src.Set("ne", ne);
  if (!p.source.weight.empty()) src.Set("weight", p.source.weight);
  o.Set("source", src);
  if (!p.data.empty()) o.Set("data", floats(env, p.data));
  return o;
}

class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, RunOptions o) : Napi::AsyncWorker(env), opts_(std::move(o)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      execute(opts_, r_);
    } catch (const InputFailure& e) {
      code_ = "LLAMA_INPUT", SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "LLAMA_INTERNAL", SetError(e.what());
    } catch (...) {
      code_ = "LLAMA_INTERNAL", SetError("unknown native error");
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(result_js(env));
    } catch (const std::exception& e) {
      deferred_.Reject(to_js_error(env, e).Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(to_js_error(Env(), code_, e.Message()).Value()); }

 private:
  Napi::Object result_js(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    Napi::Object m = Napi::Object::New(env);
    m.Set("arch", r_.model.arch);
    m.Set("desc", r_.model.desc);
    m.Set("ftype", r_.model.ftype);
    m.Set("nLayer", r_.model.nLayer);
    m.Set("nEmbd", r_.model.nEmbd);
    m.Set("nHead", r_.model.nHead);
    m.Set("nHeadKv", r_.model.nHeadKv);
    m.Set("nVocab", r_.model.nVocab);
    m.Set("nCtxTrain", r_.model.nCtxTrain);
    m.Set("addBos", r_.model.addBos);
    m.Set("ropeType", r_.model.ropeType);
    m.Set("ropeFreqScaleTrain", r_.model.ropeFreqScaleTrain);
    Napi::Object meta = Napi::Object::New(env);
    for (const MetaEntry& e : r_.model.meta) {
      if (e.kind == MetaEntry::kNumber) meta.Set(e.key, e.num);
      else if (e.kind == MetaEntry::kBool) meta.Set(e.key, e.flag);
      else meta.Set(e.key, e.str);
    }
    m.Set("metadata", meta);
    Napi::Array names = Napi::Array::New(env, r_.model.tensorNames.size());
    for (size_t i = 0; i < r_.model.tensorNames.size(); i++) names.Set(i, r_.model.tensorNames[i]);
    m.Set("tensorNames", names);
    o.Set("model", m);
    Napi::Array pts = Napi::Array::New(env, r_.points.size());
    for (size_t i = 0; i < r_.points.size(); i++) pts.Set(i, point_js(env, r_.points[i]));
    o.Set("points", pts);
    o.Set("logits", floats(env, r_.logits));
    Napi::Array gen = Napi::Array::New(env, r_.generated.size());
    for (size_t i = 0; i < r_.generated.size(); i++) gen.Set(i, r_.generated[i]);
    o.Set("generated", gen);
    Napi::Array errs = Napi::Array::New(env, r_.errors.size());
    for (size_t i = 0; i < r_.errors.size(); i++) errs.Set(i, r_.errors[i]);
    o.Set("errors", errs);
    o.Set("nCtx", r_.nCtx);
    o.Set("nBatch", r_.nBatch);
    o.Set("nUbatch", r_.nUbatch);
    o.Set("offload", r_.offload);
    o.Set("deviceDescription", r_.deviceDesc);
    o.Set("askCalls", r_.askCalls);
    o.Set("dataCalls", r_.dataCalls);
    o.Set("decodeMs", r_.decodeMs);
    o.Set("promptMs", r_.promptMs);
    return o;
  }
  RunOptions opts_;
  RunResult r_;
  std::string code_;
  Napi::Promise::Deferred deferred_;
};

// An optional array of strings (absent = empty).
std::vector<std::string> strings(const Napi::Object& o, const char* key, const char* name) {
  std::vector<std::string> out;
  if (!has_field(o, key)) return out;
  Napi::Array a = as_array(o.Get(key), name);
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(as_string(a.Get(i), name));
  return out;
}

RunOptions parse(const Napi::Object& o) {
  RunOptions r;
  r.model = as_string(o.Get("model"), "run: options.model");
  Napi::Array toks = as_array(o.Get("tokens"), "run: options.tokens");
  for (uint32_t i = 0; i < toks.Length(); i++)
    r.tokens.push_back((int32_t)as_int(toks.Get(i), "run: options.tokens[i]", INT32_MIN, INT32_MAX));
  r.gen = (int32_t)field_int_or(o, "gen", "run: options.gen", INT32_MIN, INT32_MAX, r.gen);
  if (has_field(o, "forced")) {
    Napi::Array f = as_array(o.Get("forced"), "run: options.forced");
    for (uint32_t i = 0; i < f.Length(); i++)
      r.forced.push_back((int32_t)as_int(f.Get(i), "run: options.forced[i]", INT32_MIN, INT32_MAX));
  }
  r.threads = (int32_t)field_int_or(o, "threads", "run: options.threads", INT32_MIN, INT32_MAX, r.threads);
  r.useExtraBufts = field_bool_or(o, "useExtraBufts", "run: options.useExtraBufts", r.useExtraBufts);
  r.callback = field_bool_or(o, "callback", "run: options.callback", r.callback);
  r.lastLogits = field_bool_or(o, "lastLogits", "run: options.lastLogits", r.lastLogits);
  r.capture.observeAll = field_bool_or(o, "observeAll", "run: options.observeAll", r.capture.observeAll);
  r.capture.points = field_bool_or(o, "points", "run: options.points", r.capture.points);
  r.capture.fullFilter = strings(o, "full", "run: options.full");
  if (has_field(o, "device")) r.device = as_string(o.Get("device"), "run: options.device");
  r.gpuLayers = (int32_t)field_int_or(o, "gpuLayers", "run: options.gpuLayers", -1, 100000, r.gpuLayers);
  r.flashAttn = field_bool_or(o, "flashAttn", "run: options.flashAttn", r.flashAttn);
  if (has_field(o, "typeK")) r.typeK = as_string(o.Get("typeK"), "run: options.typeK");
  if (has_field(o, "typeV")) r.typeV = as_string(o.Get("typeV"), "run: options.typeV");
  r.nBatch = (int32_t)field_int_or(o, "nBatch", "run: options.nBatch", 0, 1 << 20, r.nBatch);
  r.nUbatch = (int32_t)field_int_or(o, "nUbatch", "run: options.nUbatch", 0, 1 << 20, r.nUbatch);
  if (r.gen < 0 || r.gen > 4096) throw InputFailure("gen must be in 0..4096");
  if (r.threads < 1 || r.threads > 256) throw InputFailure("threads must be in 1..256");
  return r;
}

// run(options) -> Promise<result>: options are checked synchronously (throws), llama.cpp work rejects.
Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto* w = new RunWorker(env, parse(arg_object(info, 0, "run: options")));
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  });
}

}  // namespace

void init_run(Napi::Env env, Napi::Object exports) { exports.Set("run", Napi::Function::New(env, Run)); }

}  // namespace rosetta_llama
