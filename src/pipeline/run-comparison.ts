/**
 * `rosetta A B` end to end: resolve each side (a saved trace, a model run by rosetta's engine, or a model
 * run by llama.cpp), diff the weights when both sides are model files, run both sides on the same input,
 * compare the traces, and isolate the first divergent layer on a side rosetta can rerun.
 */
import { existsSync, realpathSync, statSync } from "node:fs";

import { sniffFile, loadModel } from "../formats/index.js";
import type { LoadedModel } from "../formats/model.js";
import { keyFilter } from "../model/capture.js";
import type { Engine } from "../model/engine.js";
import { MATMUL_ROLES } from "../formats/roles.js";
import { diffMetrics } from "../bindings/kernels.js";
import type { Numerics } from "../bindings/kernels.js";
import { IMPORTERS, importerFor, readAnyTrace } from "../importers/index.js";
import { deriveQkv } from "./derive.js";
import type { F32Tensor } from "../trace/safetensors.js";
import { contextOverflow, type Trace, type TracePoint } from "../trace/types.js";
import { InputError, RosettaError } from "../util/errors.js";
import { logger } from "../util/log.js";
import { tokenizerFromModel } from "../tokenizer/index.js";
import { compareForward } from "../compare/align.js";
import { compareTraces, type CompareSide } from "../compare/compare.js";
import { arbitrate } from "../compare/arbiter.js";
import { pointOfRole } from "../compare/consumers.js";
import { diagnoseByExperiment } from "../compare/experiments.js";
import type { IsolationResult } from "../compare/diagnose.js";
import type { ComparisonResult, WeightDiff } from "../compare/result.js";
import { diffWeights } from "../compare/weight-diff.js";
import { ModelBytes } from "../formats/bytes.js";
import { describeConditions, type RunConditions } from "../reference/conditions.js";

export type EngineName = "rosetta" | "llama.cpp" | "transformers";
export const ENGINE_NAMES: readonly EngineName[] = ["rosetta", "llama.cpp", "transformers"];

export interface SideSpec {
  path: string;
  engine?: EngineName;
  numerics?: Numerics;
  /** transformers engine: the torch dtype (default float32). */
  dtype?: "float32" | "bfloat16" | "float16";
  /** A llama.cpp side's run conditions (device, offload, flash attention, KV type, batch sizes): docs/conditions.md. */
  conditions?: RunConditions;
}

/** How a side is named in reports: the file, or llama.cpp (with its conditions when off the reference path) and the file. */
export function sideSource(spec: SideSpec): string {
  if (spec.engine === "transformers") return `transformers:${spec.path}`;
  if (spec.engine !== "llama.cpp") return spec.path;
  const c = describeConditions(spec.conditions);
  return c ? `llama.cpp[${c}]:${spec.path}` : `llama.cpp:${spec.path}`;
}

export interface RunCompareOptions {
  a: SideSpec;
  b: SideSpec;
  prompt?: string;
  tokens?: number[];
  gen?: number;
  /** An explicit bound (--threshold): precision bands never loosen it. Absent: the default plus the pair's band. */
  threshold?: number;
  /** Point keys whose full tensors are captured (default every point; kq_softmax only while small, KQ_FULL_MAX). */
  full?: string[];
  threads?: number;
  /** Weight-level diff when both sides are model files (default true). */
  weights?: boolean;
  /**
   * Decode steps (gen > 0): which side's tokens both sides consume (teacher forcing, default "b", the
   * reference), so the comparison continues past a flip of the top token; "none": each side its own.
   */
  teacher?: "a" | "b" | "none";
  /** Test the findings by counterfactual reruns and search a minimal explaining set (default true). */
  experiments?: boolean;
  /** Weights of one type whose bytes differ are findings that fail --assert-match; this makes them informational. */
  acceptWeightDifferences?: boolean;
  /** Run every llama.cpp side once more without tracing and report whether its logits change (default true). */
  untracedCheck?: boolean;
  /** A third side compared with both (arbiterSpec): per point, which of A and B is closer to it. */
  arbiter?: SideSpec;
}

/** The named arbiters of `--arbiter` (anything else is a path: a saved trace, or a model rosetta runs). */
export const ARBITERS: Record<string, Omit<SideSpec, "path">> = {
  transformers: { engine: "transformers", dtype: "float32" },
  "rosetta-exact": { engine: "rosetta", numerics: "exact" },
  "llama.cpp": { engine: "llama.cpp" },
};

/**
 * `--arbiter NAME|PATH` as a side: a named engine runs `model` (--arbiter-model, default the model of
 * side B, else of side A); a path is a saved trace or a model file run by rosetta (exact numerics).
 */
export function arbiterSpec(value: string, model: string | undefined): SideSpec {
  const named = ARBITERS[value];
  if (!named) return existsSync(value) ? { path: value, numerics: "exact" } : (() => { throw new InputError(`--arbiter ${value}: not one of ${Object.keys(ARBITERS).join(", ")} and no such file`); })();
  if (!model) throw new InputError(`--arbiter ${value} runs a model, and neither side is one: give --arbiter-model PATH`);
  return { path: model, ...named };
}

interface Resolved {
  spec: SideSpec;
  kind: "trace" | "model";
  model?: LoadedModel;
  /** rosetta's engine on `model`, opened once: runs the side, then reruns layers for isolation. */
  engine?: Engine;
  trace?: Trace;
  tensors: Map<string, F32Tensor>;
  /** Report notes of this side's run (the untraced-vs-traced check). */
  notes?: string[];
}

const DEFAULT_FULL = ["embd", "blk.*.attn_norm", "blk.*.q", "blk.*.k", "blk.*.v", "blk.*.q_rope", "blk.*.k_rope", "blk.*.attn", "blk.*.attn_out", "blk.*.ffn_*", "blk.*.l_out", "result_norm", "logits"];

/**
 * The attention probabilities grow with the square of the prompt: by default they are compared as full
 * tensors while a side's kq_softmax totals at most this many elements (16 MB). Past that, a run of
 * models leaves the point out (it is optional: docs/capture-points.md) and the report says so in a
 * note; `--full 'blk.*.kq_softmax'` asks for it whatever its size.
 */
export const KQ_FULL_MAX = 4 << 20;

export interface FullPolicy { full: string[]; kq: boolean; note?: string }

/** The default capture policy of a model-vs-model run for these inputs and the two sides' configs. */
export function fullPolicy(input: { prompt?: string; tokens?: number[]; gen: number }, cfgs: { nLayer: number; nHead: number }[]): FullPolicy {
  // a prompt is tokenized by each side later: every token covers at least one byte, plus BOS/EOS
  const T = input.tokens?.length ?? (input.prompt !== undefined ? Buffer.byteLength(input.prompt) + 2 : undefined);
  if (T === undefined || cfgs.length === 0) return { full: DEFAULT_FULL, kq: true };
  const kq = Math.max(...cfgs.map((c) => c.nLayer * c.nHead * (T * T + input.gen * (T + input.gen))));
  if (kq > KQ_FULL_MAX) {
    const note = `kq_softmax not compared: ${kq} elements per side (more than ${KQ_FULL_MAX}); --full 'blk.*.kq_softmax' compares it anyway`;
    logger("compare").info({ elements: kq, max: KQ_FULL_MAX }, note);
    return { full: DEFAULT_FULL, kq: false, note };
  }
  return { full: [...DEFAULT_FULL, "blk.*.kq_softmax"], kq: true };
}

/** The weight type of most matmul elements (what the band is chosen by). */
export function dominantType(m: LoadedModel): string {
  const by = new Map<string, number>();
  for (const t of m.tensors) {
    if (!t.role || !MATMUL_ROLES.has(t.role) || t.role === "token_embd") continue;
    const n = t.dims.reduce((x, y) => x * y, 1);
    by.set(t.typeName, (by.get(t.typeName) ?? 0) + n);
  }
  let best = "F32";
  let most = -1;
  for (const [k, v] of by) if (v > most) [best, most] = [k, v];
  return best.toUpperCase();
}

/** Loads each distinct model file once (its layout table is logged once), whichever sides name it. */
async function resolve(spec: SideSpec, label: string, cache: Map<string, Promise<LoadedModel>>, tokens?: number[]): Promise<Resolved> {
  if (spec.engine === "transformers") return resolveTransformers(spec, label, cache);
  // a folder of another engine's dumps (aprender's APRT stage files) is read in place, like `rosetta import`
  const dumpDir = statSync(spec.path, { throwIfNoEntry: false })?.isDirectory() ? importerFor(spec.path) : null;
  if (dumpDir) {
    if (spec.engine) throw new InputError(`--engine-${label.toLowerCase()}: ${spec.path} is a folder of ${dumpDir.format} dumps, not a model to run`);
    const { trace, tensors } = readAnyTrace(spec.path, dumpDir.format, { tokens });
    return { spec, kind: "trace", trace, tensors };
  }
  const kind = await sniffFile(spec.path);
  // a trace: rosetta's own, or another engine's dump an importer reads (src/importers)
  const foreign = kind === "unknown" || kind === "trace" ? importerFor(spec.path) : null;
  if (kind === "trace" || foreign) {
    if (spec.engine) throw new InputError(`--engine-${label.toLowerCase()}: ${spec.path} is a saved trace, not a model to run`);
    const { trace, tensors } = readAnyTrace(spec.path);
    return { spec, kind: "trace", trace, tensors };
  }
  if (kind === "unknown") throw new InputError(`${spec.path}: not a model (GGUF, APR, Hugging Face folder), a rosetta trace (JSON) or a dump rosetta imports (${IMPORTERS.map((i) => i.format).join(", ")})`);
  if (kind === "hf" && spec.engine === "llama.cpp") {
    throw new InputError(`--engine-${label.toLowerCase()} llama.cpp: ${spec.path} is a Hugging Face folder; llama.cpp runs GGUF files (run the folder on rosetta's engine, the default)`);
  }
  const key = realpathSync(spec.path);
  if (!cache.has(key)) cache.set(key, loadModel(spec.path));
  return { spec, kind: "model", model: await cache.get(key)!, tensors: new Map() };
}

/**
 * A side transformers runs: a Hugging Face folder or a GGUF. rosetta's loader also reads it when it can
 * (weights diff, config, the band by weight type); when it cannot, the side runs without those.
 */
async function resolveTransformers(spec: SideSpec, label: string, cache: Map<string, Promise<LoadedModel>>): Promise<Resolved> {
  if (!existsSync(spec.path)) throw new InputError(`${spec.path}: no such file or folder`);
  if (statSync(spec.path).isFile()) {
    const kind = await sniffFile(spec.path);
    if (kind !== "gguf") throw new InputError(`--engine-${label.toLowerCase()} transformers: ${spec.path} is not a Hugging Face model folder or a GGUF file`);
  }
  const key = realpathSync(spec.path);
  if (!cache.has(key)) cache.set(key, loadModel(spec.path));
  const model = await cache.get(key)!.catch((e: unknown) => {
    if (!(e instanceof RosettaError)) throw e;
    cache.delete(key);
    logger("compare").info({ side: label, why: e.message }, "rosetta's loader does not read this side: no weight diff for it");
    return undefined;
  });
  return { spec, kind: "model", model, tensors: new Map() };
}

async function run(r: Resolved, o: RunCompareOptions, input0: { prompt?: string; tokens?: number[]; gen: number }, policy: FullPolicy, forced?: number[]): Promise<void> {
  const full = policy.full;
  const input = forced?.length ? { ...input0, forced } : input0;
  if (r.spec.engine === "llama.cpp") {
    const { runLlamaCppTrace } = await import("../reference/llamacpp.js");
    const { describeTracingCheck } = await import("../reference/llamacpp.js");
    const res = await runLlamaCppTrace({ model: r.spec.path, ...input, full, threads: o.threads, conditions: r.spec.conditions, untracedCheck: o.untracedCheck !== false });
    r.trace = res.trace;
    r.tensors = res.tensors;
    if (res.tracing) {
      r.trace.engine.settings.tracing = res.tracing;
      r.notes = [`${sideSource(r.spec)}: ${describeTracingCheck(res.tracing)}`];
    }
  } else if (r.spec.engine === "transformers") {
    const { runTransformersTrace } = await import("../reference/transformers.js");
    const res = runTransformersTrace({ model: r.spec.path, ...input, full, threads: o.threads, dtype: r.spec.dtype });
    r.trace = res.trace;
    r.tensors = res.tensors;
    // the band goes by the checkpoint's weight type (a GGUF's quantized values are dequantized exactly)
    if (r.model) r.trace.model.fileType = dominantType(r.model);
  } else {
    const { runRosettaTrace } = await import("../model/trace-run.js");
    const { Engine } = await import("../model/engine.js");
    r.engine = await Engine.open(r.spec.path, { numerics: r.spec.numerics, threads: o.threads, loaded: r.model });
    const res = await runRosettaTrace({ model: r.spec.path, ...input, full, engine: r.engine, hash: false, kq: policy.kq });
    r.trace = res.trace;
    r.tensors = res.tensors;
  }
  if (!policy.kq) r.trace.points = r.trace.points.filter((p) => p.point !== "kq_softmax");
  if (r.model) r.trace.model.fileType ??= dominantType(r.model);
}

function emptyTrace(r: Resolved, why: string): Trace {
  return {
    format: "rosetta-trace",
    version: 1,
    engine: { name: r.spec.engine ?? "rosetta", settings: { failed: why } },
    model: { path: r.spec.path, fileType: r.model ? dominantType(r.model) : undefined, format: r.model?.format, config: r.model ? { ...r.model.config } : undefined },
    input: { tokens: [], generated: [] },
    points: [],
  };
}

function accessor(r: Resolved): (p: TracePoint) => Float32Array | null {
  return (p) => (p.tensor ? (r.tensors.get(p.tensor)?.data ?? null) : null);
}

/** A side's full tensor of a point (null: not captured). */
function tensorAt(r: Resolved | undefined, key: string, step: number): Float32Array | null {
  const p = r?.trace?.points.find((x) => x.step === step && x.key === key);
  return p && r ? accessor(r)(p) : null;
}

/** Reruns one layer of a rosetta-engine side on the other side's input to that layer (prompt step). */
function isolator(x: Resolved, other: Resolved) {
  return async (layer: number, step: number): Promise<IsolationResult | null> => {
    if (step !== 0 || !x.engine) return null;
    const find = (r: Resolved, key: string) => r.trace!.points.find((p) => p.step === 0 && p.key === key);
    const inKey = layer === 0 ? "embd" : `blk.${layer - 1}.l_out`;
    const pin = find(other, inKey);
    const pout = find(other, `blk.${layer}.l_out`);
    const pself = find(x, `blk.${layer}.l_out`);
    const input = pin && accessor(other)(pin);
    const ref = pout && accessor(other)(pout);
    const own = pself && accessor(x)(pself);
    if (!input || !ref || !own) return null;
    const { runLayerIsolated } = await import("../model/isolate.js");
    const out = runLayerIsolated(x.engine, { layer, input });
    return { layer, nmse: diffMetrics(ref, out).nmseEnergy, propagatedNmse: diffMetrics(ref, own).nmseEnergy };
  };
}

/** The side rerun by experiments: a model run by rosetta's engine, the other side a model file too. */
async function experiment(res: ComparisonResult, a: Resolved, b: Resolved, log: ReturnType<typeof logger>, hold?: Hold, diagnose = true): Promise<void> {
  const fatal = res.findings.some((f) => f.fatal);
  if (res.verdict !== "DIVERGED" && !fatal) return;
  if (!a.model || !b.model || !a.trace || !b.trace) return;
  // only rosetta's own engine reruns with tensors transplanted (llama.cpp and transformers run as they are)
  const pick = ([x, y, label]: [Resolved, Resolved, "A" | "B"]) => ((x.spec.engine ?? "rosetta") === "rosetta" && y.trace!.points.length > 0 ? { x, y, label } : null);
  const pair = pick([a, b, "A"]) ?? pick([b, a, "B"]);
  if (!pair) return;
  const { EngineLab } = await import("./lab.js");
  const failed = pair.x.trace!.points.length === 0;
  const lab = new EngineLab(
    { model: pair.x.model!, numerics: pair.x.spec.numerics ?? "ggml", trace: failed ? undefined : pair.x.trace, tensors: failed ? undefined : pair.x.tensors },
    pair.y.model!,
    { trace: pair.y.trace!, tensors: pair.y.tensors },
    res,
    pair.label,
  );
  let kept = false;
  try {
    if (failed) await repairAndRun(res, lab, pair.label);
    else if (diagnose) {
      res.experiments = await diagnoseByExperiment(res, lab);
      await ropeRowsRepair(res, lab, pair.label);
    }
    log.info({ reruns: lab.reruns, ms: Math.round(lab.ms) }, "experiments");
    if (hold?.keep) {
      Object.assign(hold, { lab, receiver: pair.x.model!, donor: pair.y.model! });
      kept = true;
    }
  } finally {
    if (!kept) lab.close();
  }
}

/**
 * A side that cannot load still gets a location and a test of the named repair: the first divergence is
 * the capture point that consumes the tensor; the repair (transpose at load) is applied in memory, the
 * side runs, and the report says whether it then matches.
 */
async function repairAndRun(res: ComparisonResult, lab: import("./lab.js").EngineLab, label: "A" | "B"): Promise<void> {
  const diag = res.findings.find((f) => f.fatal && f.id === "layout-transposed");
  if (!diag) return;
  const keys = (res.weights?.tensors ?? []).filter((t) => t.status === "transposed" && t.dimsA?.join() !== t.dimsB?.join()).map((t) => t.key);
  const consumer = keys.map(pointOfRole).sort((x, y) => compareForward({ ...x, step: 0 }, { ...y, step: 0 }))[0];
  if (consumer && !res.firstDivergence) {
    const gate = res.points.find((p) => p.key === consumer.key && p.step === 0)?.gate ?? { threshold: res.threshold, band: res.threshold, bandId: null };
    res.firstDivergence = {
      key: consumer.key, point: consumer.point, layer: consumer.layer, step: 0, shapeA: null, shapeB: null, status: "diverged", all: null, last: null, gate,
      note: `${label} could not run: the point that consumes ${keys.join(", ")} (stored transposed)`,
    };
  }
  const ok = keys.every((k) => lab.repairTranspose(k));
  if (!ok) return;
  const out = await lab.run([]);
  diag.experiment = { transplanted: [], explainsAll: out.matches, firstDivergenceAfter: out.firstDivergence };
  diag.evidence.push(
    out.error
      ? `repair tried (${keys.join(", ")} transposed in memory): ${label} still cannot run: ${out.error}`
      : out.matches
        ? `confirmed by experiment: with ${keys.join(", ")} transposed at load (in memory), ${label} runs and every point matches: the transposition explains the whole divergence`
        : `experiment: with ${keys.join(", ")} transposed at load (in memory), ${label} runs; first divergence then at ${out.firstDivergence?.key ?? "?"}: something else differs too`,
  );
  res.experiments = { reruns: lab.reruns, ms: Math.round(lab.ms), receiver: label, candidates: keys.length, minimal: out.matches ? keys : null, residual: out.matches ? null : out.firstDivergence, note: "repair run: the side could not load as stored" };
}

/** Runs (or reads) the arbiter on the input both sides ran, then judges every point (src/compare/arbiter.ts). */
async function runArbiter(
  res: ComparisonResult,
  o: RunCompareOptions,
  run0: { gen: number; policy: FullPolicy; forced?: number[] },
  a: Resolved,
  b: Resolved,
  side: (r: Resolved) => CompareSide,
  opts: Parameters<typeof arbitrate>[4],
): Promise<ComparisonResult["arbiter"]> {
  const c = await resolve(o.arbiter!, "arbiter", new Map(), (b.trace!.points.length ? b.trace! : a.trace!).input.tokens);
  if (c.kind === "model") {
    // the very token ids the sides ran (a prompt was tokenized by them); the teacher's tokens at decode steps
    const ref = b.trace!.points.length ? b.trace! : a.trace!;
    logger("compare").info({ engine: c.spec.engine ?? "rosetta", model: c.spec.path }, "running the arbiter");
    try {
      await run(c, o, { tokens: ref.input.tokens, gen: run0.gen }, run0.policy, run0.forced?.length ? run0.forced : undefined);
    } finally {
      c.engine?.close();
    }
  }
  return arbitrate(res, side(a), side(b), side(c), opts);
}

/**
 * Q/K rows stored for the other RoPE layout (`rope-layout-mismatch` on the tensors: e.g. a Hugging Face folder
 * holding a GGUF's permuted rows): the named repair, the rows permuted into the receiver's own order in
 * memory, is run, and the finding says whether the side then matches.
 */
async function ropeRowsRepair(res: ComparisonResult, lab: import("./lab.js").EngineLab, label: "A" | "B"): Promise<void> {
  const diag = res.findings.find((f) => f.fatal && f.id === "rope-layout-mismatch" && f.where !== "metadata");
  const keys = (res.weights?.tensors ?? []).filter((t) => t.status === "rope-unpermuted").map((t) => t.key);
  if (!diag || !keys.length || !keys.every((k) => lab.repairRopeRows(k))) return;
  try {
    const out = await lab.run([]);
    diag.evidence.push(
      out.error
        ? `repair tried (${keys.join(", ")} rows permuted in memory): ${label} cannot run: ${out.error}`
        : out.matches
          ? `confirmed by experiment: with the rows of ${keys.join(", ")} permuted within each head for ${label}'s RoPE layout (in memory), every point matches: the missing permutation explains the whole divergence`
          : `experiment: with the rows of ${keys.join(", ")} permuted for ${label}'s RoPE layout (in memory), the first divergence is then at ${out.firstDivergence?.key ?? "?"}: something else differs too`,
    );
  } finally {
    lab.dropRepairs(keys);
  }
}

function inputOf(o: RunCompareOptions, a: Resolved, b: Resolved): { prompt?: string; tokens?: number[]; gen: number } {
  if (o.tokens) return { tokens: o.tokens, gen: o.gen ?? 0 };
  if (o.prompt !== undefined) return { prompt: o.prompt, gen: o.gen ?? 0 };
  const saved = a.trace ?? b.trace;
  if (!saved) throw new InputError("give a prompt (--prompt) or token ids (--tokens) to run the models on");
  return { tokens: saved.input.tokens, gen: o.gen ?? saved.input.generated.length };
}

/** A run past the model's trained context only burns memory and time (the KV cache and captures grow every step). */
function checkContext(input: { tokens?: number[]; gen: number }, ...sides: Resolved[]): void {
  for (const r of sides) {
    const overflow = r.kind === "model" && r.model ? contextOverflow(r.spec.path, r.model.config.nCtxTrain, input.tokens?.length ?? 1, input.gen, !!input.tokens) : null;
    if (overflow) throw new InputError(overflow);
  }
}

/** The structure fields that make two models the same network (arch by family: a mistral file may say llama). */
const STRUCTURE = ["nLayer", "nEmbd", "nHead", "nHeadKv", "nFf"] as const;
const FAMILY: Record<string, string> = { mistral: "llama" };

function configOf(r: Resolved): Record<string, unknown> | undefined {
  return (r.model?.config as unknown as Record<string, unknown> | undefined) ?? r.trace?.model.config;
}

/** Two different networks (architecture or dimensions) have nothing to compare layer by layer: one error line, exit 2. */
export function checkSameNetwork(a: { path: string; config?: Record<string, unknown> }, b: { path: string; config?: Record<string, unknown> }): void {
  const ca = a.config;
  const cb = b.config;
  if (!ca || !cb) return;
  const norm = (f: string, v: unknown) => (f === "arch" && typeof v === "string" ? (FAMILY[v] ?? v) : v);
  const differ = STRUCTURE.filter((f) => ca[f] !== undefined && cb[f] !== undefined && norm(f, ca[f]) !== norm(f, cb[f]));
  if (differ.length === 0) return;
  const desc = (c: Record<string, unknown>) => `${String(c.arch ?? "?")}, ${String(c.nLayer ?? "?")} layers, n_embd ${String(c.nEmbd ?? "?")}, ${String(c.nHead ?? "?")} heads`;
  throw new InputError(
    `${a.path} (${desc(ca)}) and ${b.path} (${desc(cb)}) are different networks (${differ.join(", ")} differ${differ.length === 1 ? "s" : ""}): nothing to compare layer by layer`,
  );
}

/** Input flags that cannot apply: both sides are saved traces, whose inputs are fixed (a warning, never silence). */
function unusedInputs(o: RunCompareOptions, a: Resolved, b: Resolved): string[] {
  if (a.kind !== "trace" || b.kind !== "trace") return [];
  const given = [o.prompt !== undefined ? "--prompt" : "", o.tokens ? "--tokens" : "", o.gen !== undefined ? "--gen" : "", o.teacher && o.teacher !== "b" ? "--teacher" : ""].filter(Boolean);
  return given.length ? [`${given.join(", ")} ignored: both sides are saved traces, which fix their own input (tokens and decode steps)`] : [];
}

/**
 * A point-key glob that selects nothing is almost always a typo: one warning per such glob (`flag` names
 * the option: --full here, --tensors for `rosetta trace`).
 */
export function unmatchedGlobs(flag: string, globs: string[] | undefined, ...traces: (Trace | undefined)[]): string[] {
  if (!globs) return [];
  const keys = new Set<string>(["logits"]);
  for (const t of traces) for (const p of t?.points ?? []) keys.add(p.key);
  return globs.filter((g) => ![...keys].some(keyFilter([g]))).map((g) => `${flag} ${g} matches no capture point (keys look like embd, blk.0.q_rope, blk.*.ffn_*, logits)`);
}

/** --numerics-a/b for a side that is a saved trace: it is not run, so it changes nothing (a warning; --engine-a/b there is an error). */
function unusedSideOptions(a: Resolved, b: Resolved): string[] {
  const out: string[] = [];
  for (const [label, r] of [["a", a], ["b", b]] as const) {
    if (r.kind !== "trace") continue;
    if (r.spec.numerics !== undefined) out.push(`--numerics-${label} ignored: side ${label.toUpperCase()} (${r.spec.path}) is a saved trace, which is not run again`);
  }
  return out;
}

export async function runComparison(o: RunCompareOptions): Promise<ComparisonResult> {
  return (await compare(o)).result;
}

/** A comparison kept open: its result, and the lab (null when there is nothing to rerun) for `rosetta bisect`. */
export interface ComparisonSession {
  result: ComparisonResult;
  lab: import("./lab.js").EngineLab | null;
  /** The rerun side's model and the donor's (the lab's receiver and donor), when there is a lab. */
  receiver: LoadedModel | null;
  donor: LoadedModel | null;
  /** A side's full tensor of a point (null: not captured). */
  tensor(side: "A" | "B", key: string, step: number): Float32Array | null;
  close(): void;
}

/** runComparison, keeping the lab open for more experiments; the caller closes it. */
export async function openComparison(o: RunCompareOptions): Promise<ComparisonSession> {
  const hold: Hold = { keep: true };
  const result = (await compare(o, hold)).result;
  const lab = hold.lab ?? null;
  const tensor = (side: "A" | "B", key: string, step: number) => tensorAt(side === "A" ? hold.a : hold.b, key, step);
  return { result, lab, receiver: hold.receiver ?? null, donor: hold.donor ?? null, tensor, close: () => lab?.close() };
}

/** Where experiment() leaves the lab when the caller keeps it (openComparison). */
interface Hold {
  keep: boolean;
  lab?: import("./lab.js").EngineLab;
  receiver?: LoadedModel;
  donor?: LoadedModel;
  /** Both sides, for their captured tensors. */
  a?: Resolved;
  b?: Resolved;
}

async function compare(o: RunCompareOptions, hold?: Hold): Promise<{ result: ComparisonResult }> {
  const t0 = performance.now();
  const cache = new Map<string, Promise<LoadedModel>>();
  const a = await resolve(o.a, "A", cache, o.tokens);
  const b = await resolve(o.b, "B", cache, o.tokens);
  checkSameNetwork({ path: o.a.path, config: configOf(a) }, { path: o.b.path, config: configOf(b) });
  // one mapping per model file for the whole comparison (weight diff, runs, experiments)
  const pins = [a.model, b.model].flatMap((m) => (m ? [ModelBytes.pinned(m)] : []));
  try {
    if (hold) Object.assign(hold, { a, b });
    return { result: await compareResolved(o, a, b, t0, hold) };
  } finally {
    a.engine?.close();
    b.engine?.close();
    for (const p of pins) p.close();
  }
}

async function compareResolved(o: RunCompareOptions, a: Resolved, b: Resolved, t0: number, hold?: Hold): Promise<ComparisonResult> {
  const log = logger("compare");
  const timings: Record<string, number> = {};
  const lap = (k: string, since: number) => (timings[k] = Math.round(performance.now() - since));
  lap("load", t0);
  let weights: WeightDiff | undefined;
  if (a.model && b.model && o.weights !== false) {
    const t = performance.now();
    log.info({ a: o.a.path, b: o.b.path }, "weight-level diff");
    // sampled byte identity: no pass over two files of identical tensors; a difference is always found
    // where a sample differs, and the runs and experiments test what the findings claim
    weights = diffWeights(a.model, b.model, { identity: "sampled" });
    lap("weights", t);
  }
  const input = inputOf(o, a, b);
  checkContext(input, a, b);
  const policy: FullPolicy = o.full ? { full: o.full, kq: true } : fullPolicy(input, [a, b].flatMap((r) => (r.model ? [r.model.config] : [])));
  // teacher forcing (decode steps): the teacher side runs first, free; the other side consumes its tokens
  const teacher = input.gen > 0 ? (o.teacher ?? "b") : "none";
  const order = teacher === "a" ? ([[a, "A"], [b, "B"]] as const) : ([[b, "B"], [a, "A"]] as const);
  for (const [r, label] of order) {
    const t = performance.now();
    const first = r === order[0][0];
    const teach = teacher !== "none" && !first ? order[0][0].trace?.input.generated : undefined;
    if (r.kind !== "model") continue;
    log.info({ side: label, engine: r.spec.engine ?? "rosetta", model: r.spec.path, ...(teach ? { forced: `${teach.length} token(s) from ${order[0][1]}` } : {}) }, `running side ${label}`);
    try {
      await run(r, o, input, policy, teach && teach.length ? teach : undefined);
    } catch (e) {
      // a side that cannot run (e.g. a weight stored transposed) is still diagnosable from its weights
      if (!(e instanceof RosettaError) || !weights?.findings.some((f) => f.fatal)) throw e;
      log.warn({ side: label, error: e.message }, `side ${label} could not run; diagnosing from the weights`);
      r.trace = emptyTrace(r, e.message);
    }
    lap(`run${label}`, t);
  }
  for (const [x, y] of [[a, b], [b, a]] as const) {
    // only a model side that could not run gets emptyTrace's marker; a saved trace may say anything
    const failed = x.kind === "model" && x.trace!.engine.settings.failed;
    if (failed && y.trace) {
      x.trace!.input = { ...y.trace.input };
      weights!.findings.find((f) => f.fatal)!.evidence.push(`${x === a ? "A" : "B"} could not run: ${String(failed)}`);
    }
  }
  // points another engine records that this side can derive from its full tensors (aprender's qkv)
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const n = deriveQkv(x.trace!, x.tensors, y.trace!);
    if (n) log.info({ points: n }, "derived q|k|v per token from the full tensors, to compare with the other side's qkv");
  }
  const t = performance.now();
  log.info({ points: a.trace!.points.length }, "comparing");
  const side = (r: Resolved): CompareSide => ({ trace: r.trace!, source: sideSource(r.spec), weightType: r.model ? dominantType(r.model) : undefined, tensor: accessor(r) });
  const isoA = isolator(a, b);
  const isoB = isolator(b, a);
  let tok: import("../tokenizer/tokenizer.js").Tokenizer | null | undefined;
  const ref = b.model ?? a.model;
  const tokenText = (id: number): string | undefined => {
    if (tok === undefined) {
      try {
        tok = ref ? tokenizerFromModel(ref) : null;
      } catch {
        tok = null;
      }
    }
    try {
      return tok ? new TextDecoder().decode(tok.tokenToPiece(id)) : undefined;
    } catch {
      return undefined;
    }
  };
  const compareWith = (w: WeightDiff | undefined) =>
    compareTraces(side(a), side(b), { tokenText, threshold: o.threshold, diff: diffMetrics, weights: w, isolate: async (l, s) => (await isoA(l, s)) ?? isoB(l, s) });
  let res = await compareWith(weights);
  lap("compare", t);
  if (weights && a.model && b.model && res.verdict === "DIVERGED" && !res.findings.some((f) => f.fatal) && weights.tensors.some((x) => x.status === "sampled-identical")) {
    // a divergence no finding explains: the unread bytes of sampled tensors may be why, so read them all
    const tw = performance.now();
    log.info("unexplained divergence: the weight diff reads the sampled tensors in full");
    weights = diffWeights(a.model, b.model, { identity: "full" });
    res = await compareWith(weights);
    lap("weightsFull", tw);
  }
  if (o.acceptWeightDifferences) {
    for (const f of res.findings) if (f.fatal && f.tensors && f !== res.diagnosis) f.fatal = false;
  }
  if (o.experiments !== false || hold) {
    const te = performance.now();
    await experiment(res, a, b, log, hold, o.experiments !== false);
    lap("experiments", te);
  }
  if (o.arbiter) {
    const ta = performance.now();
    const forced = teacher === "none" ? undefined : order[0][0].trace?.input.generated;
    res.arbiter = await runArbiter(res, o, { gen: input.gen, policy, forced }, a, b, side, { diff: diffMetrics, threshold: o.threshold, tokenText });
    lap("arbiter", ta);
  }
  lap("total", t0);
  const warnings = [...unmatchedGlobs("--full", o.full, a.trace, b.trace), ...unusedInputs(o, a, b), ...unusedSideOptions(a, b)];
  for (const w of warnings) log.warn(w);
  const notes = [...(policy.note ? [policy.note] : []), ...(a.notes ?? []), ...(b.notes ?? [])];
  return { ...res, ...(warnings.length ? { warnings } : {}), ...(notes.length ? { notes } : {}), timings };
}
