/**
 * aprender's traced forward (`apr trace FILE --json --payload`, realizar's ForwardTrace; the layout in
 * ../shared/docs/apr-format.md §11.4 and §11.6) as a rosetta trace, summaries only:
 *
 *   {format, architecture, num_layers, hidden_dim, vocab_size, num_heads, num_kv_heads, prompt,
 *    encoded_tokens, embedding: S, layers: [{layer_idx, attn_norm: S, qkv: S, attn_out: S, ffn_norm: S,
 *    ffn_gate?: S, ffn_up?: S, ffn_silu?: S, ffn_swiglu?: S, ffn_out: S, output: S, last_token?: {...}}],
 *    final_norm: S, logits_stats: S, logits?: {...}}
 *   S = {min, max, mean, std_dev, nan_count, inf_count, zero_count, count}
 *
 * Sample semantics come from the data, not from labels: every statistic's `count` is checked against
 * the width of its stage and the number of prompt tokens, and decides which sample it covers: all
 * tokens (T x width) or the last token (width). aprender's APR path summarizes all tokens and keeps a
 * `last_token` block; its GGUF path records the last token only; older builds have no `last_token`.
 * std_dev is the sample standard deviation (/(n-1)) and is converted to rosetta's population one.
 * Stages map to capture points: embedding -> embd, attn_norm, qkv (q|k|v per token: compared with the
 * same concatenation derived from the other side's q, k, v tensors), attn_out, ffn_norm, ffn_gate,
 * ffn_up, ffn_swiglu -> ffn_act, ffn_out, output -> l_out, final_norm -> result_norm, logits_stats ->
 * logits (the last position). ffn_silu (silu(gate) alone) has no rosetta point and is left out (noted).
 */
import { readFileSync, statSync } from "node:fs";

import { TRACE_FORMAT, TRACE_FORMAT_VERSION, type PointKind, type Summary, type Trace, type TracePoint } from "../trace/types.js";
import { InputError } from "../util/errors.js";
import { fromSampleStats } from "./stats.js";
import type { Imported, Importer } from "./types.js";

const MAX_BYTES = 64 << 20;

const STAGES: [string, PointKind, "hidden" | "qkv" | "ffn"][] = [
  ["attn_norm", "attn_norm", "hidden"],
  ["qkv", "qkv", "qkv"],
  ["attn_out", "attn_out", "hidden"],
  ["ffn_norm", "ffn_norm", "hidden"],
  ["ffn_gate", "ffn_gate", "ffn"],
  ["ffn_up", "ffn_up", "ffn"],
  ["ffn_swiglu", "ffn_act", "ffn"],
  ["ffn_out", "ffn_out", "hidden"],
  ["output", "l_out", "hidden"],
];
/** The names realizar's LastTokenStats uses for the same stages. */
const LAST_NAMES: Record<string, string[]> = { ffn_swiglu: ["ffn_swiglu", "ffn_swiglu_inner"], ffn_silu: ["ffn_silu", "ffn_silu_gate"] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

class Reader {
  readonly notes: string[] = [];
  constructor(readonly file: string) {}

  fail(msg: string): never {
    throw new InputError(`${this.file}: aprender trace: ${msg}`);
  }

  int(o: Obj, k: string, min = 1): number {
    const v = o[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) this.fail(`${k} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
    return v;
  }

  /** One ActivationStats as a rosetta Summary (population std; absmax and l2 derived). */
  summary(where: string, s: unknown): Summary {
    if (!isObj(s)) this.fail(`${where} is not a statistics object`);
    const num = (k: string) => {
      const v = s[k];
      if (v === null && (k === "min" || k === "max")) return NaN;
      if (typeof v !== "number" || !Number.isFinite(v)) this.fail(`${where}.${k} must be a finite number (got ${JSON.stringify(v)})`);
      return v;
    };
    const cnt = (k: string) => {
      const v = num(k);
      if (!Number.isSafeInteger(v) || v < 0) this.fail(`${where}.${k} must be a count (got ${v})`);
      return v;
    };
    const count = cnt("count"), nan = cnt("nan_count"), inf = cnt("inf_count"), zeros = cnt("zero_count");
    const finite = count - nan - inf;
    if (finite < 0 || zeros > finite) this.fail(`${where}: nan + inf + zero counts exceed count ${count}`);
    const mean = num("mean"), sampleStd = num("std_dev");
    let min = num("min"), max = num("max");
    if (sampleStd < 0) this.fail(`${where}.std_dev is negative`);
    if (finite === 0) min = max = NaN;
    else if (min > max) this.fail(`${where}: min ${min} > max ${max}`);
    const out = fromSampleStats({ count, nan, inf, zeros, mean, sampleStd, min, max });
    if (finite && (Math.abs(mean) > out.absmax * (1 + 1e-5) + 1e-30 || out.std > out.absmax * (1 + 1e-5) + 1e-30)) this.fail(`${where}: mean ${mean} / std ${out.std} impossible for min ${min}, max ${max}`);
    return out;
  }
}

/**
 * Which sample a statistic covers, from its count: all T tokens (T x width), or the last token (width).
 * A width rosetta cannot know (the FFN's, from a JSON without it) is taken from the last-token block
 * when there is one, else from the count itself under the path's label (noted).
 */
function sampleOf(r: Reader, where: string, count: number, T: number, width: number | null, label: "all" | "last"): { which: "all" | "last"; width: number } {
  if (width !== null) {
    if (count === T * width) return { which: "all", width };
    if (count === width) return { which: "last", width };
    r.fail(`${where}: count ${count} is neither all ${T} token(s) x width ${width} (${T * width}) nor the last token (${width})`);
  }
  if (label === "all" && count % T === 0) return { which: "all", width: count / T };
  return { which: "last", width: count };
}

export function importAprender(file: string, text: string): Imported {
  const r: Reader = new Reader(file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    r.fail(`not JSON (${(e as Error).message})`);
  }
  if (!isObj(parsed)) r.fail("the top level is not an object");
  const j: Obj = parsed;
  const nLayer = r.int(j, "num_layers"), hidden = r.int(j, "hidden_dim"), nHead = r.int(j, "num_heads"), nKv = r.int(j, "num_kv_heads");
  const nVocab = r.int(j, "vocab_size");
  if (hidden % nHead !== 0) r.fail(`hidden_dim ${hidden} is not a multiple of num_heads ${nHead}`);
  const tokens = j.encoded_tokens;
  if (!Array.isArray(tokens) || tokens.length === 0 || !tokens.every((t) => Number.isSafeInteger(t) && (t as number) >= 0)) r.fail("encoded_tokens must be a non-empty array of token ids");
  const T = tokens.length;
  const headDim = hidden / nHead;
  const widths = { hidden, qkv: hidden + 2 * nKv * headDim, ffn: null as number | null };
  const label: "all" | "last" = String(j.format ?? "").toLowerCase() === "gguf" ? "last" : "all";
  const layers = j.layers;
  if (!Array.isArray(layers) || layers.length !== nLayer) r.fail(`layers must be an array of num_layers (${nLayer}) entries`);
  const points: TracePoint[] = [];
  const seen = new Set<string>();
  const add = (point: PointKind, layer: number | null, width: number, all: Summary | null, last: Summary | null) => {
    const key = layer === null ? point : `blk.${layer}.${point}`;
    if (seen.has(key)) r.fail(`${key} appears twice`);
    seen.add(key);
    points.push({ key, point, layer, step: 0, shape: [T, width], firstPos: 0, tokens: T, all, last, source: { importer: "aprender" } });
  };
  /** A stage: its main statistics (sample from the count) and, where present, its last-token block. */
  const stage = (where: string, main: unknown, lastBlock: unknown, width: number | null): { width: number; all: Summary | null; last: Summary | null } | null => {
    if (main === undefined || main === null) return null;
    const s = r.summary(where, main);
    // realizar leaves sub-FFN statistics all zero (count 0) on paths that do not compute them
    if (s.count === 0) return null;
    let w = width;
    const lt = lastBlock === undefined || lastBlock === null ? null : r.summary(`${where} (last_token)`, lastBlock);
    if (w === null && lt && lt.count > 0) w = lt.count;
    const smp = sampleOf(r, where, s.count, T, w, label);
    const all = smp.which === "all" ? s : null;
    let last = smp.which === "last" ? s : null;
    if (lt && lt.count > 0) {
      if (lt.count !== smp.width) r.fail(`${where}: last_token count ${lt.count} is not the stage's width ${smp.width}`);
      if (last) r.fail(`${where}: the main statistics already cover the last token only, and a last_token block is present too`);
      last = lt;
    }
    if (T === 1 && all && !last) last = all;
    return { width: smp.width, all, last };
  };
  const emb = stage("embedding", j.embedding, null, hidden);
  if (emb) add("embd", null, emb.width, emb.all, emb.last ?? (T === 1 ? emb.all : null));
  layers.forEach((l: unknown, i: number) => {
    if (!isObj(l)) r.fail(`layers[${i}] is not an object`);
    const idx = l.layer_idx ?? i;
    if (idx !== i) r.fail(`layers[${i}].layer_idx is ${JSON.stringify(idx)}, expected ${i} (layers out of order)`);
    const lt = isObj(l.last_token) ? l.last_token : null;
    for (const [name, point, kind] of STAGES) {
      const lastOf = lt ? (LAST_NAMES[name] ?? [name]).map((n) => lt[n]).find((v) => v !== undefined) : undefined;
      const names = LAST_NAMES[name] ?? [name];
      const main = names.map((n) => l[n]).find((v) => v !== undefined);
      const st = stage(`layers[${i}].${name}`, main, lastOf, widths[kind]);
      if (st) {
        if (kind === "ffn") widths.ffn ??= st.width;
        add(point, i, st.width, st.all, st.last);
      }
    }
    if (l.ffn_silu !== undefined || l.ffn_silu_gate !== undefined) {
      if (i === 0) r.notes.push("ffn_silu (silu(gate) alone) has no rosetta capture point: not compared");
    }
  });
  const fin = stage("final_norm", j.final_norm, null, hidden);
  if (fin) add("result_norm", null, fin.width, fin.all, fin.last);
  // the logits statistics cover the last position's vocabulary
  if (j.logits_stats !== undefined) {
    const s = r.summary("logits_stats", j.logits_stats);
    if (s.count !== nVocab) r.fail(`logits_stats: count ${s.count} is not vocab_size ${nVocab} (the last position's logits)`);
    add("logits", null, nVocab, T === 1 ? s : null, s);
  }
  const samples = new Set(points.map((p) => (p.all && p.last ? "all tokens and the last token" : p.all ? "all tokens" : "the last token")));
  r.notes.push(`summaries only (min, max, mean, std, NaN/Inf/zero counts; no full tensors), over ${[...samples].join("; ")}, from the counts`);
  const trace: Trace = {
    format: TRACE_FORMAT,
    version: TRACE_FORMAT_VERSION,
    engine: { name: "aprender", settings: { path: label === "last" ? "gguf" : "apr", imported: true } },
    model: {
      path: typeof j.model === "string" ? j.model : file,
      arch: typeof j.architecture === "string" ? j.architecture : undefined,
      config: { nLayer, nEmbd: hidden, nHead, nHeadKv: nKv, nVocab, headDim },
    },
    input: { ...(typeof j.prompt === "string" ? { prompt: j.prompt } : {}), tokens: tokens as number[], generated: [] },
    points,
    imported: { format: "aprender-trace-json", from: file, notes: r.notes },
  };
  return { trace, tensors: new Map() };
}

export const aprenderImporter: Importer = {
  format: "aprender-trace-json",
  describe: "aprender's `apr trace --json --payload` output (realizar's traced forward, summaries only)",
  sniff: (head) => /^\s*\{/.test(head) && /"(encoded_tokens|layer_idx)"/.test(head) && !/"rosetta-trace"/.test(head),
  read: (file) => {
    const size = statSync(file).size;
    if (size > MAX_BYTES) throw new InputError(`${file}: ${size} bytes is larger than an aprender trace can be (${MAX_BYTES})`);
    return importAprender(file, readFileSync(file, "utf8"));
  },
};
