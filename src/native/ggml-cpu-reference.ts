/**
 * Test-only oracle: llama.cpp's own dot products (native/addon/ggml_cpu_reference.cc), from the pinned
 * prebuilt CPU backend the bridge uses (libggml-cpu-haswell.so of @node-llama-cpp/linux-x64), dlopened
 * only when it is installed and this CPU can run it. The same per-row kernel llama.cpp runs for a
 * one-token matmul: vec_dot of the weight row and the activations as converted by from_float.
 */
import { existsSync } from "node:fs";
import path from "node:path";

import type { KernelsBinding } from "./binding.js";
import { repoRoot } from "./load.js";

/** The oracle's native surface (registered by ggml_cpu_reference.cc). */
interface GgmlCpuRefBinding {
  ggmlCpuRefOpen(libPath: string): string;
  /** out[r] = vec_dot(weight row r, from_float(x)); returns the vec_dot type's ggml id. */
  ggmlCpuRefVecDot(w: Uint8Array, type: number, nIn: number, nOut: number, x: Float32Array, out: Float32Array): number;
}

export interface GgmlCpuReference {
  /** Absolute path of the loaded library. */
  file: string;
  /** nOut outputs: weight rows (stored blocks, contiguous) times one token of activations. */
  vecDot(w: Uint8Array, type: number, nIn: number, nOut: number, x: Float32Array): Float32Array;
}

/** The library the bridge pins by default on this CPU class (backend.cc kDefaultOrder's first). */
export function ggmlCpuHaswellPath(): string {
  return path.join(repoRoot(), "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-haswell.so");
}

/** Opens the oracle, or says why it cannot (not installed, CPU without AVX2/FMA/F16C, ABI changed). */
export function openGgmlCpuReference(addon: KernelsBinding): { ok: true; ref: GgmlCpuReference } | { ok: false; reason: string } {
  const b = addon as unknown as Partial<GgmlCpuRefBinding>;
  if (typeof b.ggmlCpuRefOpen !== "function" || typeof b.ggmlCpuRefVecDot !== "function")
    return { ok: false, reason: "the addon has no ggml cpu reference module (rebuild it)" };
  const file = ggmlCpuHaswellPath();
  if (!existsSync(file)) return { ok: false, reason: `@node-llama-cpp/linux-x64 is not installed (${file} is missing)` };
  const f = addon.cpuFeatures();
  if (!(f.avx2 && f.fma && f.f16c)) return { ok: false, reason: "this CPU cannot run llama.cpp's haswell variant (needs AVX2+FMA+F16C)" };
  try {
    b.ggmlCpuRefOpen(file);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const vecDot = (w: Uint8Array, type: number, nIn: number, nOut: number, x: Float32Array): Float32Array => {
    const out = new Float32Array(nOut);
    b.ggmlCpuRefVecDot!(w, type, nIn, nOut, x, out);
    return out;
  };
  return { ok: true, ref: { file, vecDot } };
}
