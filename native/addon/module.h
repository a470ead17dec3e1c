// Each native/addon/*.cc file registers its exports with ROSETTA_ADDON_MODULE, so the files stay
// independent and addon.cc never needs editing when a module is added.
#pragma once
#include <napi.h>

namespace rosetta_addon {
using InitFn = void (*)(Napi::Env env, Napi::Object exports);
struct Registrar {
  Registrar(const char* name, InitFn fn);
};
}  // namespace rosetta_addon

#define ROSETTA_ADDON_MODULE(id, fn) static ::rosetta_addon::Registrar rosetta_registrar_##id(#id, fn)
