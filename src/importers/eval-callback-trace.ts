/**
 * llama.cpp's `llama-eval-callback` output as a rosetta trace (the parser and the node -> point rules:
 * llama-eval-callback.ts). What a dump carries, per node: the shape, the sum, and the first and last 3
 * values along each dimension (4 decimals). So each mapped point gets a partial summary (count and mean,
 * `known`), and its printed elements (`elements`, with the printing precision), which the comparator
 * checks against the other side's full tensor. The input token ids come from the program's log beside
 * the dump (`NAME.stderr.txt`, or `NAME.stderr`). Nodes llama.cpp computed for the last token only (the
 * last layer's FFN and the output, unless all logits were asked for) become last-token samples.
 */
import { existsSync, readFileSync, statSync } from "node:fs";

import { TRACE_FORMAT, TRACE_FORMAT_VERSION, type PointKind, type Summary, type Trace, type TracePoint } from "../trace/types.js";
import { InputError } from "../util/errors.js";
import { EvalCallbackParseError, mapEvalCallbackNodes, parseEvalCallbackDump, parseEvalCallbackTokens } from "./llama-eval-callback.js";
import type { Imported, Importer } from "./types.js";

const MAX_BYTES = 256 << 20;

function partial(count: number, mean: number): Summary {
  return { count, nan: 0, inf: 0, zeros: 0, mean, std: 0, min: 0, max: 0, absmax: 0, l2: 0, known: ["count", "mean"] };
}

function tokensFor(file: string): number[] {
  const base = file.replace(/\.txt$/, "");
  for (const f of [`${base}.stderr.txt`, `${base}.stderr`, `${file}.stderr`]) {
    if (!existsSync(f)) continue;
    const t = parseEvalCallbackTokens(readFileSync(f, "utf8"));
    if (t) return t;
    throw new InputError(`${f}: no "number of input tokens" list in the log: the token ids of ${file} are unknown`);
  }
  throw new InputError(`${file}: the input token ids are unknown: put llama-eval-callback's log (stderr) beside it as ${base}.stderr.txt, or give --tokens to rosetta import`);
}

export function importEvalCallback(file: string, text: string, tokenIds?: number[]): Imported {
  let parsed;
  try {
    parsed = parseEvalCallbackDump(text, file);
  } catch (e) {
    if (e instanceof EvalCallbackParseError) throw new InputError(e.message);
    throw e;
  }
  const tokens = tokenIds ?? tokensFor(file);
  const T = tokens.length;
  const mapped = mapEvalCallbackNodes(parsed.nodes);
  const nLayer = 1 + mapped.reduce((m, x) => Math.max(m, x.layer ?? -1), -1);
  const points: TracePoint[] = [];
  const seen = new Set<string>();
  const notes = [...parsed.warnings, "from the printed sum and the first/last 3 values per dimension (4 decimals): count and mean only, and those elements"];
  for (const m of mapped) {
    if (seen.has(m.key)) continue; // one graph: a second occurrence would be another ubatch
    seen.add(m.key);
    const nd = m.node;
    if (nd.sum === undefined) {
      notes.push(`${m.key}: ${nd.type} values not printed (quantized): not compared`);
      continue;
    }
    const n = nd.shape.reduce((x, y) => x * y, 1);
    const kq = m.point === "kq_softmax";
    // per-token points: [T, width] (all tokens) or [width] (the last token only)
    const lastOnly = !kq && (nd.shape.length === 1 || nd.shape[0] === 1) && T > 1;
    const width = kq ? 0 : lastOnly ? n : n / T;
    if (!kq && !lastOnly && (nd.shape[0] !== T || !Number.isInteger(width))) {
      throw new InputError(`${file}:${nd.line}: node ${nd.name} has shape [${nd.shape.join(", ")}], which is neither ${T} tokens x width nor one token`);
    }
    const shape = kq ? nd.shape : [T, width];
    const s = partial(n, nd.sum / n);
    const offset = lastOnly ? (T - 1) * width : 0;
    points.push({
      key: m.key, point: m.point as PointKind, layer: m.layer, step: 0, shape, firstPos: 0, tokens: T,
      all: lastOnly ? null : s, last: lastOnly ? s : T === 1 ? s : null,
      elements: { index: nd.printed.index.map((i) => i + offset), values: nd.printed.values, tolerance: nd.tolerance },
      source: { name: nd.name, occurrence: nd.occurrence, op: nd.op, line: nd.line },
    });
  }
  const trace: Trace = {
    format: TRACE_FORMAT,
    version: TRACE_FORMAT_VERSION,
    engine: { name: "llama.cpp", settings: { program: "llama-eval-callback", imported: true } },
    model: { path: file, config: { nLayer } },
    input: { tokens, generated: [] },
    points,
    imported: { format: "llama-eval-callback", from: file, notes },
  };
  return { trace, tensors: new Map() };
}

export const evalCallbackImporter: Importer = {
  format: "llama-eval-callback",
  describe: "llama.cpp's llama-eval-callback output (node sums and printed values; the token ids from its log beside it)",
  sniff: (head) => /common_debug_cb_eval:|ggml_debug:/.test(head),
  read: (file, o) => {
    const size = statSync(file).size;
    if (size > MAX_BYTES) throw new InputError(`${file}: ${size} bytes is larger than rosetta reads as an eval-callback dump (${MAX_BYTES})`);
    return importEvalCallback(file, readFileSync(file, "utf8"), o?.tokens);
  },
};
