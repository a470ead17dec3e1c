/**
 * The llama.cpp reference bridge addon (native/llama/*.cc -> build/Release/rosetta_llama.node): the type
 * of every function it exports, in one interface, and its loader. Positional and unvalidated: code uses
 * loadLlamaBridge() of src/bindings/llama.ts, which checks the pinned packages, initialises a backend
 * and maps native rejections to rosetta errors. See docs/llamacpp-bridge.md.
 *
 * Errors: a bad argument is a TypeError/RangeError (native/common/napi_args.h); an input llama.cpp refuses
 * rejects with code "LLAMA_INPUT", anything else with "LLAMA_INTERNAL".
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";

import type { Summary } from "../trace/types.js";
import { MissingComponentError } from "../util/errors.js";
import { builtAddonPath } from "./paths.js";

/** The native stats object (native/common/stats_js.h): a trace Summary. */
export type StatsJs = Summary;

export interface NativePoint {
  point: string;
  layer: number | null;
  step: number;
  shape: number[];
  firstPos: number;
  tokens: number;
  all: StatsJs;
  last: StatsJs;
  source: { name: string; occurrence: number; op: string; type: string; ne: number[]; weight?: string };
  data?: Float32Array;
}

export interface NativeRunResult {
  model: {
    arch: string;
    desc: string;
    ftype: string;
    nLayer: number;
    nEmbd: number;
    nHead: number;
    nHeadKv: number;
    nVocab: number;
    nCtxTrain: number;
    addBos: boolean;
    /** llama_model_rope_type: -1 none, 0 NORM, 2 NEOX, 8 MROPE, ... */
    ropeType: number;
    ropeFreqScaleTrain: number;
    /** The file's scalar metadata as llama.cpp loaded it (keys from llama_model_meta_*; values typed, floats exact). */
    metadata: Record<string, string | number | boolean>;
    /** Tensor names in the file (which optional tensors exist: output, biases, q/k norms, rope_freqs). */
    tensorNames: string[];
  };
  points: NativePoint[];
  logits: Float32Array; // [positions, vocab]
  generated: number[];
  errors: string[];
  nCtx: number;
  nBatch: number;
  nUbatch: number;
  /** llama.cpp's "offloaded N/M layers to GPU" line of the model load ("" on the CPU). */
  offload: string;
  /** The GPU device's description ("" on the CPU). */
  deviceDescription: string;
  askCalls: number;
  dataCalls: number;
  /** Wall time inside llama_decode, every step; promptMs: the prompt's (step 0) calls alone. */
  decodeMs: number;
  promptMs: number;
}

export interface NativeRunOptions {
  model: string;
  tokens: number[];
  gen?: number;
  /** Teacher forcing: decode step s consumes forced[s] instead of the greedy choice (the trace's `generated`). */
  forced?: number[];
  threads?: number;
  useExtraBufts?: boolean;
  callback?: boolean;
  /** Logits of each decode call's last position only (as llama.cpp's own tools ask): `logits` is one row per call. */
  lastLogits?: boolean;
  observeAll?: boolean;
  points?: boolean;
  full?: string[];
  /** A loaded GPU device's name (loadDevice: "Vulkan0"); absent: CPU only. */
  device?: string;
  /** Layers offloaded to `device` (-1: all, and the output layer). */
  gpuLayers?: number;
  flashAttn?: boolean;
  /** KV cache types by ggml name: f32 (default), f16, bf16, q8_0, q4_0, ... */
  typeK?: string;
  typeV?: string;
  /** 0 / absent: the prompt as one ubatch (n_ctx rounded up to 256). */
  nBatch?: number;
  nUbatch?: number;
}

export interface NativeDevice {
  index: number;
  name: string;
  description: string;
  type: string;
  memoryTotal: number;
  deviceId: string;
}

export interface NativeGpuBackend {
  file: string;
  backend: string;
  /** The backend's own line about device 0 (driver, fp16, warp size, ...), "" if it logged none. */
  log: string;
  devices: NativeDevice[];
}

/** Every export of rosetta_llama.node (native/llama: backend.cc, run.cc, tools.cc). */
export interface LlamaAddon {
  // backend.cc
  /** The pinned llama.cpp release the bridge was built against. */
  info(): { tag: string; commit: string; binsDir: string };
  /** Loads a CPU backend variant (once per process; asking for another later throws LLAMA_INPUT). */
  init(o: { binsDir: string; backend: string }): { backend: string; loaded: string; file: string; systemInfo: string };
  /** Loads libggml-<name>.so from binsDir next to the CPU variant (once per process) and lists its devices. */
  loadDevice(o: { binsDir: string; name: string }): NativeGpuBackend;
  // run.cc
  run(o: NativeRunOptions): Promise<NativeRunResult>;
  // tools.cc
  quantize(input: string, output: string, ftype: string, o?: { pure?: boolean; threads?: number }): Promise<void>;
  tokenize(model: string, text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array;
  detokenize(model: string, ids: number[], removeSpecial: boolean, unparseSpecial: boolean): string;
}

/** Absolute path of the bridge addon this process loads (whether or not it exists). */
export function llamaAddonPath(): string {
  return builtAddonPath("rosetta_llama.node");
}

/** The bridge addon, required (not initialised); MissingComponentError if it is not built. */
export function loadLlamaAddon(): LlamaAddon {
  const file = llamaAddonPath();
  if (!existsSync(file))
    throw new MissingComponentError(`the llama.cpp bridge is not built (${file} is missing); run \`npm run build:native\``);
  return createRequire(import.meta.url)(file) as LlamaAddon;
}
