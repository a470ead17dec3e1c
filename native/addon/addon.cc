// rosetta.node entry point: calls every module registered with ROSETTA_ADDON_MODULE.
#include <vector>

#include "module.h"

namespace rosetta_addon {
namespace {
std::vector<std::pair<const char*, InitFn>>& modules() {
  static std::vector<std::pair<const char*, InitFn>> m;
  return m;
}
}  // namespace

Registrar::Registrar(const char* name, InitFn fn) { modules().emplace_back(name, fn); }

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Array names = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& [name, fn] : modules()) {
    fn(env, exports);
    names.Set(i++, Napi::String::New(env, name));
  }
  exports.Set("modules", names);
  return exports;
}
}  // namespace rosetta_addon

// NODE_API_MODULE pastes its argument into an identifier, so it needs an unqualified name.
static Napi::Object RosettaInit(Napi::Env env, Napi::Object exports) { return rosetta_addon::Init(env, exports); }
NODE_API_MODULE(rosetta, RosettaInit)
