/**
 * Weight-level diff of two loaded models (`rosetta diff-weights A B`, and the evidence the comparison
 * uses): tensors matched by role; missing/extra (a zero bias against none is the same function); dims
 * (row-major, so GGUF's innermost-first order never looks transposed); dtypes; byte identity; then, for
 * every tensor that differs, what it is on the other side (correspondence.ts: a copy of another tensor,
 * an exchange, a scale/sign/offset, a transposition, rows/heads permuted, corrupted rows or blocks,
 * quantization noise); Q/K across RoPE layouts modulo the NORM/NEOX row permutation; metadata.
 */
import { realpathSync } from "node:fs";

import type { LoadedModel, TensorView } from "../formats/model.js";
import { diffMetrics } from "../bindings/kernels.js";
import { ModelBytes } from "../formats/bytes.js";
import { diffMetadata, metadataFindings } from "./config-diff.js";
import { bytesOf, matchFloorDb, Matcher, type Src } from "./correspondence.js";
import { describe, fmt } from "./format.js";
import type { DiffFn } from "./metrics.js";
import { finding, type Finding, type TensorDiff, type WeightDiff } from "./result.js";
import { normType, weightSqnrFloor } from "./tolerances.js";
import type { DiagnosisId } from "./vocabulary.js";

export interface WeightDiffOptions {
  /** Tensors larger than this are compared on their first rows only (default 8M elements). */
  maxElements?: number;
  diff?: DiffFn;
  /** Called per tensor (progress on long runs). */
  onTensor?: (i: number, n: number, key: string) => void;
  /**
   * How two same-type tensors are found byte-identical: "full" reads both in full (diff-weights);
   * "sampled" compares SAMPLE_BLOCKS blocks spread over each tensor and calls a tensor whose samples all
   * agree "sampled-identical" (never "identical"), so identical tensors cost no pass over either file;
   * a differing sample is a difference as sure as a full read (the comparison, whose runs and
   * experiments test every finding, uses it). Default "full".
   */
  identity?: "full" | "sampled";
}

/** Sampled identity: this many blocks of SAMPLE_BYTES, evenly spread, the first and the last included. */
export const SAMPLE_BLOCKS = 64;
export const SAMPLE_BYTES = 4096;

/** Same bytes in full (true), or at every sampled block ("sampled", with the bytes compared), or not (false). */
function sameBytes(x: Uint8Array, y: Uint8Array, mode: "full" | "sampled"): boolean | { sampled: number } {
  const n = x.length;
  if (mode === "full" || n <= SAMPLE_BLOCKS * SAMPLE_BYTES * 4) return Buffer.compare(x, y) === 0;
  let bytes = 0;
  for (let i = 0; i < SAMPLE_BLOCKS; i++) {
    const at = Math.floor(((n - SAMPLE_BYTES) * i) / (SAMPLE_BLOCKS - 1));
    if (Buffer.compare(x.subarray(at, at + SAMPLE_BYTES), y.subarray(at, at + SAMPLE_BYTES)) !== 0) return false;
    bytes += SAMPLE_BYTES;
  }
  return { sampled: bytes };
}

function base(key: string, ta: TensorView | undefined, tb: TensorView | undefined): TensorDiff {
  return {
    key,
    layer: (ta ?? tb)?.layer ?? null,
    nameA: ta?.name ?? null,
    nameB: tb?.name ?? null,
    dimsA: ta?.dims ?? null,
    dimsB: tb?.dims ?? null,
    typeA: ta ? normType(ta.typeName) : null,
    typeB: tb ? normType(tb.typeName) : null,
    status: "not-compared",
    sqnrDb: null,
    floorDb: ta && tb ? weightSqnrFloor(ta.typeName, tb.typeName) : null,
    cosine: null,
  };
}

function tiedOutput(key: string, m: LoadedModel): boolean {
  return key === "output" && m.config.tiedEmbeddings;
}

const QK = /^(?:blk\.\d+\.)?attn_[qk](?:_bias)?$/;

/** Q/K weights of two sides whose RoPE layouts differ: equal modulo the NORM/NEOX row permutation? */
function crossLayout(d: TensorDiff, ta: TensorView, tb: TensorView, a: Src, b: Src, m: Matcher): TensorDiff | null {
  const la = a.model.config.ropeLayout, lb = b.model.config.ropeLayout;
  if (la === lb || !QK.test(d.key) || ta.dims.join() !== tb.dims.join()) return null;
  const role = d.key.replace(/^blk\.\d+\./, "").replace(/_bias$/, "");
  const nHead = role === "attn_q" ? a.model.config.nHead : a.model.config.nHeadKv;
  // A in adjacent-pair order (NORM) is B's split halves permuted, and the reverse
  const s = m.ropePermuted(d.key, ta, tb, nHead, la === "neox");
  const floor = ta.type === tb.type ? 100 : matchFloorDb(ta.typeName, tb.typeName);
  if (s !== null && s >= floor) {
    return { ...d, status: "equivalent", relation: { kind: "rope-permuted", sqnrDb: s }, note: `rows in A's RoPE order (${la}) are B's (${lb}) permuted within each head (SQNR ${fmt(s)} dB after the permutation): the same function` };
  }
  const t = m.ropePermutedTransposed(ta, tb, nHead, la === "neox");
  if (t !== null && t >= floor) {
    return { ...d, status: "transposed", relation: { kind: "transposed", sqnrDb: t }, note: `square: A vs B^T SQNR ${fmt(t)} dB once B's rows are in A's RoPE order (${la}; B ${lb}): stored [in, out] on one side` };
  }
  const same = ta.type === tb.type && Buffer.compare(bytesOf(a, ta), bytesOf(b, tb)) === 0;
  if (same) {
    return { ...d, status: "rope-unpermuted", note: `rows are B's as stored, but A rotates them as ${la} and B as ${lb}: the Q/K rows were not permuted for A's RoPE layout` };
  }
  return null;
}

function compareOne(key: string, a: Src, b: Src, m: Matcher): TensorDiff {
  let ta = a.model.byRole.get(key);
  let tb = b.model.byRole.get(key);
  // a head tied to the embeddings on one side and stored on the other: compare with the embeddings
  if (key === "output" && !!ta !== !!tb) {
    if (!ta && tiedOutput(key, a.model)) ta = a.model.byRole.get("token_embd");
    if (!tb && tiedOutput(key, b.model)) tb = b.model.byRole.get("token_embd");
    if (ta && tb) {
      const d = compareOne2(key, ta, tb, a, b, m);
      return d.status === "identical" ? { ...d, status: "not-compared", note: `${a.model.byRole.has("output") ? "B" : "A"} ties the output to token_embd; the other side stores the same bytes` } : { ...d, note: `${d.note ?? ""} (the ${a.model.byRole.has("output") ? "B" : "A"} side ties it to token_embd; ${a.model.byRole.has("output") ? "A" : "B"} stores an untied head with other values)`.trim() };
    }
  }
  return compareOne2(key, ta, tb, a, b, m);
}

function compareOne2(key: string, ta: TensorView | undefined, tb: TensorView | undefined, a: Src, b: Src, m: Matcher): TensorDiff {
  const d = base(key, ta, tb);
  if (!ta || !tb) {
    if (!ta && tb && tiedOutput(key, a.model)) return { ...d, status: "not-compared", note: "A ties the output to token_embd" };
    if (ta && !tb && tiedOutput(key, b.model)) return { ...d, status: "not-compared", note: "B ties the output to token_embd" };
    if (/_bias$/.test(key) && m.zeroIn(ta ? "a" : "b", key)) {
      return { ...d, status: "equivalent", relation: { kind: "zero-vs-absent" }, note: `${ta ? "A" : "B"} has an all-zero ${key}, the other side none: the same function` };
    }
    return { ...d, status: ta ? "missing-in-b" : "missing-in-a" };
  }
  const cross = crossLayout(d, ta, tb, a, b, m);
  if (cross) return cross;
  if (ta.type === tb.type && ta.byteLength === tb.byteLength && ta.dims.join() === tb.dims.join()) {
    // one file on both sides, the same bytes of it: identical without reading them
    if (a.real === b.real && ta.file === tb.file && ta.offset === tb.offset) return { ...d, status: "identical", sqnrDb: Infinity, cosine: 1, note: "the same bytes of the same file" };
    const same = sameBytes(bytesOf(a, ta), bytesOf(b, tb), m.identity);
    if (same === true) return { ...d, status: "identical", sqnrDb: Infinity, cosine: 1 };
    if (same) {
      return { ...d, status: "sampled-identical", sampled: { bytes: same.sampled, of: ta.byteLength }, note: `the ${SAMPLE_BLOCKS} sampled blocks (${same.sampled} of ${ta.byteLength} bytes) are identical; the rest was not read` };
    }
    const copy = m.exactCopyIn(ta, key);
    if (copy) return { ...d, status: "misplaced", relation: { kind: "copy-of", other: copy, sqnrDb: Infinity }, note: `A's ${key} is a byte copy of B's ${copy}` };
  }
  return m.relate(d, ta, tb);
}

/** A's k holds B's j and A's j holds B's k: an exchange of the two (any roles, any layers). */
function markExchanges(tensors: TensorDiff[]): void {
  const by = new Map(tensors.map((t) => [t.key, t]));
  for (const t of tensors) {
    if (t.status !== "misplaced" || !t.relation?.other) continue;
    const o = by.get(t.relation.other);
    if (o && (o.status === "misplaced" || o.status === "swapped") && o.relation?.other === t.key) {
      for (const [x, y] of [[t, o], [o, t]] as const) {
        x.status = "swapped";
        x.relation = { ...x.relation!, kind: "exchanged", other: y.key };
        x.note = `A's ${x.key} and A's ${y.key} are B's ${y.key} and ${x.key}: the two tensors are exchanged`;
      }
    }
  }
}

const STATUS_DIAGNOSIS: Partial<Record<TensorDiff["status"], DiagnosisId>> = {
  "missing-in-a": "tensor-missing",
  "missing-in-b": "tensor-missing",
  transposed: "layout-transposed",
  swapped: "tensors-swapped",
  misplaced: "tensor-misplaced",
  scaled: "tensor-scaled",
  corrupted: "blocks-corrupted",
  nonfinite: "nonfinite",
  requantized: "weights-differ",
  "rope-unpermuted": "rope-layout-mismatch",
  equivalent: "equivalent-reparametrization",
  shifted: "rows-permuted",
};

function diagnosisOf(t: TensorDiff): DiagnosisId | null {
  if (t.status === "permuted") return t.relation?.kind === "rope-permuted" ? "qk-rope-permutation" : "rows-permuted";
  if (t.status === "differs") return t.note?.startsWith("dequant") ? "dequant-mismatch" : "weights-differ";
  if (t.status === "shape-mismatch") return "weights-differ";
  return STATUS_DIAGNOSIS[t.status] ?? null;
}

/** The tensors a finding is about (role keys): what an experiment transplants to test it. */
export function tensorsOfFinding(f: Finding): string[] {
  return f.tensors ?? [];
}

/** Groups per-tensor results into findings: one per (diagnosis, role[, relation]), listing the layers. */
function tensorFindings(tensors: TensorDiff[]): Finding[] {
  const groups = new Map<string, { id: DiagnosisId; items: TensorDiff[]; fatal: boolean }>();
  const add = (id: DiagnosisId, t: TensorDiff, fatal = true, tag = "") => {
    const role = t.key.replace(/^blk\.\d+\./, "");
    const k = `${id}|${role}|${tag}`;
    const g = groups.get(k) ?? { id, items: [], fatal };
    g.items.push(t);
    groups.set(k, g);
  };
  for (const t of tensors) {
    const id = diagnosisOf(t);
    if (id) add(id, t, id !== "equivalent-reparametrization", `${t.relation?.kind ?? ""}|${t.relation?.other?.replace(/^blk\.\d+\./, "") ?? ""}`);
    if (t.typeA && t.typeB && t.typeA !== t.typeB && t.status !== "missing-in-a" && t.status !== "missing-in-b") add("dtype-mismatch", t, false);
  }
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const first = g.items[0];
    const layers = g.items.map((t) => t.layer).filter((l): l is number => l !== null);
    const where = layers.length ? `${layers.length} layer(s): ${layers.slice(0, 12).join(", ")}${layers.length > 12 ? ", ..." : ""}` : "global";
    const ev = [`${first.key}: ${describe(first)}`];
    if (g.items.length > 1) ev.push(`same for ${g.items.length} tensor(s) of this role (${where})`);
    const f = finding(g.id, first.key, first.layer, ev, g.fatal);
    if (g.id !== "dtype-mismatch") {
      const keys = new Set<string>();
      for (const t of g.items) {
        keys.add(t.key);
        if (t.relation?.kind === "exchanged" && t.relation.other) keys.add(t.relation.other);
      }
      f.tensors = [...keys];
    }
    out.push(f);
  }
  // an exchange is one finding, not one per side
  return out.filter((f, i) => f.id !== "tensors-swapped" || !out.slice(0, i).some((g) => g.id === "tensors-swapped" && g.tensors?.slice().sort().join() === f.tensors?.slice().sort().join()));
}

export function diffWeights(a: LoadedModel, b: LoadedModel, opts: WeightDiffOptions = {}): WeightDiff {
  const sa: Src = { model: a, bytes: new ModelBytes(a.path), real: realpathSync(a.path) };
  const sb: Src = { model: b, bytes: new ModelBytes(b.path), real: realpathSync(b.path) };
  const m = new Matcher(sa, sb, { maxElements: opts.maxElements ?? 8 << 20, diff: opts.diff ?? diffMetrics, identity: opts.identity ?? "full" });
  try {
    const keys = [...new Set([...a.byRole.keys(), ...b.byRole.keys()])];
    const tensors = keys.map((k, i) => {
      opts.onTensor?.(i, keys.length, k);
      return compareOne(k, sa, sb, m);
    });
    markExchanges(tensors);
    const metadata = diffMetadata(a.config, b.config);
    return { a: a.path, b: b.path, tensors, metadata, findings: [...metadataFindings(metadata, tensors, b.config.arch, false, a.format === "hf" || b.format === "hf"), ...tensorFindings(tensors)] };
  } finally {
    m.release();
    sa.bytes.close();
    sb.bytes.close();
  }
}
