/**
 * aprender's `--save-tensor` stage dumps ("APRT", ../shared/docs/apr-format.md §11.5) as a rosetta trace
 * with full tensors. One file a stage and layer:
 *
 *   bytes 0-3 "APRT"; 4-7 u32 LE layer index (0xFFFFFFFF: a whole-model stage); 8-11 u32 LE element
 *   count n; then n f32 LE values; size = 12 + 4n.
 *
 * The stage is not in the file, so the importer reads a DIRECTORY of dumps whose file names carry it
 * (case-insensitive; extension `.bin`, `.aprt`, `.f32` or none):
 *
 *   `<stage>`                                   the layer from the header
 *   `<stage>_L<n>`, `<stage>_layer<n>`, `<stage>-l<n>`, `<stage>.layer_<n>`
 *   `layer<n>_<stage>`, `layer_<n>_<stage>`, `L<n>_<stage>`, `blk.<n>.<stage>`
 *
 * A layer in the name must agree with the header's. `*.json` files are not dumps: an aprender trace JSON
 * among them (`apr trace --json`, with `encoded_tokens`) gives the prompt tokens and the model's widths;
 * without one the tokens come from the importer's options (`rosetta import DIR --tokens ...`). Any other
 * file name that does not map to a stage is refused (one line). Element counts decide the shapes: T x width
 * for per-token stages (every layer of a stage the same width), heads x T x T for the attention
 * probabilities, lm_head either T x vocab or the last position only (vocab).
 *
 * Stages -> points: embedding -> embd, attn_norm, q_post_rope -> q_rope, k_post_rope -> k_rope,
 * attn_softmax -> kq_softmax (aprender's [heads x seq x seq] zero-padded above the causal diagonal is
 * rosetta's prompt-step layout: n_kv = T, masked probabilities exactly 0), attention -> attn, attn_out,
 * post_attn_residual -> ffn_inp, ffn_norm, ffn_gate, ffn_up, ffn_swiglu (ffn_swigl) -> ffn_act, ffn_out,
 * post_ffn_residual -> l_out, final_norm -> result_norm, lm_head -> logits; qkv_bias (q|k|v after the
 * bias) or, without it, qkv_matmul -> the derived point qkv. attn_scores and ffn_silu have no rosetta
 * point (noted, not compared).
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import path from "node:path";

import { summarize } from "../bindings/kernels.js";
import type { F32Tensor } from "../trace/safetensors.js";
import { DERIVED_POINTS, GLOBAL_POINTS_AFTER, GLOBAL_POINTS_BEFORE, LAYER_POINTS, TRACE_FORMAT, TRACE_FORMAT_VERSION, type PointKind, type Trace, type TracePoint } from "../trace/types.js";
import { InputError } from "../util/errors.js";
import type { Imported, Importer, ImportOptions } from "./types.js";

const MAGIC = "APRT";
const WHOLE_MODEL = 0xffffffff;
const MAX_BYTES = 2 ** 31 - 1;

type Width = "hidden" | "q" | "k" | "qkv" | "ffn" | "kq" | "vocab";
interface Stage {
  point: PointKind | null;
  width: Width;
  global: boolean;
}

/** aprender's stages (snake_case of its enum), what they map to, and the width their count implies. */
const STAGES: Record<string, Stage> = {
  embedding: { point: "embd", width: "hidden", global: true },
  attn_norm: { point: "attn_norm", width: "hidden", global: false },
  qkv_matmul: { point: "qkv", width: "qkv", global: false },
  qkv_bias: { point: "qkv", width: "qkv", global: false },
  q_post_rope: { point: "q_rope", width: "q", global: false },
  k_post_rope: { point: "k_rope", width: "k", global: false },
  attn_scores: { point: null, width: "kq", global: false },
  attn_softmax: { point: "kq_softmax", width: "kq", global: false },
  attention: { point: "attn", width: "q", global: false },
  attn_out: { point: "attn_out", width: "hidden", global: false },
  post_attn_residual: { point: "ffn_inp", width: "hidden", global: false },
  ffn_norm: { point: "ffn_norm", width: "hidden", global: false },
  ffn_gate: { point: "ffn_gate", width: "ffn", global: false },
  ffn_up: { point: "ffn_up", width: "ffn", global: false },
  ffn_silu: { point: null, width: "ffn", global: false },
  ffn_swiglu: { point: "ffn_act", width: "ffn", global: false },
  ffn_out: { point: "ffn_out", width: "hidden", global: false },
  post_ffn_residual: { point: "l_out", width: "hidden", global: false },
  final_norm: { point: "result_norm", width: "hidden", global: true },
  lm_head: { point: "logits", width: "vocab", global: true },
};
const ALIASES: Record<string, string> = { ffn_swigl: "ffn_swiglu", embed: "embedding", output_norm: "final_norm" };
const DUMP_EXT = /\.(bin|aprt|f32)$/i;

/** The stage and the layer (null: none in the name) a dump's file name carries, or null. */
export function parseDumpName(file: string): { stage: string; layer: number | null } | null {
  const base = path.basename(file).replace(DUMP_EXT, "").toLowerCase();
  const known = (s: string) => {
    const k = ALIASES[s] ?? s;
    return k in STAGES ? k : null;
  };
  let m = /^(?:layer[_-]?|l|blk\.)(\d+)[_.-](.+)$/.exec(base);
  if (m && known(m[2])) return { stage: known(m[2])!, layer: Number(m[1]) };
  m = /^(.+?)[_.-](?:layer[_-]?|l)(\d+)$/.exec(base);
  if (m && known(m[1])) return { stage: known(m[1])!, layer: Number(m[2]) };
  const s = known(base);
  return s ? { stage: s, layer: null } : null;
}

interface Dump {
  file: string;
  stage: string;
  layer: number | null;
  data: Float32Array;
}

function fail(dir: string, msg: string): never {
  throw new InputError(`${dir}: aprender tensor dumps: ${msg}`);
}

/** One APRT file: header checked against the file's size. */
export function readAprt(file: string, buf: Buffer): { layer: number; data: Float32Array } {
  const name = path.basename(file);
  if (buf.length < 12) throw new InputError(`${file}: truncated APRT dump (${buf.length} bytes, the header alone is 12)`);
  const magic = buf.subarray(0, 4).toString("latin1");
  if (magic !== MAGIC) throw new InputError(`${file}: not an APRT dump (magic ${JSON.stringify(magic)}, expected "APRT")`);
  const layer = buf.readUInt32LE(4), n = buf.readUInt32LE(8);
  const want = 12 + 4 * n;
  if (buf.length < want) throw new InputError(`${file}: truncated APRT dump (${buf.length} bytes; its header says ${n} elements, ${want} bytes)`);
  if (buf.length > want) throw new InputError(`${file}: ${buf.length - want} byte(s) after the ${n} elements its header declares (${name} is not a single APRT dump)`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(12 + 4 * i);
  return { layer, data };
}

/** encoded_tokens and widths from an aprender trace JSON in the directory, if there is one. */
function companion(dir: string, files: string[]): { tokens: number[]; hidden?: number; nHead?: number; nKv?: number; nVocab?: number; nLayer?: number; file: string } | null {
  const found = [];
  for (const f of files.filter((x) => /\.json$/i.test(x))) {
    const full = path.join(dir, f);
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(readFileSync(full, "utf8"));
    } catch {
      continue;
    }
    if (!j || typeof j !== "object" || !Array.isArray(j.encoded_tokens)) continue;
    const toks = j.encoded_tokens;
    if (toks.length === 0 || !toks.every((t) => Number.isSafeInteger(t) && t >= 0)) fail(dir, `${f}: encoded_tokens must be a non-empty array of token ids`);
    const int = (k: string) => (Number.isSafeInteger(j[k]) && (j[k] as number) > 0 ? (j[k] as number) : undefined);
    found.push({ tokens: toks as number[], hidden: int("hidden_dim"), nHead: int("num_heads"), nKv: int("num_kv_heads"), nVocab: int("vocab_size"), nLayer: int("num_layers"), file: f });
  }
  if (found.length > 1) fail(dir, `more than one aprender trace JSON (${found.map((x) => x.file).join(", ")}): which one gives the tokens is ambiguous`);
  return found[0] ?? null;
}

export function importAprenderTensors(dir: string, options: ImportOptions = {}): Imported {
  let files: string[];
  try {
    files = readdirSync(dir).sort();
  } catch (e) {
    fail(dir, `cannot read the directory (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const notes: string[] = [];
  const comp = companion(dir, files);
  let tokens = options.tokens;
  if (tokens && comp && tokens.length !== comp.tokens.length) fail(dir, `--tokens gives ${tokens.length} token(s), ${comp.file} ${comp.tokens.length}`);
  tokens ??= comp?.tokens;
  if (!tokens || tokens.length === 0) fail(dir, "the prompt tokens are unknown: put aprender's trace JSON (apr trace --json) beside the dumps, or give --tokens");
  const T = tokens.length;
  const dumps: Dump[] = [];
  let total = 0;
  for (const f of files) {
    const full = path.join(dir, f);
    if (/\.json$/i.test(f)) continue;
    if (!statSync(full).isFile()) continue;
    const m = parseDumpName(f);
    if (!m) fail(dir, `${f}: cannot tell its stage from the file name (expected <stage>.bin, <stage>_L<n>.bin or layer<n>_<stage>.aprt; stages: ${Object.keys(STAGES).join(", ")})`);
    const size = statSync(full).size;
    total += size;
    if (size > MAX_BYTES || total > 8 * MAX_BYTES) fail(dir, `${f}: too large to import (${size} bytes)`);
    const { layer, data } = readAprt(full, readFileSync(full));
    const st = STAGES[m.stage];
    let lay: number | null = layer === WHOLE_MODEL ? null : layer;
    if (m.layer !== null && lay !== null && m.layer !== lay) fail(dir, `${f}: the name says layer ${m.layer}, the header ${lay}`);
    if (m.layer !== null && lay === null && !st.global) lay = m.layer;
    if (st.global) lay = null; // the embedding may carry layer 0
    else if (lay === null) fail(dir, `${f}: ${m.stage} is a per-layer stage, but the header says whole-model (0xFFFFFFFF) and the name gives no layer`);
    dumps.push({ file: f, stage: m.stage, layer: lay, data });
  }
  if (dumps.length === 0) fail(dir, "no APRT dumps (*.bin, *.aprt) in the directory");
  const seen = new Map<string, string>();
  for (const d of dumps) {
    const k = `${d.stage}@${d.layer}`;
    if (seen.has(k)) fail(dir, `${d.file} and ${seen.get(k)} are both ${d.stage}${d.layer === null ? "" : ` of layer ${d.layer}`}`);
    seen.set(k, d.file);
  }

  // widths from the counts, each stage class one width (the JSON's where known)
  const widths: Partial<Record<Width, number>> = {};
  if (comp?.hidden) widths.hidden = comp.hidden;
  let nHead = comp?.nHead;
  const logitsLast = { v: false };
  const shapeOf = (d: Dump): number[] => {
    const st = STAGES[d.stage], n = d.data.length;
    const where = `${d.file} (${d.stage}${d.layer === null ? "" : `, layer ${d.layer}`})`;
    if (st.width === "kq") {
      const h = n / (T * T);
      if (!Number.isInteger(h) || h < 1) fail(dir, `${where}: ${n} elements are not heads x ${T} x ${T}`);
      if (nHead !== undefined && h !== nHead) fail(dir, `${where}: ${n} elements are ${h} heads x ${T} x ${T}, the model has ${nHead} heads`);
      nHead = h;
      return [h, T, T];
    }
    if (st.width === "vocab") {
      const V = comp?.nVocab;
      if (V !== undefined) {
        if (n === T * V) return [T, V];
        if (n === V) return (logitsLast.v = true), [1, V];
        fail(dir, `${where}: ${n} elements are neither ${T} token(s) x vocab ${V} (${T * V}) nor the last position (${V})`);
      }
      if (T > 1 && n % T === 0) {
        notes.push(`lm_head: vocab size unknown (no trace JSON): ${n} elements taken as all ${T} positions`);
        return [T, n / T];
      }
      logitsLast.v = true;
      return [1, n];
    }
    if (n % T !== 0 || n === 0) fail(dir, `${where}: ${n} elements are not ${T} token(s) x a width`);
    const w = n / T;
    const have = widths[st.width];
    if (have !== undefined && have !== w) fail(dir, `${where}: ${n} elements are ${T} token(s) x ${w}, expected width ${have} (${T * have} elements)`);
    widths[st.width] = w;
    return [T, w];
  };
  const shapes = dumps.map(shapeOf);
  if (widths.q !== undefined && widths.k !== undefined && widths.qkv !== undefined && widths.qkv !== widths.q + 2 * widths.k)
    fail(dir, `qkv width ${widths.qkv} is not q ${widths.q} + 2 x k ${widths.k}`);

  const hasBias = dumps.some((d) => d.stage === "qkv_bias");
  if (hasBias && dumps.some((d) => d.stage === "qkv_matmul")) notes.push("qkv_matmul (before the bias) not compared: qkv is qkv_bias (q|k|v after the bias add)");
  else if (dumps.some((d) => d.stage === "qkv_matmul")) notes.push("qkv is qkv_matmul (before any bias): the same as q|k|v only for models without a QKV bias");
  for (const s of ["attn_scores", "ffn_silu"]) if (dumps.some((d) => d.stage === s)) notes.push(`${s} has no rosetta capture point: not compared`);

  const order: string[] = [...GLOBAL_POINTS_BEFORE, ...LAYER_POINTS, ...DERIVED_POINTS, ...GLOBAL_POINTS_AFTER];
  const rank = (p: PointKind) => (p === "qkv" ? order.indexOf("v") + 0.5 : order.indexOf(p));
  const points: TracePoint[] = [];
  const tensors = new Map<string, F32Tensor>();
  const rows: { d: Dump; shape: number[]; point: PointKind }[] = [];
  dumps.forEach((d, i) => {
    const st = STAGES[d.stage];
    if (!st.point || (d.stage === "qkv_matmul" && hasBias)) return;
    rows.push({ d, shape: shapes[i], point: st.point });
  });
  const g = (r: (typeof rows)[number]) => (r.d.layer === null ? (GLOBAL_POINTS_BEFORE as readonly string[]).includes(r.point) ? -1 : 1e9 : r.d.layer);
  rows.sort((x, y) => g(x) - g(y) || rank(x.point) - rank(y.point));
  for (const { d, shape, point } of rows) {
    const key = d.layer === null ? point : `blk.${d.layer}.${point}`;
    const tp: TracePoint = { key, point, layer: d.layer, step: 0, shape, firstPos: 0, tokens: T, all: null, last: null, source: { importer: "aprender-tensors", file: d.file, stage: d.stage } };
    if (point === "logits" && logitsLast.v) {
      // the last position only: a summary of it (a full tensor needs both samples, docs/trace-format.md)
      tp.shape = [T, shape[1]];
      tp.last = summarize(d.data);
      if (T === 1) tp.all = tp.last;
      notes.push("lm_head holds the last position only: logits compared by its summary");
    } else {
      const W = d.data.length / (point === "kq_softmax" ? 1 : T);
      tp.all = summarize(d.data);
      if (point === "kq_softmax") {
        const [h, t, k] = shape;
        const last = new Float32Array(h * k);
        for (let i = 0; i < h; i++) last.set(d.data.subarray((i * t + t - 1) * k, (i * t + t) * k), i * k);
        tp.last = summarize(last);
      } else tp.last = summarize(d.data, { offset: (T - 1) * W, count: W });
      tp.tensor = key;
      tensors.set(key, { shape, data: d.data });
    }
    points.push(tp);
  }
  const layers = dumps.map((d) => d.layer).filter((l): l is number => l !== null);
  const nLayer = comp?.nLayer ?? (layers.length ? layers.reduce((m, l) => Math.max(m, l), -1) + 1 : undefined);
  const config: Record<string, unknown> = {};
  if (nLayer !== undefined) config.nLayer = nLayer;
  if (widths.hidden !== undefined) config.nEmbd = widths.hidden;
  if (widths.ffn !== undefined) config.nFf = widths.ffn;
  if (nHead !== undefined) {
    config.nHead = nHead;
    const q = widths.q ?? widths.hidden;
    if (q !== undefined && q % nHead === 0) {
      config.headDim = q / nHead;
      if (widths.k !== undefined && widths.k % (q / nHead) === 0) config.nHeadKv = widths.k / (q / nHead);
    }
  }
  if (comp?.nVocab !== undefined) config.nVocab = comp.nVocab;
  else if (points.find((p) => p.point === "logits")) config.nVocab = points.find((p) => p.point === "logits")!.shape[1];
  notes.unshift(`full tensors of ${points.filter((p) => p.tensor).length} point(s) from ${dumps.length} APRT dump(s); tokens from ${options.tokens ? "--tokens" : comp!.file}`);
  const trace: Trace = {
    format: TRACE_FORMAT,
    version: TRACE_FORMAT_VERSION,
    engine: { name: "aprender", settings: { path: "apr", imported: true, saveTensor: true } },
    model: { path: dir, config },
    input: { tokens, generated: [] },
    points,
    imported: { format: "aprender-tensors", from: dir, notes: [...new Set(notes)] },
  };
  return { trace, tensors };
}

/** Whether a directory holds APRT dumps (the first dump-named file starts with "APRT"). */
function sniffDir(dir: string): boolean {
  let files: string[];
  try {
    files = readdirSync(dir).sort();
  } catch {
    return false;
  }
  for (const f of files) {
    if (/\.json$/i.test(f)) continue;
    let fd: number | null = null;
    try {
      fd = openSync(path.join(dir, f), "r");
      const b = Buffer.alloc(4);
      readSync(fd, b, 0, 4, 0);
      if (b.toString("latin1") === MAGIC) return true;
    } catch {
      // a subdirectory or unreadable entry: not evidence either way
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }
  return false;
}

export const aprenderTensorsImporter: Importer = {
  format: "aprender-tensors",
  describe: "a directory of aprender's `--save-tensor` APRT stage dumps (full tensors; stage from the file name)",
  sniff: (head) => head.startsWith(MAGIC),
  sniffDir,
  read: (dir, options) => {
    if (!statSync(dir).isDirectory()) fail(dir, "give the directory holding the dumps (the stage is in each file's name)");
    return importAprenderTensors(dir, options);
  },
};
