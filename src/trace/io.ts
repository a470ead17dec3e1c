/**
 * Trace files: `<base>.json` (the Trace, src/trace/types.ts) and, when full tensors were captured,
 * `<base>.safetensors` beside it. Format: docs/trace-format.md. Reading validates everything a
 * comparator relies on and says what is wrong in one line (InputError, exit 2).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { InputError, UnsupportedError } from "../util/errors.js";
import { encodeSafetensors, readSafetensors, type F32Tensor } from "./safetensors.js";
import { TRACE_FORMAT, TRACE_FORMAT_VERSION, type Summary, type Trace, type TracePoint } from "./types.js";

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
    writeFileSync(base + ".safetensors", encodeSafetensors(tensors, { format: TRACE_FORMAT, version: String(TRACE_FORMAT_VERSION) }));
  } else {
    delete t.tensors;
  }
  writeFileSync(base + ".json", serializeTrace(t));
  return base + ".json";
}

function fail(file: string, msg: string): never {
  throw new InputError(`${file}: not a valid rosetta trace: ${msg}`);
}

const SUMMARY_KEYS = ["count", "nan", "inf", "zeros", "mean", "std", "min", "max", "absmax", "l2"] as const;

function checkSummary(file: string, where: string, s: unknown): Summary {
  if (typeof s !== "object" || s === null) fail(file, `${where} is not an object`);
  const o = s as Record<string, unknown>;
  for (const k of SUMMARY_KEYS) {
    const v = o[k];
    if (v === null && (k === "min" || k === "max")) o[k] = NaN;
    else if (typeof v !== "number") fail(file, `${where}.${k} is not a number`);
  }
  return o as unknown as Summary;
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

function checkPoint(file: string, i: number, p: unknown): TracePoint {
  const where = `points[${i}]`;
  if (typeof p !== "object" || p === null) fail(file, `${where} is not an object`);
  const o = p as Record<string, unknown>;
  if (typeof o.key !== "string" || typeof o.point !== "string") fail(file, `${where} has no key/point`);
  if (o.layer !== null && !isInt(o.layer)) fail(file, `${where}.layer must be an integer or null`);
  if (!isInt(o.step) || !isInt(o.firstPos) || !isInt(o.tokens)) fail(file, `${where} step/firstPos/tokens must be integers`);
  if (!Array.isArray(o.shape) || !o.shape.every(isInt)) fail(file, `${where}.shape must be an array of integers`);
  checkSummary(file, `${where}.all`, o.all);
  checkSummary(file, `${where}.last`, o.last);
  if (o.tensor !== undefined && typeof o.tensor !== "string") fail(file, `${where}.tensor must be a string`);
  return o as unknown as TracePoint;
}

/** Parses and validates trace JSON text (`file` names it in errors). */
export function parseTrace(text: string, file = "trace"): Trace {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    fail(file, `not JSON (${(e as Error).message})`);
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) fail(file, "top level is not an object");
  const o = j as Record<string, unknown>;
  if (o.format !== TRACE_FORMAT) fail(file, `format is ${JSON.stringify(o.format)}, expected "${TRACE_FORMAT}"`);
  if (!isInt(o.version) || o.version < 1) fail(file, "version must be a positive integer");
  if (o.version > TRACE_FORMAT_VERSION)
    throw new UnsupportedError(`${file}: trace format version ${o.version} is newer than this rosetta reads (${TRACE_FORMAT_VERSION})`);
  const engine = o.engine as Record<string, unknown> | undefined;
  if (!engine || typeof engine.name !== "string" || typeof engine.settings !== "object" || engine.settings === null)
    fail(file, "engine must have a name and settings");
  if (typeof o.model !== "object" || o.model === null) fail(file, "model must be an object");
  const model = o.model as Record<string, unknown>;
  for (const k of ["config", "metadata"])
    if (model[k] !== undefined && (typeof model[k] !== "object" || model[k] === null || Array.isArray(model[k]))) fail(file, `model.${k} must be an object`);
  const input = o.input as Record<string, unknown> | undefined;
  if (!input || !Array.isArray(input.tokens) || !input.tokens.every(isInt)) fail(file, "input.tokens must be an array of integers");
  if (!Array.isArray(input.generated) || !input.generated.every(isInt)) fail(file, "input.generated must be an array of integers");
  if (!Array.isArray(o.points)) fail(file, "points must be an array");
  o.points.forEach((p, i) => checkPoint(file, i, p));
  if (o.logits !== undefined) {
    const l = o.logits as Record<string, unknown>;
    if (!isInt(l.k) || !Array.isArray(l.top)) fail(file, "logits must have k and top");
    l.top.forEach((t: unknown, i: number) => {
      const e = t as Record<string, unknown>;
      if (!isInt(e?.pos) || !Array.isArray(e.ids) || !Array.isArray(e.logits) || e.ids.length !== e.logits.length)
        fail(file, `logits.top[${i}] must have pos, ids and logits of equal length`);
    });
  }
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

export function readTrace(file: string): Trace {
  if (!existsSync(file)) throw new InputError(`${file}: no such trace file`);
  return parseTrace(readFileSync(file, "utf8"), file);
}

/** Loads the full tensors a trace refers to (empty map when it has none). */
export function readTraceTensors(file: string, trace: Trace): Map<string, F32Tensor> {
  if (!trace.tensors) return new Map();
  const st = path.resolve(path.dirname(file), trace.tensors);
  if (!existsSync(st)) throw new InputError(`${file}: its tensor file ${trace.tensors} is missing`);
  const { tensors } = readSafetensors(st);
  for (const p of trace.points) {
    if (p.tensor && !tensors.has(p.tensor)) throw new InputError(`${st}: tensor ${p.tensor} (point ${p.key}) is missing`);
  }
  return tensors;
}
