/**
 * Trace files: `<base>.json` (the Trace, src/trace/types.ts) and, when full tensors were captured,
 * `<base>.safetensors` beside it. Format: docs/trace-format.md. Reading validates everything a
 * comparator relies on and says what is wrong in one line (InputError, exit 2).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

import { writeFileAtomic } from "../util/atomic.js";

import { summarize } from "../bindings/kernels.js";
import { InputError, UnsupportedError } from "../util/errors.js";
import { decodeSafetensors, encodeSafetensors, type F32Tensor } from "./safetensors.js";
import { lastTokenSlice, TRACE_FORMAT, TRACE_FORMAT_VERSION, type Summary, type Trace, type TracePoint } from "./types.js";

/** `out/x.json` or `out/x` -> `out/x` (the base both files are named from). */
export function traceBase(out: string): string {
  return out.endsWith(".json") ? out.slice(0, -".json".length) : out;
}

// NaN (min/max of an all-non-finite sample) is not JSON: written as null, read back as NaN.
function replacer(_k: string, v: unknown): unknown {
  return typeof v === "number" && !Number.isFinite(v) ? null : v;
}

/** Deterministic text: top level indented, one point per line (small, diffable, byte-stable). */
export function serializeTrace(trace: Trace): string {
  const { points, logits, ...rest } = trace;
  const head = JSON.stringify(rest, replacer, 1).slice(0, -2);
  const pts = points.map((p) => "  " + JSON.stringify(p, replacer)).join(",\n");
  let s = head + `,\n "points": [\n${pts}\n ]`;
  if (logits) {
    const { top, ...lrest } = logits;
    const tops = top.map((t) => "  " + JSON.stringify(t, replacer)).join(",\n");
    const lhead = JSON.stringify(lrest).slice(1, -1);
    s += `,\n "logits": {${lhead}${lhead ? "," : ""}"top": [\n${tops}\n ]}`;
  }
  return s + "\n}\n";
}

/** Writes `<base>.json` and, if `tensors` is non-empty, `<base>.safetensors`; returns the JSON path. */
export function writeTrace(out: string, trace: Trace, tensors?: Map<string, F32Tensor>): string {
  const base = traceBase(out);
  const t: Trace = { ...trace };
  if (tensors && tensors.size > 0) {
    t.tensors = path.basename(base) + ".safetensors";
    writeFileAtomic(base + ".safetensors", encodeSafetensors(tensors, { format: TRACE_FORMAT, version: String(TRACE_FORMAT_VERSION) }));
  } else {
    delete t.tensors;
  }
  writeFileAtomic(base + ".json", serializeTrace(t));
  return base + ".json";
}

function fail(file: string, msg: string): never {
  throw new InputError(`${file}: not a valid rosetta trace: ${msg}`);
}

const SUMMARY_KEYS = ["count", "nan", "inf", "zeros", "mean", "std", "min", "max", "absmax", "l2"] as const;
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isCount = (v: unknown): v is number => isInt(v) && v >= 0;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
// Relative slack for summary relations (|mean| <= absmax, ...): an engine may accumulate in f32.
const REL = 1e-5;

/**
 * A summary that cannot describe any sample (negative or fractional counts, Infinity from `1e999`,
 * min > max, |mean| > absmax, ...) would feed absurd bounds to the comparator: refuse it here.
 */
function checkSummary(file: string, where: string, s: unknown): Summary {
  if (!isObj(s)) fail(file, `${where} is not an object`);
  const o = s;
  if (o.known !== undefined) {
    // a partial summary (an imported dump): the listed fields are measured, the rest are placeholders
    if (!Array.isArray(o.known) || !o.known.every((k) => (SUMMARY_KEYS as readonly string[]).includes(k as string)) || !o.known.includes("count"))
      fail(file, `${where}.known must list summary fields, count included`);
    for (const k of SUMMARY_KEYS) if (typeof o[k] !== "number" || !Number.isFinite(o[k])) fail(file, `${where}.${k} is not a finite number`);
    if (!isCount(o.count)) fail(file, `${where}.count must be a non-negative integer`);
    return o as unknown as Summary;
  }
  for (const k of SUMMARY_KEYS) {
    const v = o[k];
    if (v === null && (k === "min" || k === "max")) o[k] = NaN;
    else if (typeof v !== "number") fail(file, `${where}.${k} is not a number`);
    else if (!Number.isFinite(v)) fail(file, `${where}.${k} is not finite`);
  }
  const x = o as unknown as Summary;
  if (![x.count, x.nan, x.inf, x.zeros].every(isCount)) fail(file, `${where}: count/nan/inf/zeros must be non-negative integers`);
  const finite = x.count - x.nan - x.inf;
  if (finite - x.zeros < 0) fail(file, `${where}: nan + inf + zeros (${x.nan + x.inf + x.zeros}) exceed count (${x.count})`);
  if (x.std < 0 || x.absmax < 0 || x.l2 < 0) fail(file, `${where}: std, absmax and l2 must be >= 0`);
  if (finite > 0) {
    if (Number.isNaN(x.min) || Number.isNaN(x.max)) fail(file, `${where}: min/max are null but ${finite} element(s) are finite`);
    if (x.min > x.max) fail(file, `${where}: min ${x.min} > max ${x.max}`);
    const am = Math.max(Math.abs(x.min), Math.abs(x.max));
    const slack = REL * am + Number.MIN_VALUE;
    if (Math.abs(x.absmax - am) > slack) fail(file, `${where}: absmax ${x.absmax} is not max(|min|, |max|) = ${am}`);
    if (Math.abs(x.mean) > am + slack || x.std > am + slack || x.l2 > am * Math.sqrt(finite) * (1 + REL) + Number.MIN_VALUE)
      fail(file, `${where}: mean/std/l2 (${x.mean}, ${x.std}, ${x.l2}) are impossible for absmax ${am} over ${finite} finite element(s)`);
  }
  return x;
}

/** Nesting this deep is no trace (and would overflow the stack of JSON.stringify when a report echoes it). */
const MAX_DEPTH = 64;

function checkDepth(file: string, root: unknown): void {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (d > MAX_DEPTH) fail(file, `JSON nested deeper than ${MAX_DEPTH} levels`);
    for (const c of Object.values(v)) if (typeof c === "object" && c !== null) stack.push([c, d + 1]);
  }
}

function checkPoint(file: string, i: number, p: unknown, input: { tokens: number[]; generated: number[] }): TracePoint {
  const where = `points[${i}]`;
  if (!isObj(p)) fail(file, `${where} is not an object`);
  const o = p;
  if (typeof o.key !== "string" || typeof o.point !== "string") fail(file, `${where} has no key/point`);
  if (o.layer !== null && !isCount(o.layer)) fail(file, `${where}.layer must be a non-negative integer or null`);
  if (o.key !== (o.layer === null ? o.point : `blk.${o.layer}.${o.point}`))
    fail(file, `${where}.key ${JSON.stringify(o.key)} does not name point ${JSON.stringify(o.point)} of layer ${String(o.layer)}`);
  if (!isCount(o.step) || !isCount(o.firstPos) || !isInt(o.tokens) || o.tokens < 1) fail(file, `${where}: step/firstPos must be non-negative integers and tokens positive`);
  if (o.step > input.generated.length) fail(file, `${where}.step ${o.step} is past the ${input.generated.length} decode step(s) of input.generated`);
  if (o.firstPos + o.tokens > input.tokens.length + input.generated.length)
    fail(file, `${where} covers positions [${o.firstPos}, ${o.firstPos + o.tokens}) beyond the ${input.tokens.length + input.generated.length} input tokens`);
  if (!Array.isArray(o.shape) || o.shape.length === 0 || !o.shape.every((d) => isInt(d) && d >= 1)) fail(file, `${where}.shape must be a non-empty array of positive integers`);
  // an imported trace may record one of the two samples only (an engine that summarized the last token)
  if (o.all === null && o.last === null) fail(file, `${where}: neither the all-token nor the last-token summary is recorded`);
  const all = o.all === null ? null : checkSummary(file, `${where}.all`, o.all);
  const last = o.last === null ? null : checkSummary(file, `${where}.last`, o.last);
  const shape = o.shape as number[];
  const n = shape.reduce((a, d) => a * d, 1);
  const tokDim = o.point === "kq_softmax" ? shape[1] : shape[0];
  if (tokDim !== o.tokens || (all && n !== all.count) || (last && last.count * o.tokens !== n))
    fail(file, `${where}: shape [${shape.join(", ")}] (${n} elements), tokens ${o.tokens} and counts (all ${all?.count ?? "-"}, last ${last?.count ?? "-"}) disagree`);
  if (all && last && (last.nan > all.nan || last.inf > all.inf || last.zeros > all.zeros)) fail(file, `${where}: the last token has more nan/inf/zeros than all tokens`);
  if (o.tensor !== undefined && (all === null || last === null)) fail(file, `${where}: a point with a full tensor must record both summaries`);
  if (o.tensor !== undefined && typeof o.tensor !== "string") fail(file, `${where}.tensor must be a string`);
  if (o.source !== undefined && !isObj(o.source)) fail(file, `${where}.source must be an object`);
  if (o.elements !== undefined) {
    const e = o.elements as Record<string, unknown>;
    if (!isObj(e) || !Array.isArray(e.index) || !Array.isArray(e.values) || e.index.length !== e.values.length || typeof e.tolerance !== "number" || !(e.tolerance >= 0))
      fail(file, `${where}.elements must have index and values of equal length and a tolerance >= 0`);
    if (!e.index.every((i) => isCount(i) && (i as number) < n)) fail(file, `${where}.elements.index must be element indices below ${n}`);
    if (!e.values.every((v) => v === null || typeof v === "number")) fail(file, `${where}.elements.values must be numbers`);
  }
  return o as unknown as TracePoint;
}

function checkLogits(file: string, l: unknown): void {
  if (!isObj(l) || !isCount(l.k) || !Array.isArray(l.top)) fail(file, "logits must have k and top");
  l.top.forEach((t: unknown, i: number) => {
    const e = t as Record<string, unknown>;
    if (!isObj(e) || !isCount(e.pos) || !Array.isArray(e.ids) || !Array.isArray(e.logits) || e.ids.length !== e.logits.length)
      fail(file, `logits.top[${i}] must have pos, ids and logits of equal length`);
    // a NaN logit is written as null
    if (!e.ids.every(isCount) || !e.logits.every((v) => v === null || typeof v === "number")) fail(file, `logits.top[${i}]: ids must be token ids and logits numbers`);
  });
  if (l.tensor !== undefined && typeof l.tensor !== "string") fail(file, "logits.tensor must be a string");
}

function checkHeader(file: string, o: Record<string, unknown>): void {
  if (o.format !== TRACE_FORMAT) fail(file, `format is ${JSON.stringify(o.format)}, expected "${TRACE_FORMAT}"`);
  if (!isInt(o.version) || o.version < 1) fail(file, "version must be a positive integer");
  if (o.version > TRACE_FORMAT_VERSION)
    throw new UnsupportedError(`${file}: trace format version ${o.version} is newer than this rosetta reads (${TRACE_FORMAT_VERSION})`);
  const engine = o.engine;
  if (!isObj(engine) || typeof engine.name !== "string" || !isObj(engine.settings)) fail(file, "engine must have a name and settings");
  if (engine.version !== undefined && typeof engine.version !== "string") fail(file, "engine.version must be a string");
  if (!isObj(o.model)) fail(file, "model must be an object");
  const model = o.model;
  for (const k of ["config", "metadata"]) if (model[k] !== undefined && !isObj(model[k])) fail(file, `model.${k} must be an object`);
  for (const k of ["path", "sha256", "arch", "fileType", "format"]) if (model[k] !== undefined && typeof model[k] !== "string") fail(file, `model.${k} must be a string`);
}

/** Parses and validates trace JSON text (`file` names it in errors). Rules: docs/trace-format.md, "Validation on read". */
export function parseTrace(text: string, file = "trace"): Trace {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    fail(file, `not JSON (${(e as Error).message.replace(/\s+/g, " ")})`);
  }
  if (!isObj(j)) fail(file, "top level is not an object");
  const o = j;
  checkHeader(file, o);
  checkDepth(file, o);
  const input = o.input;
  if (!isObj(input) || !Array.isArray(input.tokens) || !input.tokens.every(isCount)) fail(file, "input.tokens must be an array of token ids");
  if (!Array.isArray(input.generated) || !input.generated.every(isCount)) fail(file, "input.generated must be an array of token ids");
  if (input.prompt !== undefined && typeof input.prompt !== "string") fail(file, "input.prompt must be a string");
  if (!Array.isArray(o.points)) fail(file, "points must be an array");
  const seen = new Set<string>();
  o.points.forEach((p, i) => {
    const pt = checkPoint(file, i, p, input as { tokens: number[]; generated: number[] });
    const id = `${pt.step}|${pt.key}`;
    if (seen.has(id)) fail(file, `points[${i}] repeats ${pt.key} of step ${pt.step}`);
    seen.add(id);
  });
  if (o.logits !== undefined) checkLogits(file, o.logits);
  if (o.tensors !== undefined && typeof o.tensors !== "string") fail(file, "tensors must be a file name");
  return o as unknown as Trace;
}

/**
 * A model file's scalar metadata as recorded in a trace (`model.metadata`): numbers (bigints as numbers),
 * booleans and strings up to 256 characters (a chat template says nothing about numerics); arrays dropped.
 * Sorted by key, so the JSON is deterministic.
 */
export function traceMetadata(md: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const k of Object.keys(md).sort()) {
    const v = md[k];
    if (typeof v === "bigint") out[k] = Number(v);
    else if (typeof v === "number" || typeof v === "boolean") out[k] = v;
    else if (typeof v === "string" && v.length <= 256) out[k] = v;
  }
  return out;
}

/** A regular file's text; anything else (missing, a directory, a device such as /dev/zero that never ends) is one error line. */
function readRegular(file: string, what: string, enc?: "utf8"): string | Buffer {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new InputError(`${file}: no such ${what}`);
  }
  if (!st.isFile()) throw new InputError(`${file}: not a regular file (${what})`);
  try {
    return readFileSync(file, enc);
  } catch (e) {
    throw new InputError(`${file}: cannot read ${what} (${(e as Error).message.split("\n")[0]})`);
  }
}

export function readTrace(file: string): Trace {
  return parseTrace(readRegular(file, "trace file", "utf8") as string, file);
}

/**
 * Loads the full tensors a trace refers to (empty map when it has none) and checks each against its
 * point: the shape, and the summaries (counts and NaN/Inf exactly, min/max/mean/l2 to rounding). The
 * comparator takes NaN/Inf counts from the summaries (the diff kernel skips non-finite pairs), so a
 * tensor that contradicts its summary must not get that far.
 */
export function readTraceTensors(file: string, trace: Trace): Map<string, F32Tensor> {
  if (!trace.tensors) return new Map();
  const st = path.resolve(path.dirname(file), trace.tensors);
  if (!existsSync(st)) throw new InputError(`${file}: its tensor file ${trace.tensors} is missing`);
  const { tensors } = decodeSafetensors(readRegular(st, "tensor file") as Buffer, st);
  for (const p of trace.points) {
    if (!p.tensor) continue;
    const t = tensors.get(p.tensor);
    if (!t) throw new InputError(`${st}: tensor ${p.tensor} (point ${p.key}) is missing`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i]))
      throw new InputError(`${st}: tensor ${p.tensor} has shape [${t.shape.join(", ")}], point ${p.key} of step ${p.step} says [${p.shape.join(", ")}]`);
    const why = (p.all && summaryDisagrees(t.data, p.all)) ?? (p.last && summaryDisagrees(lastTokenSlice(t.data, p.point, p.shape, p.tokens), p.last));
    if (why) throw new InputError(`${st}: tensor ${p.tensor} contradicts the summary of point ${p.key} of step ${p.step} (${why})`);
  }
  const lt = trace.logits?.tensor;
  if (lt !== undefined && !tensors.has(lt)) throw new InputError(`${st}: tensor ${lt} (logits.tensor) is missing`);
  return tensors;
}


const near = (a: number, b: number, scale: number) => Math.abs(a - b) <= 1e-4 * scale + 1e-30;

/** Why a summary does not describe these values, or null (the native stats of docs/metrics.md; engines may round differently). */
function summaryDisagrees(x: Float32Array, s: Summary): string | null {
  const { nan, inf, zeros, min, max, mean, l2 } = summarize(x);
  if (x.length !== s.count || nan !== s.nan || inf !== s.inf || zeros !== s.zeros)
    return `count/nan/inf/zeros ${x.length}/${nan}/${inf}/${zeros}, summary ${s.count}/${s.nan}/${s.inf}/${s.zeros}`;
  if (x.length === nan + inf) return null;
  const am = Math.max(-min, max);
  if (!near(min, s.min, am) || !near(max, s.max, am) || !near(mean, s.mean, am) || !near(l2, s.l2, l2))
    return `min/max/mean/l2 ${min}/${max}/${mean}/${l2}, summary ${s.min}/${s.max}/${s.mean}/${s.l2}`;
  return null;
}
