/**
 * The trace: what a runner (rosetta's engine, llama.cpp through the bridge, or another engine writing the
 * documented format) records for one model and one input. The comparator reads traces, never runners.
 * On disk: `<name>.trace.json` (this structure) plus, when full tensors were captured, a safetensors file
 * beside it (`tensors` below). Format documentation: docs/trace-format.md. Capture points:
 * docs/capture-points.md.
 */

export const TRACE_FORMAT = "rosetta-trace";
export const TRACE_FORMAT_VERSION = 1;

/** Canonical capture points, in forward order. Per-layer points are keyed `blk.<i>.<point>`. */
export const GLOBAL_POINTS_BEFORE = ["embd"] as const;
export const LAYER_POINTS = [
  "attn_norm",
  "q",
  "k",
  "v",
  "q_rope",
  "k_rope",
  "kq_softmax",
  "attn",
  "attn_out",
  "ffn_inp",
  "ffn_norm",
  "ffn_gate",
  "ffn_up",
  "ffn_act",
  "ffn_out",
  "l_out",
] as const;
export const GLOBAL_POINTS_AFTER = ["result_norm", "logits"] as const;

/**
 * Points other engines record that rosetta derives from its own full tensors when the other side has
 * them (src/pipeline/derive.ts): `qkv` is q|k|v concatenated per token (aprender's traced forward).
 * In forward order `qkv` sits right after `v`.
 */
export const DERIVED_POINTS = ["qkv"] as const;
export type DerivedPoint = (typeof DERIVED_POINTS)[number];

export type LayerPoint = (typeof LAYER_POINTS)[number];
export type GlobalPoint = (typeof GLOBAL_POINTS_BEFORE)[number] | (typeof GLOBAL_POINTS_AFTER)[number];
export type PointKind = LayerPoint | GlobalPoint | DerivedPoint;

/** `embd`, `blk.3.q_rope`, `logits`. */
export function pointKey(point: PointKind, layer: number | null): string {
  return layer === null ? point : `blk.${layer}.${point}`;
}

/** Summary statistics over one sample of a captured tensor (definitions: docs/metrics.md). */
export interface Summary {
  count: number; // elements in the sample, finite + NaN + Inf
  nan: number;
  inf: number;
  zeros: number;
  mean: number; // over finite elements
  std: number; // population std over finite elements
  min: number;
  max: number;
  absmax: number;
  l2: number; // sqrt(sum x^2) over finite elements
  /** Imported traces: the fields this summary really measured (absent: every field). The others hold 0
   *  and are never compared (e.g. a llama.cpp eval-callback dump prints a sum: count and mean only). */
  known?: (keyof Omit<Summary, "known">)[];
}

export interface TracePoint {
  key: string; // pointKey(point, layer)
  point: PointKind;
  layer: number | null;
  /** 0 = the prompt (one batch), 1..N = greedy decode steps (one token each). */
  step: number;
  /** Row-major shape, outermost first; the first dimension is tokens for per-token points
   *  (`[T, width]`), `[n_head, T, n_kv]` for kq_softmax. */
  shape: number[];
  /** Positions covered by this step: [first, first + tokens). */
  firstPos: number;
  tokens: number;
  /** Summary over every element of this step (all tokens); null when the engine did not record it
   *  (an imported trace whose engine summarized the last token only). */
  all: Summary | null;
  /** Summary over the last token's elements only; null when not recorded (an imported trace). */
  last: Summary | null;
  /** Name of the full tensor in the trace's safetensors file, when captured. */
  tensor?: string;
  /** Engine-specific provenance, e.g. the llama.cpp node `{name, occurrence, op}`. */
  source?: Record<string, unknown>;
  /** Imported traces: some elements as the other engine printed them (flat row-major indices into
   *  `shape`), and the absolute precision of the printing. Compared with the other side's full tensor. */
  elements?: { index: number[]; values: number[]; tolerance: number };
}

export interface TraceLogits {
  /** Per position of every step, in order: the top-k ids and logits (descending). */
  top: { pos: number; ids: number[]; logits: number[] }[];
  k: number;
  /** Name of the full `[positions, vocab]` tensor in the safetensors file, when captured. */
  tensor?: string;
}

export interface Trace {
  format: typeof TRACE_FORMAT;
  version: number;
  engine: {
    name: string; // "rosetta" | "llama.cpp" | another engine's name
    version?: string;
    /** Everything that changes numerics: numerics mode, ISA, threads, flash attention, KV type... */
    settings: Record<string, unknown>;
  };
  model: {
    path?: string;
    sha256?: string;
    arch?: string;
    fileType?: string;
    /** The model's format as rosetta loaded it: "gguf", "apr", or "hf" (a Hugging Face folder: Q/K rows in HF order); optional (added in place, version 1). */
    format?: string;
    /**
     * The hyperparameters the engine ran with, in rosetta's ModelConfig fields (arch, nLayer, nEmbd, nHead,
     * nHeadKv, headDim, nFf, nVocab, rmsEps, ropeBase, ropeDim, ropeLayout, ropeScaling, tiedEmbeddings,
     * qkvBias, qkNorm, ...). The comparator diffs the fields both sides record; older traces record fewer.
     */
    config?: Record<string, unknown>;
    /** The model file's scalar metadata (GGUF key -> value) as the engine loaded it; optional (added in place, version 1). */
    metadata?: Record<string, string | number | boolean>;
  };
  input: {
    prompt?: string;
    tokens: number[]; // prompt token ids
    generated: number[]; // tokens consumed by the decode steps (greedy, or forced), empty when --gen 0
    /** The decode steps consumed tokens given from outside (teacher forcing), not their own greedy choices. */
    forced?: boolean;
  };
  points: TracePoint[];
  logits?: TraceLogits;
  /** Set when the trace was imported from another engine's dump (src/importers): what, from where, and
   *  what could not be carried over (statistics, samples, points). */
  imported?: { format: string; from: string; notes: string[] };
  /** Safetensors file (relative to the trace JSON) holding full tensors, if any. */
  tensors?: string;
  createdAt?: string;
}

/** What every runner (rosetta's engine, the llama.cpp bridge) takes to produce a trace. */
export interface TraceRunOptions {
  model: string;
  /** What to record as the model path (default: `model` as given). */
  modelLabel?: string;
  prompt?: string;
  tokens?: number[];
  /** Greedy decode steps after the prompt. */
  gen?: number;
  /** Teacher forcing: decode step s consumes forced[s] instead of the greedy choice (recorded in input.forced). */
  forced?: number[];
  /** Glob patterns over point keys (`*`, `blk.0.*`, `logits`) whose full tensors are kept. */
  full?: string[];
  /** Top-k logits recorded per position. */
  top?: number;
  threads?: number;
}

/**
 * The last token's elements of a captured tensor (same-sample semantics: the `last` summary covers these):
 * the last row of [T, ...], or row T-1 of every head of kq_softmax [H, T, K] (gathered into a copy).
 */
export function lastTokenSlice(x: Float32Array, point: string, shape: readonly number[], tokens: number): Float32Array {
  if (point === "kq_softmax" && shape.length === 3) {
    const [h, t, k] = shape;
    const out = new Float32Array(h * k);
    for (let i = 0; i < h; i++) out.set(x.subarray((i * t + t - 1) * k, (i * t + t) * k), i * k);
    return out;
  }
  const w = x.length / tokens;
  return x.subarray((tokens - 1) * w, tokens * w);
}

/**
 * A run past the model's trained context only burns memory and time (the KV cache and captures grow
 * every step): the one check, for every command that runs a model.
 */
export function contextOverflow(model: string, nCtxTrain: number, promptTokens: number, gen: number, exact = true): string | null {
  const need = promptTokens + gen;
  if (need <= nCtxTrain) return null;
  const prompt = `${promptTokens}${exact ? "" : " or more"} token${promptTokens === 1 ? "" : "s"}`;
  // name what the user gave: a prompt too long on its own is not a --gen problem
  if (promptTokens > nCtxTrain || gen === 0) return `the prompt is ${prompt}, more than ${model}'s context length (${nCtxTrain} tokens)`;
  return `--gen ${gen}: the prompt's ${prompt} + ${gen} generated = ${need}${exact ? "" : " or more"} tokens exceed ${model}'s context length (${nCtxTrain} tokens)`;
}
