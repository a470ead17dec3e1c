/**
 * The llama.cpp reference runner: runs a model through real llama.cpp (the bridge) and returns a Trace
 * (src/trace/types.ts) plus the full tensors that were asked for. Capture points: docs/capture-points.md.
 */

import { traceMetadata } from "../trace/io.js";
import type { F32Tensor } from "../trace/safetensors.js";
import { TRACE_FORMAT, TRACE_FORMAT_VERSION, pointKey, type PointKind, type Trace, type TracePoint, type TraceRunOptions } from "../trace/types.js";
import { configFromGguf } from "../formats/config.js";
import { InputError, RosettaError } from "../util/errors.js";
import { fileSha256 } from "../util/file-digest.js";
import { loadLlamaBridge, type LlamaBridge, type NativeRunOptions, type NativeRunResult } from "../bindings/llama.js";
import { MissingComponentError } from "../util/errors.js";
import { checkConditions, describeConditions, describeCpuPath, parseDevice, type RunConditions } from "./conditions.js";

export interface LlamaTraceOptions extends TraceRunOptions {
  backend?: string;
  useExtraBufts?: boolean;
  /** Run conditions (device, offload, flash attention, KV type, batch sizes); absent: the reference path. */
  conditions?: RunConditions;
  /** Also run once without the eval callback and compare the logits (does tracing change the run?). */
  untracedCheck?: boolean;
}

/** The traced run's logits against an untraced run's (same conditions, no cb_eval). */
export interface TracingCheck {
  equal: boolean;
  maxAbsDiff: number;
  /** Energy NMSE of the traced logits against the untraced ones (docs/metrics.md). */
  nmse: number;
  positions: number;
}

export interface LlamaTraceResult {
  trace: Trace;
  tensors: Map<string, F32Tensor>;
  raw: NativeRunResult;
  tracing?: TracingCheck;
  /** The untraced run's logits [positions, vocab] (with untracedCheck). */
  untracedLogits?: Float32Array;
}

/** Whether the traced logits equal the untraced ones, else by how much they differ. */
export function compareLogits(traced: Float32Array, untraced: Float32Array, vocab: number): TracingCheck {
  let maxAbsDiff = 0, err = 0, energy = 0, equal = traced.length === untraced.length;
  const n = Math.min(traced.length, untraced.length);
  for (let i = 0; i < n; i++) {
    const d = traced[i] - untraced[i];
    if (!Object.is(traced[i], untraced[i])) equal = false;
    const ad = Math.abs(d);
    if (ad > maxAbsDiff || Number.isNaN(ad)) maxAbsDiff = Number.isNaN(ad) ? NaN : ad;
    err += d * d;
    energy += untraced[i] * untraced[i];
  }
  return { equal, maxAbsDiff, nmse: energy > 0 ? err / energy : err > 0 ? Infinity : 0, positions: n / vocab };
}

/** One line for a report: "traced logits equal the untraced run's" or the difference. */
export function describeTracingCheck(c: TracingCheck): string {
  return c.equal
    ? `traced logits equal the untraced run's (bit-identical, ${c.positions} positions): tracing did not change the run`
    : `traced logits differ from the untraced run's: max |diff| ${c.maxAbsDiff.toExponential(3)}, NMSE ${c.nmse.toExponential(3)} over ${c.positions} positions: observing nodes changed the computation (graph splits, no fusion), so the trace may not show what an untraced run computes`;
}

/** Whether a GPU backend has a device here (false, with the reason, when its package, driver or device is missing). */
export function gpuAvailable(device: string, backend?: string): { ok: true } | { ok: false; why: string } {
  try {
    resolveDevice(loadLlamaBridge(backend), { device });
    return { ok: true };
  } catch (e) {
    if (e instanceof RosettaError) return { ok: false, why: e.message };
    throw e;
  }
}

/** The GPU device of the conditions, loaded (one line, exit 2, when there is none). */
function resolveDevice(b: LlamaBridge, c: RunConditions | undefined): { name: string; description: string; driver: string; backend: string } | null {
  const dev = parseDevice(c?.device);
  if (!dev) return null;
  const g = b.gpu(dev.backend);
  if (g.devices.length === 0) {
    const hint = dev.backend === "vulkan" ? " (llama.cpp skips CPU-type Vulkan devices such as llvmpipe unless GGML_VK_VISIBLE_DEVICES=0 is set)" : "";
    throw new MissingComponentError(`no ${g.backend} device found${hint}`);
  }
  const d = g.devices[dev.index];
  if (!d) throw new MissingComponentError(`no ${g.backend} device ${dev.index}: found ${g.devices.map((x) => `${x.index} ${x.description}`).join(", ")}`);
  return { name: d.name, description: d.description, driver: dev.index === 0 ? g.log : "", backend: g.backend };
}

export const TOKENIZER_LLAMA = "llama.cpp llama_tokenize(add_special=true, parse_special=false)";

export function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp("^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
  return re.test(s);
}

/** Top-k ids (descending logit, lower id first on ties) of one row. */
export function topK(row: Float32Array, k: number): { ids: number[]; logits: number[] } {
  // Insertion into a small sorted list: k is small and the vocabulary can be 150k.
  const ids: number[] = [];
  const before = (i: number, j: number) => row[i] > row[j] || (row[i] === row[j] && i < j);
  for (let i = 0; i < row.length && k > 0; i++) {
    if (ids.length === k && !before(i, ids[k - 1])) continue;
    let at = ids.length === k ? k - 1 : ids.length;
    while (at > 0 && before(i, ids[at - 1])) at--;
    ids.splice(at, 0, i);
    if (ids.length > k) ids.pop();
  }
  return { ids, logits: ids.map((i) => row[i]) };
}

export function tensorName(key: string, step: number): string {
  return `s${step}.${key}`;
}

function resolveTokens(b: LlamaBridge, o: LlamaTraceOptions): { tokens: number[]; tokenizer?: string } {
  if (o.tokens && o.prompt !== undefined) throw new InputError("give either a prompt or token ids, not both");
  if (o.tokens) return { tokens: o.tokens };
  if (o.prompt === undefined) throw new InputError("give a prompt (--prompt) or token ids (--tokens)");
  const tokens = b.tokenize(o.model, o.prompt, true, false);
  if (tokens.length === 0) throw new InputError("the prompt tokenizes to no tokens");
  return { tokens, tokenizer: TOKENIZER_LLAMA };
}

/** llama_rope_type values (llama.h) as rosetta's ropeLayout names. */
const ROPE_TYPES: Record<number, string> = { [-1]: "none", 0: "norm", 2: "neox", 8: "mrope", 24: "vision", 40: "imrope" };

/**
 * The hyperparameters llama.cpp ran with, in rosetta's ModelConfig fields (so the comparator diffs them
 * against any other side, src/compare/config-diff.ts diffConfigs): the metadata and tensor names llama.cpp
 * loaded, read by the same rules as rosetta's GGUF loader (configFromGguf), with llama.cpp's own values
 * where its API reports them (layers, widths, heads, vocabulary, RoPE type). An architecture rosetta does
 * not know keeps only llama.cpp's own values.
 */
export function llamaConfig(m: NativeRunResult["model"], file: string): Record<string, unknown> {
  const own = { arch: m.arch, nLayer: m.nLayer, nEmbd: m.nEmbd, nHead: m.nHead, nHeadKv: m.nHeadKv, nVocab: m.nVocab, ropeLayout: ROPE_TYPES[m.ropeType] ?? `rope-type-${m.ropeType}` };
  const dims = new Map<string, number[]>(m.tensorNames.map((n) => [n, []]));
  dims.set("token_embd.weight", [m.nVocab, m.nEmbd]);
  let parsed: Record<string, unknown> = {};
  try {
    const c = configFromGguf(m.metadata, file, dims);
    parsed = { ...c, ropeScaling: { ...c.ropeScaling } };
  } catch (e) {
    if (!(e instanceof RosettaError)) throw e;
  }
  return { ...parsed, ...own, nCtxTrain: m.nCtxTrain, addBos: m.addBos, desc: m.desc };
}

export async function runLlamaCppTrace(o: LlamaTraceOptions): Promise<LlamaTraceResult> {
  const b = loadLlamaBridge(o.backend);
  const { tokens, tokenizer } = resolveTokens(b, o);
  const gen = o.gen ?? 0;
  const threads = o.conditions?.threads ?? o.threads ?? 1;
  const useExtraBufts = o.useExtraBufts ?? false;
  const full = o.full ?? [];
  const k = o.top ?? 10;
  const cond = o.conditions ? checkConditions(o.conditions) : undefined;
  const device = resolveDevice(b, cond);
  const runOpts: NativeRunOptions = {
    model: o.model,
    tokens,
    gen,
    threads,
    useExtraBufts,
    full,
    ...(o.forced ? { forced: o.forced } : {}),
    ...(device ? { device: device.name, gpuLayers: cond?.gpuLayers ?? -1 } : {}),
    ...(cond?.flashAttn ? { flashAttn: true } : {}),
    ...(cond?.kvType ? { typeK: cond.kvType, typeV: cond.kvType } : {}),
    ...(cond?.batch ? { nBatch: cond.batch } : {}),
    ...(cond?.ubatch ? { nUbatch: cond.ubatch } : {}),
  };
  const r = await b.run(runOpts);
  let tracing: TracingCheck | undefined;
  let untracedLogits: Float32Array | undefined;
  if (o.untracedCheck) {
    const plain = await b.run({ ...runOpts, callback: false, full: [] });
    tracing = compareLogits(r.logits, plain.logits, r.model.nVocab);
    untracedLogits = plain.logits;
  }
  // conditions (device, flash attention, KV type, batches) and the CPU path (variant, repacking)
  const conditionsText = [describeConditions(cond), describeCpuPath(b.backend.loaded, useExtraBufts)].filter(Boolean).join(" ");
  const tensors = new Map<string, F32Tensor>();
  const points: TracePoint[] = r.points.map((p) => {
    const key = pointKey(p.point as PointKind, p.layer);
    const tp: TracePoint = {
      key,
      point: p.point as PointKind,
      layer: p.layer,
      step: p.step,
      shape: p.shape,
      firstPos: p.firstPos,
      tokens: p.tokens,
      all: p.all,
      last: p.last,
      source: { ...p.source },
    };
    if (p.data) {
      tp.tensor = tensorName(key, p.step);
      tensors.set(tp.tensor, { shape: p.shape, data: p.data });
    }
    return tp;
  });
  const V = r.model.nVocab;
  const positions = r.logits.length / V;
  const top = [];
  for (let i = 0; i < positions; i++) top.push({ pos: i, ...topK(r.logits.subarray(i * V, (i + 1) * V), k) });
  const trace: Trace = {
    format: TRACE_FORMAT,
    version: TRACE_FORMAT_VERSION,
    engine: {
      name: "llama.cpp",
      version: b.tag,
      settings: {
        llamaCppTag: b.tag,
        llamaCppCommit: b.commit,
        packages: b.packages,
        backend: b.backend.requested,
        backendVariant: b.backend.loaded,
        backendFile: b.backend.file,
        systemInfo: b.backend.systemInfo,
        threads,
        flashAttention: !!cond?.flashAttn,
        kvType: cond?.kvType ?? "f32",
        nCtx: r.nCtx,
        nBatch: r.nBatch,
        nUbatch: r.nUbatch,
        batchLayout: r.nUbatch === r.nBatch && r.nBatch >= tokens.length ? "prompt as one ubatch; each generated token its own decode" : `prompt in batches of ${r.nBatch}, ubatches of ${r.nUbatch}; each generated token its own decode`,
        // only a side off rosetta's reference path records these (the committed traces stay as they are)
        ...(conditionsText
          ? {
              numerics: `conditions(${conditionsText})`,
              conditions: conditionsText,
              device: device ? { backend: device.backend, name: device.name, description: device.description, driver: device.driver, gpuLayers: cond?.gpuLayers ?? -1, offload: r.offload } : "cpu",
            }
          : {}),
        logitsAllPositions: true,
        useExtraBufts,
        ...(tokenizer ? { tokenizer } : {}),
        ...(r.errors.length ? { captureErrors: r.errors } : {}),
      },
    },
    model: {
      path: o.modelLabel ?? o.model,
      sha256: fileSha256(o.model),
      arch: r.model.arch,
      fileType: r.model.ftype,
      config: llamaConfig(r.model, o.model),
      metadata: traceMetadata(r.model.metadata),
    },
    input: { ...(o.prompt !== undefined ? { prompt: o.prompt } : {}), tokens, generated: r.generated, ...(o.forced?.length ? { forced: true } : {}) },
    points,
    logits: { k, top },
  };
  if (full.some((f) => globMatch(f, "logits"))) {
    trace.logits!.tensor = "logits.all";
    tensors.set("logits.all", { shape: [positions, V], data: r.logits });
  }
  return { trace, tensors, raw: r, ...(tracing ? { tracing, untracedLogits } : {}) };
}
