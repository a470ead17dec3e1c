/**
 * The kernels addon (native/addon/*.cc -> build/Release/rosetta.node): the type of every function it
 * exports, in one interface, and its loader. Positional and unvalidated, exactly as the C++ takes them
 * (each .cc file checks its arguments with native/common/napi_args.h); code calls the validated wrappers of
 * src/bindings/kernels.ts instead. Tests and benches that probe the C++ checks use loadKernelsAddon().
 *
 * The addon is loaded from `${ROSETTA_BUILD_DIR ?? "build"}/Release/rosetta.node` relative to the
 * repository root, found from this file's location so it works from src/ (vitest) and from dist/src/.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";

import type { Summary } from "../trace/types.js";
import { MissingComponentError } from "../util/errors.js";
import { builtAddonPath } from "./paths.js";

// ---- values the addon takes and returns ----

/** An open read-only mmap of a file (mapping.cc). Views from mappingBytes() stay valid after close(). */
export interface NativeMapping {
  readonly size: number;
  readonly path: string;
  readonly closed: boolean;
  close(): void;
}

/** Bytes the addon reads (weights, quantized blocks): a Mapping (zero copy) or any ArrayBuffer / view. */
export type ByteSource = NativeMapping | ArrayBuffer | ArrayBufferView;

/** kernels/include/rosetta/reduce.h `Stats`: the same shape as a trace Summary (docs/metrics.md). */
export type NativeStats = Summary;

/** kernels/include/rosetta/reduce.h `DiffMetrics` (definitions: docs/metrics.md). */
export interface NativeDiffMetrics {
  count: number;
  nonfinite: number;
  nonfiniteMismatch: number;
  maxAbs: number;
  maxAbsIndex: number;
  meanAbs: number;
  nmseEnergy: number;
  nmseVariance: number;
  sqnrDb: number;
  cosine: number;
}

/** One row of the traits table (kernels/types.cpp). */
export interface NativeTypeTraits {
  id: number;
  name: string;
  blockSize: number;
  typeSize: number;
  supported: boolean;
  /** Bytes before the first block (APR_Q8's per-tensor scale); 0 for block formats. */
  headerBytes: number;
}

export type IsaName = "scalar" | "avx2" | "avx512";

export interface NativeCpuFeatures {
  avx2: boolean;
  fma: boolean;
  f16c: boolean;
  bmi2: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512vl: boolean;
  avx512dq: boolean;
  avx512vnni: boolean;
  avx512bf16: boolean;
  /** ISA paths this CPU can run, lowest first. */
  isas: IsaName[];
  best: IsaName;
}

/** ggml_reference.cc: llama.cpp's own traits of a type. */
export interface GgmlRefTraits {
  name: string;
  blockSize: number;
  typeSize: number;
  isQuantized: boolean;
  hasToFloat: boolean;
}

/** Engine numerics as the addon takes them: 0 = ggml, 1 = exact. */
export type NumericsMode = 0 | 1;

/** opsRope's parameter object (ops.cc Rope). */
export interface RopeParamsNative {
  nDims: number;
  neox: boolean;
  freqBase: number;
  freqScale: number;
  extFactor: number;
  attnFactor: number;
  betaFast: number;
  betaSlow: number;
  nCtxOrig: number;
  freqFactors?: Float32Array;
  mode: NumericsMode;
}

// ---- the addon: every export of rosetta.node, by the .cc file that registers it ----

export interface KernelsAddon {
  /** Names of the registered native modules (addon.cc). */
  modules: string[];

  // mapping.cc
  Mapping: new (path: string) => NativeMapping;
  mappingBytes(mapping: NativeMapping, offset: number, length: number): Uint8Array;

  // kernels.cc
  dequantize(src: ByteSource, offset: number, byteLength: number, type: number, nElements: number, out: Float32Array, outOffset?: number): void;
  stats(x: Float32Array, offset: number, count: number, stride: number): NativeStats;
  diff(a: Float32Array, b: Float32Array): NativeDiffMetrics;
  typeTraits(): NativeTypeTraits[];
  cpuFeatures(): NativeCpuFeatures;
  isa(): IsaName;
  /** Forces a path; returns its name; throws if unknown or not runnable here. */
  setIsa(name: string): IsaName;
  /** The current path's peak int8 multiply-accumulate rate, MACs/s over `threads` threads (kernels/peak.cpp; 0 on scalar). */
  int8PeakMacs(threads: number, ms: number): number;
  /** Memory read bandwidth, bytes/s over `threads` threads each reading its own buffer (kernels/peak.cpp). */
  memoryReadBandwidth(threads: number, bytesPerThread: number, passes: number): number;

  // ops.cc (the engine kernels)
  opsMatmul(w: ByteSource, wOffset: number, type: number, nOut: number, nIn: number, x: Float32Array, y: Float32Array, nTok: number, mode: NumericsMode, rowBytes?: number, bias?: Float32Array | null): void;
  /** What a ggml-mode matmul with weights of `type` sees of x: its quantize-then-dequantize; returns the vec_dot type's name. */
  opsActRound(type: number, x: Float32Array, out: Float32Array, n: number): string;
  opsRmsNorm(x: Float32Array, w: Float32Array | null, y: Float32Array, nRows: number, n: number, eps: number, mode: NumericsMode): void;
  opsRope(x: Float32Array, nTok: number, nHeads: number, headDim: number, pos: Int32Array, params: RopeParamsNative): void;
  opsAttention(
    q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, probs: Float32Array | null,
    nTok: number, nPast: number, nHead: number, nHeadKv: number, headDim: number, scale: number, mode: NumericsMode, kvStride?: number,
  ): void;
  opsSwiglu(g: Float32Array, u: Float32Array, y: Float32Array, n: number, mode: NumericsMode, rowLen?: number): void;
  opsSoftmaxRows(x: Float32Array, nRows: number, n: number, mode: NumericsMode): void;
  opsAdd(a: Float32Array, b: Float32Array, y: Float32Array, n: number, rowLen?: number, broadcast?: boolean): void;
  opsSetThreads(n: number): number;
  opsGetThreads(): number;
  opsRowBytes(type: number, nIn: number): number;
  /** 10 numbers per range, in Summary field order (count, nan, inf, zeros, mean, std, min, max, absmax, l2). */
  opsStatsMany(xs: Float32Array[], ranges: Float64Array): Float64Array;

  // apr_ops.cc
  /** Row `row` of a stored [nRows, nIn] matrix (rowBytes 0 = packed rows) dequantized into out[0..nIn). */
  opsGetRow(w: ByteSource, wOffset: number, type: number, nRows: number, nIn: number, rowBytes: number, row: number, out: Float32Array): void;

  // ggml_reference.cc (test/bench only): llama.cpp's own to_float from a dlopened libggml-base.so
  ggmlRefOpen(libPath: string): string;
  ggmlRefTraits(type: number): GgmlRefTraits;
  ggmlRefToFloat(src: ByteSource, offset: number, byteLength: number, type: number, nElements: number, out: Float32Array): void;

  // ggml_cpu_reference.cc (test only): llama.cpp's own vec_dot from the dlopened CPU backend
  ggmlCpuRefOpen(libPath: string): string;
  /** out[r] = vec_dot(weight row r, from_float(x)); returns the vec_dot type's ggml id. */
  ggmlCpuRefVecDot(w: ByteSource, type: number, nIn: number, nOut: number, x: Float32Array, out: Float32Array): number;
}

// ---- the loader ----

let cached: KernelsAddon | null = null;

/** Absolute path of the addon this process loads (whether or not it exists). */
export function addonPath(): string {
  return builtAddonPath("rosetta.node");
}

/** The kernels addon, loaded once. Throws MissingComponentError with build instructions if absent. */
export function loadKernelsAddon(): KernelsAddon {
  if (cached) return cached;
  const file = addonPath();
  if (!existsSync(file)) {
    throw new MissingComponentError(
      [
        `rosetta's native addon is not built: ${file} does not exist.`,
        `  Build it with \`npm run build:native\` (needs cmake >= 3.18 and a C++17 compiler; ${process.platform}-${process.arch}, node ${process.versions.node}).`,
        process.env.ROSETTA_BUILD_DIR
          ? `  ROSETTA_BUILD_DIR=${process.env.ROSETTA_BUILD_DIR} is set: build with the same variable.`
          : `  (ROSETTA_BUILD_DIR picks another build folder; it is unset, so build/ is used.)`,
      ].join("\n"),
    );
  }
  try {
    cached = createRequire(import.meta.url)(file) as KernelsAddon;
  } catch (e) {
    throw new MissingComponentError(
      `rosetta's native addon ${file} failed to load: ${(e as Error).message}\n` +
        `  Rebuild it with \`npm run build:native\` (${process.platform}-${process.arch}, node ${process.versions.node}).`,
    );
  }
  return cached;
}
