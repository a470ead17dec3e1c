// The kernels addon's use of the shared argument idiom (native/common/napi_args.h): every entry point runs its
// body in guard(), so no C++ exception ever reaches N-API uncaught and the process never aborts.
#pragma once
#include <napi.h>

#include <new>

#include "napi_args.h"

namespace rosetta_addon {

using namespace rosetta_args;

template <typename F>
auto guard(Napi::Env env, F&& f) -> decltype(f()) {
  return guard_with(env, std::forward<F>(f), [&](const std::exception& e) {
    if (dynamic_cast<const std::bad_alloc*>(&e)) return Napi::Error::New(env, "rosetta native: out of memory");
    return Napi::Error::New(env, e.what());
  });
}

}  // namespace rosetta_addon
