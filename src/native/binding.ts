/**
 * The exact native surface of the kernels, mapping and ggml-reference modules (native/addon/kernels.cc,
 * mapping.cc, ggml_reference.cc). Positional, unvalidated: use src/native/kernels.ts. Other modules of
 * the same addon (e.g. ops.cc) declare their own part; RosettaAddon is this part plus whatever else the
 * .node exports.
 */
import type { Summary } from "../trace/types.js";

/** An open read-only mmap of a file. Views from mappingBytes() stay valid after close(). */
export interface NativeMapping {
  readonly size: number;
  readonly path: string;
  readonly closed: boolean;
  close(): void;
}

/** Bytes a dequantizer reads: a Mapping (zero copy) or any ArrayBuffer / view. */
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

export interface GgmlRefTraits {
  name: string;
  blockSize: number;
  typeSize: number;
  isQuantized: boolean;
  hasToFloat: boolean;
}

export interface KernelsBinding {
  Mapping: new (path: string) => NativeMapping;
  mappingBytes(mapping: NativeMapping, offset: number, length: number): Uint8Array;
  dequantize(src: ByteSource, offset: number, byteLength: number, type: number, nElements: number, out: Float32Array, outOffset?: number): void;
  stats(x: Float32Array, offset: number, count: number, stride: number): NativeStats;
  diff(a: Float32Array, b: Float32Array): NativeDiffMetrics;
  typeTraits(): NativeTypeTraits[];
  cpuFeatures(): NativeCpuFeatures;
  isa(): IsaName;
  /** Forces a path; returns its name; throws if unknown or not runnable here. */
  setIsa(name: string): IsaName;
  /** Test/bench only: llama.cpp's own to_float from a dlopened libggml-base.so. */
  ggmlRefOpen(libPath: string): string;
  ggmlRefTraits(type: number): GgmlRefTraits;
  ggmlRefToFloat(src: ByteSource, offset: number, byteLength: number, type: number, nElements: number, out: Float32Array): void;
  /** Names of the registered native modules. */
  modules: string[];
}

export type RosettaAddon = KernelsBinding & Record<string, unknown>;

// ---- engine ops (native/addon/ops.cc): typed in ops-binding.ts, owned by the engine work ----
export type { OpsBinding, RopeParamsNative, WeightSource } from "./ops-binding.js";
