// Backend loading, log capture, model cache and the module entry point of rosetta_llama.node.
#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "bridge.h"
#include "ggml-backend.h"

namespace rosetta_llama {

std::mutex& llama_lock() {
  static std::mutex m;
  return m;
}

namespace {
std::mutex g_log_mutex;
// llama.cpp's errors and its warnings, apart: a refusal is explained by its first error, not by a
// warning logged before it (e.g. "missing pre-tokenizer type" ahead of "missing tensor ...").
std::string g_log_errors;
std::string g_log_warnings;
ggml_log_level g_log_last = GGML_LOG_LEVEL_NONE;
bool g_log_echo = false;

void log_callback(ggml_log_level level, const char* text, void*) {
  if (g_log_echo) fputs(text, stderr);
  std::lock_guard<std::mutex> g(g_log_mutex);
  if (level == GGML_LOG_LEVEL_CONT) level = g_log_last;  // the rest of the previous message
  else g_log_last = level;
  std::string* buf = level == GGML_LOG_LEVEL_ERROR ? &g_log_errors : level == GGML_LOG_LEVEL_WARN ? &g_log_warnings : nullptr;
  if (buf != nullptr && buf->size() < 16384) *buf += text;
}

BackendState g_backend;

// The CPU variants ggml ships, best first; the default pin takes the first one this CPU can run among
// the portable ones (haswell needs AVX2+FMA+F16C, present on every x86-64 CI machine of the last decade).
const char* const kDefaultOrder[] = {"haswell", "sse42", "x64"};

bool file_exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// The score ggml's loader would give a variant (0: cannot run here), without registering it.
int variant_score(const std::string& file) {
  void* h = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return 0;
  using score_t = int (*)();
  auto fn = reinterpret_cast<score_t>(dlsym(h, "ggml_backend_score"));
  int s = fn ? fn() : 0;
  dlclose(h);
  return s;
}

const char* const kAllVariants[] = {"x64",     "sse42",      "sandybridge", "ivybridge",   "piledriver",
                                    "haswell", "skylakex",   "cannonlake",  "cascadelake", "icelake",
                                    "cooperlake", "zen4",    "alderlake",   "sapphirerapids"};

std::string variant_file(const std::string& dir, const std::string& v) {
  return dir + "/libggml-cpu-" + v + ".so";
}

// Picks what `auto` (ggml_backend_load_all_from_path) picks: the highest score, first on ties.
std::string best_variant(const std::string& dir) {
  std::string best;
  int bestScore = 0;
  for (const char* v : kAllVariants) {
    std::string f = variant_file(dir, v);
    if (!file_exists(f)) continue;
    int s = variant_score(f);
    if (s > bestScore) bestScore = s, best = v;
  }
  return best;
}

void load_backend(const std::string& dir, const std::string& requested) {
  BackendState st;
  st.requested = requested;
  st.binsDir = dir;
  if (requested == "auto") {
    st.loaded = best_variant(dir);
    st.file = st.loaded.empty() ? "" : variant_file(dir, st.loaded);
    ggml_backend_load_all_from_path(dir.c_str());
  } else if (requested == "default") {
    for (const char* v : kDefaultOrder) {
      std::string f = variant_file(dir, v);
      if (file_exists(f) && variant_score(f) > 0 && ggml_backend_load(f.c_str())) {
        st.loaded = v, st.file = f;
        break;
      }
    }
  } else {
    std::string f = variant_file(dir, requested);
    if (!file_exists(f)) throw InputFailure("no CPU backend variant '" + requested + "' (" + f + " not found)");
    if (variant_score(f) == 0 || !ggml_backend_load(f.c_str()))
      throw InputFailure("the CPU backend variant '" + requested + "' cannot run on this CPU");
    st.loaded = requested, st.file = f;
  }
  if (ggml_backend_dev_count() == 0) throw InputFailure("no llama.cpp CPU backend could be loaded from " + dir);
  llama_backend_init();
  st.ready = true;
  g_backend = st;
}

// init({binsDir, backend}) -> {backend, loaded, file, systemInfo}. Once per process: the backend
// registry is global; asking for another variant later is an error.
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    Napi::Object o = arg_object(info, 0, "init: options");
    std::string dir = as_string(o.Get("binsDir"), "init: options.binsDir");
    std::string backend = as_string(o.Get("backend"), "init: options.backend");
    std::lock_guard<std::mutex> g(llama_lock());
    if (g_backend.ready) {
      if (g_backend.requested != backend)
        throw InputFailure("the llama.cpp backend is already '" + g_backend.requested + "' in this process; cannot switch to '" +
                           backend + "'");
    } else {
      load_backend(dir, backend);
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("backend", g_backend.requested);
    r.Set("loaded", g_backend.loaded);
    r.Set("file", g_backend.file);
    r.Set("systemInfo", llama_print_system_info());
    return r;
  });
}

// info() -> {tag, commit, binsDir}: the pinned llama.cpp release the bridge was built against.
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("tag", ROSETTA_LLAMA_TAG);
    r.Set("commit", ROSETTA_LLAMA_COMMIT);
    r.Set("binsDir", ROSETTA_LLAMA_BINS);
    return r;
  });
}

struct ModelKey {
  std::string path;
  bool vocabOnly, extra, mmap;
  int64_t size, mtime;
  bool operator<(const ModelKey& o) const {
    return std::tie(path, vocabOnly, extra, mmap, size, mtime) < std::tie(o.path, o.vocabOnly, o.extra, o.mmap, o.size, o.mtime);
  }
};
struct ModelFree {
  void operator()(llama_model* m) const { llama_model_free(m); }
};
std::map<ModelKey, std::unique_ptr<llama_model, ModelFree>> g_models;
}  // namespace

const BackendState& backend_state() { return g_backend; }

void ensure_backend() {
  if (!g_backend.ready) throw InputFailure("the llama.cpp backend is not initialised (call init first)");
}

void begin_capture() {
  std::lock_guard<std::mutex> g(g_log_mutex);
  g_log_errors.clear();
  g_log_warnings.clear();
  g_log_last = GGML_LOG_LEVEL_NONE;
}

std::string captured_errors() {
  std::lock_guard<std::mutex> g(g_log_mutex);
  // The first error line is llama.cpp's most specific complaint (the rest repeats it at higher levels);
  // a warning only when it logged no error at all.
  const std::string& log = g_log_errors.empty() ? g_log_warnings : g_log_errors;
  std::string s = log.substr(0, log.find('\n'));
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

llama_model* load_model(const std::string& path, bool vocabOnly, bool useExtraBufts, bool mmap) {
  ensure_backend();
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw InputFailure("cannot open model file " + path);
  ModelKey key{path, vocabOnly, useExtraBufts, mmap, (int64_t)st.st_size, (int64_t)st.st_mtime};
  auto it = g_models.find(key);
  if (it != g_models.end()) return it->second.get();
  // A small cache: tests and regen scripts load a handful of models repeatedly.
  if (g_models.size() >= 8) g_models.clear();
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  mp.vocab_only = vocabOnly;
  mp.use_extra_bufts = useExtraBufts;
  (void)mmap;  // load_mode default (mmap where possible); kept in the cache key
  begin_capture();
  llama_model* m = llama_model_load_from_file(path.c_str(), mp);
  if (!m) {
    std::string why = captured_errors();
    throw InputFailure("llama.cpp refused " + path + (why.empty() ? "" : ": " + why));
  }
  g_models[key].reset(m);
  return m;
}

Napi::Error to_js_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", code);
  return err;
}

Napi::Error to_js_error(Napi::Env env, const std::exception& e) {
  if (auto* ne = dynamic_cast<const Napi::Error*>(&e)) return *ne;
  bool input = dynamic_cast<const InputFailure*>(&e) != nullptr;
  return to_js_error(env, input ? "LLAMA_INPUT" : "LLAMA_INTERNAL", e.what());
}

}  // namespace rosetta_llama

static Napi::Object ModuleInit(Napi::Env env, Napi::Object exports) {
  using namespace rosetta_llama;
  const char* echo = std::getenv("ROSETTA_LLAMA_LOG");
  g_log_echo = echo && echo[0] == '1';
  llama_log_set(log_callback, nullptr);
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("info", Napi::Function::New(env, Info));
  init_run(env, exports);
  init_tools(env, exports);
  return exports;
}

NODE_API_MODULE(rosetta_llama, ModuleInit)
