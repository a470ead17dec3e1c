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
std::string g_log_all;  // every line since begin_capture (bounded): device and offload lines are read from it

void log_callback(ggml_log_level level, const char* text, void*) {
  if (g_log_echo) fputs(text, stderr);
  std::lock_guard<std::mutex> g(g_log_mutex);
  if (g_log_all.size() < (1 << 20)) g_log_all += text;  // every line (bounded): device and offload lines
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
  std::string device;
  int gpuLayers;
  bool operator<(const ModelKey& o) const {
    return std::tie(path, vocabOnly, extra, mmap, size, mtime, device, gpuLayers) <
           std::tie(o.path, o.vocabOnly, o.extra, o.mmap, o.size, o.mtime, o.device, o.gpuLayers);
  }
};
struct ModelFree {
  void operator()(llama_model* m) const { llama_model_free(m); }
};
struct CachedModel {
  std::unique_ptr<llama_model, ModelFree> model;
  std::string offload;  // llama.cpp's "offloaded N/M layers to GPU" line of this load ("" on the CPU)
};
std::map<ModelKey, CachedModel> g_models;

// GPU backends loaded next to the CPU variant (ggml_backend_load of the package's libggml-<name>.so).
struct LoadedGpu {
  std::string file;
  ggml_backend_reg_t reg = nullptr;
  std::string log;  // the backend's own device line(s) logged while it loaded (driver, features)
};
std::map<std::string, LoadedGpu> g_gpus;

std::string device_type_name(enum ggml_backend_dev_type t) {
  switch (t) {
    case GGML_BACKEND_DEVICE_TYPE_CPU: return "cpu";
    case GGML_BACKEND_DEVICE_TYPE_GPU: return "gpu";
    case GGML_BACKEND_DEVICE_TYPE_IGPU: return "igpu";
    case GGML_BACKEND_DEVICE_TYPE_ACCEL: return "accel";
    default: return "other";
  }
}

// loadDevice({binsDir, name}) -> {file, backend, log, devices: [{index, name, description, type, memoryTotal, deviceId}]}.
// Loads libggml-<name>.so from binsDir once per process (it shares libggml-base with the CPU build of the
// same release). A backend that loads but finds no device returns an empty list; the caller says so.
Napi::Value LoadDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    Napi::Object o = arg_object(info, 0, "loadDevice: options");
    std::string dir = as_string(o.Get("binsDir"), "loadDevice: options.binsDir");
    std::string name = as_string(o.Get("name"), "loadDevice: options.name");
    std::lock_guard<std::mutex> g(llama_lock());
    ensure_backend();
    auto it = g_gpus.find(name);
    if (it == g_gpus.end()) {
      LoadedGpu lg;
      lg.file = dir + "/libggml-" + name + ".so";
      if (!file_exists(lg.file)) throw InputFailure("no llama.cpp " + name + " backend (" + lg.file + " not found)");
      begin_capture();
      lg.reg = ggml_backend_load(lg.file.c_str());
      if (!lg.reg) {
        std::string why = captured_errors();
        throw InputFailure("the llama.cpp " + name + " backend could not be loaded from " + lg.file + (why.empty() ? "" : ": " + why));
      }
      // the Vulkan backend logs its devices when they are first enumerated; ask now so the lines land here
      (void)ggml_backend_reg_dev_count(lg.reg);
      lg.log = captured_line("ggml_" + name + ": 0 =");
      it = g_gpus.emplace(name, lg).first;
    }
    const LoadedGpu& lg = it->second;
    Napi::Object r = Napi::Object::New(env);
    r.Set("file", lg.file);
    r.Set("backend", ggml_backend_reg_name(lg.reg));
    r.Set("log", lg.log);
    size_t n = ggml_backend_reg_dev_count(lg.reg);
    Napi::Array devs = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
      ggml_backend_dev_t d = ggml_backend_reg_dev_get(lg.reg, i);
      ggml_backend_dev_props p;
      ggml_backend_dev_get_props(d, &p);
      Napi::Object dj = Napi::Object::New(env);
      dj.Set("index", (double)i);
      dj.Set("name", p.name ? p.name : "");
      dj.Set("description", p.description ? p.description : "");
      dj.Set("type", device_type_name(p.type));
      dj.Set("memoryTotal", (double)p.memory_total);
      dj.Set("deviceId", p.device_id ? p.device_id : "");
      devs.Set(i, dj);
    }
    r.Set("devices", devs);
    return r;
  });
}
}  // namespace

ggml_backend_dev_t find_device(const std::string& name) {
  for (auto& [k, lg] : g_gpus) {
    size_t n = ggml_backend_reg_dev_count(lg.reg);
    for (size_t i = 0; i < n; i++) {
      ggml_backend_dev_t d = ggml_backend_reg_dev_get(lg.reg, i);
      if (name == ggml_backend_dev_name(d)) return d;
    }
  }
  throw InputFailure("no llama.cpp device named '" + name + "' is loaded");
}

const BackendState& backend_state() { return g_backend; }

void ensure_backend() {
  if (!g_backend.ready) throw InputFailure("the llama.cpp backend is not initialised (call init first)");
}

void begin_capture() {
  std::lock_guard<std::mutex> g(g_log_mutex);
  g_log_errors.clear();
  g_log_warnings.clear();
  g_log_last = GGML_LOG_LEVEL_NONE;
  g_log_all.clear();
}

std::string captured_line(const std::string& needle) {
  std::lock_guard<std::mutex> g(g_log_mutex);
  size_t at = g_log_all.find(needle);
  if (at == std::string::npos) return "";
  size_t start = g_log_all.rfind('\n', at);
  start = start == std::string::npos ? 0 : start + 1;
  size_t end = g_log_all.find('\n', at);
  std::string line = g_log_all.substr(start, end == std::string::npos ? std::string::npos : end - start);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
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

llama_model* load_model(const std::string& path, bool vocabOnly, bool useExtraBufts, bool mmap, const std::string& device,
                        int gpuLayers, std::string* offload) {
  ensure_backend();
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw InputFailure("cannot open model file " + path);
  ModelKey key{path, vocabOnly, useExtraBufts, mmap, (int64_t)st.st_size, (int64_t)st.st_mtime, device, device.empty() ? 0 : gpuLayers};
  auto it = g_models.find(key);
  if (it != g_models.end()) {
    if (offload) *offload = it->second.offload;
    return it->second.model.get();
  }
  // A small cache: tests and regen scripts load a handful of models repeatedly.
  if (g_models.size() >= 8) g_models.clear();
  llama_model_params mp = llama_model_default_params();
  // The devices are explicit: none for a CPU run (even with a GPU backend loaded in this process, so no
  // host buffer type or op offload of another device changes the CPU path), else the one named device.
  ggml_backend_dev_t devs[2] = {nullptr, nullptr};
  if (!device.empty()) devs[0] = find_device(device);
  mp.devices = devs;
  mp.n_gpu_layers = device.empty() ? 0 : gpuLayers;
  mp.vocab_only = vocabOnly;
  mp.use_extra_bufts = useExtraBufts;
  (void)mmap;  // load_mode default (mmap where possible); kept in the cache key
  begin_capture();
  llama_model* m = llama_model_load_from_file(path.c_str(), mp);
  if (!m) {
    std::string why = captured_errors();
    throw InputFailure("llama.cpp refused " + path + (why.empty() ? "" : ": " + why));
  }
  CachedModel& c = g_models[key];
  c.model.reset(m);
  c.offload = device.empty() ? "" : captured_line("offloaded ");
  if (offload) *offload = c.offload;
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
  exports.Set("loadDevice", Napi::Function::New(env, LoadDevice));
  init_run(env, exports);
  init_tools(env, exports);
  return exports;
}

NODE_API_MODULE(rosetta_llama, ModuleInit)
