// rosetta_llama.node: the llama.cpp reference bridge (see docs/llamacpp-bridge.md).
// Shared declarations between the bridge's translation units.
#pragma once
#include <napi.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "llama.h"
#include "napi_args.h"

namespace rosetta_llama {

// An error caused by the input (a model llama.cpp refuses, a bad token id, a bad option): surfaced to JS
// with code "LLAMA_INPUT" so the CLI exits 2. Any other std::exception becomes "LLAMA_INTERNAL".
struct InputFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// llama.cpp is not re-entrant across contexts sharing global state (log callback, backend registry):
// every call into it holds this lock.
std::mutex& llama_lock();

// Log capture. llama.cpp logs through one global callback; we keep the lines logged at WARN/ERROR since
// begin_capture() so a failure can quote llama.cpp's own words. ROSETTA_LLAMA_LOG=1 echoes everything.
void begin_capture();
std::string captured_errors();
// The first line logged (any level) since begin_capture() that contains `needle`, "" if none.
std::string captured_line(const std::string& needle);

// Backend loading (must precede any model load). Returns false with a message when nothing loaded.
struct BackendState {
  bool ready = false;
  std::string requested;   // "haswell", "auto", ...
  std::string loaded;      // the variant actually loaded ("haswell"; for auto, the best-scoring variant)
  std::string file;        // its file
  std::string binsDir;
};
const BackendState& backend_state();
void ensure_backend();  // throws InputFailure when init() was not called successfully

// Converts a C++ exception into a JS Error with a `code` property.
Napi::Error to_js_error(Napi::Env env, const std::exception& e);
Napi::Error to_js_error(Napi::Env env, const std::string& code, const std::string& message);

// Every export runs its body in guard(): a bad argument (napi_args.h arg_* readers) is a TypeError or
// RangeError, an InputFailure rejects with code LLAMA_INPUT, any other exception with LLAMA_INTERNAL.
using namespace rosetta_args;
template <typename F>
auto guard(Napi::Env env, F&& f) -> decltype(f()) {
  return guard_with(env, std::forward<F>(f), [&](const std::exception& e) { return to_js_error(env, e); });
}

// Loads a model (cached: the last model with the same path and options is reused). `device` empty: CPU
// only; else the name of a loaded GPU device (loadDevice) and the layers to offload to it (-1: all);
// `offload` receives llama.cpp's "offloaded N/M layers" line of that load.
llama_model* load_model(const std::string& path, bool vocabOnly, bool useExtraBufts, bool mmap, const std::string& device = "",
                        int gpuLayers = 0, std::string* offload = nullptr);
// A device of a loaded GPU backend by its ggml name ("Vulkan0"); InputFailure when none.
ggml_backend_dev_t find_device(const std::string& name);

// Module registration for the translation units.
void init_run(Napi::Env env, Napi::Object exports);
void init_tools(Napi::Env env, Napi::Object exports);

}  // namespace rosetta_llama
