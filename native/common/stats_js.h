// The JS shape of a kernel-library Stats (src/trace/types.ts Summary), shared by both addons so a
// summary reads the same whether rosetta's engine or the llama.cpp bridge computed it.
#pragma once
#include <napi.h>

#include "rosetta/reduce.h"

namespace rosetta_js {
inline Napi::Object stats_object(Napi::Env env, const rosetta::Stats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", (double)s.count);
  o.Set("nan", (double)s.nan);
  o.Set("inf", (double)s.inf);
  o.Set("zeros", (double)s.zeros);
  o.Set("mean", s.mean);
  o.Set("std", s.std);
  o.Set("min", s.min);
  o.Set("max", s.max);
  o.Set("absmax", s.absmax);
  o.Set("l2", s.l2);
  return o;
}
}  // namespace rosetta_js
