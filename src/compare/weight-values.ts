/**
 * The value-level half of the weight diff: for a pair of tensors whose bytes differ, which known
 * signature explains it (transposed, Q/K rows permuted within heads, swapped with its partner, shifted
 * by a row, a block-header-only difference = dequantization mismatch), or plain "differs".
 */
import type { LoadedModel, TensorView } from "../formats/model.js";
import { dequantize, mappingBytes, typeTraitsById, type NativeMapping } from "../bindings/kernels.js";
import { getRows } from "../bindings/kernels.js";
import { fmt } from "./diagnose.js";
import type { DiffFn } from "./metrics.js";
import { blockDiffLocality, permuteHeads, sameByValue, shiftRows, transpose, valueCmp, type ValueCmp } from "./weight-checks.js";
import type { TensorDiff } from "./weights.js";

export interface Src {
  model: LoadedModel;
  map: NativeMapping;
}

interface Loaded {
  data: Float32Array;
  rows: number;
  cols: number;
  partial: boolean;
}

/** Dequantizes a tensor (its first rows only when it is larger than maxElements). */
export function readF32(s: Src, t: TensorView, maxElements: number): Loaded {
  const cols = t.dims[t.dims.length - 1];
  const total = t.dims.reduce((x, y) => x * y, 1);
  if (t.rowBytes !== undefined) {
    // APR per-row padded K-quant rows: decoded row by row, padding dropped
    const all = t.dims[0], rows = Math.min(all, Math.max(1, Math.floor(maxElements / cols)));
    const data = getRows({ source: s.map, offset: t.offset, type: t.type, rows: all, cols, rowBytes: t.rowBytes }, rows);
    return { data, rows, cols, partial: rows < all };
  }
  const tr = typeTraitsById(t.type);
  let n = total;
  if (total > maxElements && tr) {
    const rows = Math.max(1, Math.floor(maxElements / cols));
    n = rows * cols;
    if (n % tr.blockSize !== 0) n = total;
  }
  const data = dequantize({ source: s.map, offset: t.offset, type: t.type, nElements: n, name: t.name });
  return { data, rows: n / cols, cols, partial: n < total };
}

const PARTNER: Record<string, string> = { attn_q: "attn_k", attn_k: "attn_q", ffn_gate: "ffn_up", ffn_up: "ffn_gate" };

function roleOf(key: string): string {
  return key.replace(/^blk\.\d+\./, "");
}

function cmpStr(c: ValueCmp): string {
  return `SQNR ${fmt(c.sqnrDb)} dB, cos ${fmt(c.cosine)}`;
}

interface Opts {
  maxElements: number;
  diff: DiffFn;
}

function transposedByShape(d: TensorDiff, ta: TensorView, tb: TensorView, a: Src, b: Src, o: Opts): TensorDiff {
  let note = `dims A [${ta.dims.join(", ")}] are B's reversed`;
  const n = ta.dims[0] * ta.dims[1];
  if (n <= o.maxElements) {
    const A = readF32(a, ta, o.maxElements);
    const B = readF32(b, tb, o.maxElements);
    const c = valueCmp(A.data, transpose(B.data, B.rows, B.cols), o.diff);
    note += `; by value cos(W_A, W_B^T) ${fmt(c.cosine)}, SQNR ${fmt(c.sqnrDb)} dB`;
    return { ...d, status: "transposed", note };
  }
  return { ...d, status: "transposed", note };
}

function tryPermutation(d: TensorDiff, A: Loaded, B: Loaded, a: Src, o: Opts, floor: number): TensorDiff | null {
  const role = roleOf(d.key).replace(/_bias$/, "");
  if ((role !== "attn_q" && role !== "attn_k") || A.partial) return null;
  const c = a.model.config;
  const nHead = role === "attn_q" ? c.nHead : c.nHeadKv;
  if (A.rows % nHead !== 0 || (A.rows / nHead) % 2 !== 0) return null;
  for (const toSplit of [true, false]) {
    const p = valueCmp(A.data, permuteHeads(B.data, nHead, B.cols, toSplit), o.diff);
    if (sameByValue(p, floor)) {
      const what = toSplit ? "A's rows are B's adjacent-pair rows in split-half order" : "A's rows are B's split-half rows in adjacent-pair order";
      return { ...d, status: "permuted", note: `Q/K rows permuted within ${nHead} heads: ${what} (after undoing: ${cmpStr(p)})` };
    }
  }
  return null;
}

function tryTranspose(d: TensorDiff, A: Loaded, B: Loaded, o: Opts, plain: ValueCmp, floor: number): TensorDiff | null {
  if (A.rows !== A.cols || A.partial || B.partial) return null;
  const t = valueCmp(A.data, transpose(B.data, B.rows, B.cols), o.diff);
  if (sameByValue(t, floor) || (t.cosine > 0.9 && t.cosine > plain.cosine + 0.3)) {
    return { ...d, status: "transposed", sqnrDb: plain.sqnrDb, cosine: plain.cosine, note: `square: cos(W_A, W_B^T) ${fmt(t.cosine)} vs cos(W_A, W_B) ${fmt(plain.cosine)}` };
  }
  return null;
}

function trySwap(d: TensorDiff, A: Loaded, b: Src, o: Opts, floor: number): TensorDiff | null {
  const partner = PARTNER[roleOf(d.key)];
  if (!partner || d.layer === null) return null;
  const tp = b.model.byRole.get(`blk.${d.layer}.${partner}`);
  if (!tp || tp.dims.join() !== (d.dimsA ?? []).join()) return null;
  const P = readF32(b, tp, o.maxElements);
  if (P.data.length !== A.data.length) return null;
  const c = valueCmp(A.data, P.data, o.diff);
  if (!sameByValue(c, floor)) return null;
  return { ...d, status: "swapped", note: `A's ${roleOf(d.key)} equals B's ${partner} (${cmpStr(c)})` };
}

function tryEmbedding(d: TensorDiff, A: Loaded, B: Loaded, b: Src, o: Opts, floor: number): TensorDiff | null {
  const role = roleOf(d.key);
  if (role !== "token_embd" && role !== "output") return null;
  for (const by of [1, -1]) {
    const c = valueCmp(A.data.subarray(A.cols, A.data.length - A.cols), shiftRows(B.data, B.cols, by).subarray(A.cols, A.data.length - A.cols), o.diff);
    if (sameByValue(c, floor)) return { ...d, status: "shifted", note: `rows shifted by ${by}: A row r = B row r${by > 0 ? "+" : ""}${by} (${cmpStr(c)})` };
  }
  const other = b.model.byRole.get(role === "output" ? "token_embd" : "output");
  if (other && other.dims.join() === (d.dimsA ?? []).join()) {
    const O = readF32(b, other, o.maxElements);
    if (O.data.length === A.data.length) {
      const c = valueCmp(A.data, O.data, o.diff);
      if (sameByValue(c, floor)) return { ...d, status: "differs", note: `A's ${role} equals B's ${other.role} (${cmpStr(c)}): taken from the wrong tensor` };
    }
  }
  return null;
}

function dequantOrDiffers(d: TensorDiff, ta: TensorView, tb: TensorView, a: Src, b: Src, plain: ValueCmp): TensorDiff {
  const res = { ...d, status: "differs" as const, sqnrDb: plain.sqnrDb, cosine: plain.cosine };
  if (ta.type === tb.type) {
    const tr = typeTraitsById(ta.type);
    if (tr && tr.blockSize > 1) {
      const loc = blockDiffLocality(mappingBytes(a.map, ta.offset, ta.byteLength), mappingBytes(b.map, tb.offset, tb.byteLength), tr.typeSize);
      if (loc.fraction < 0.3) {
        return { ...res, note: `dequant: same ${tr.name} blocks differ only at in-block bytes ${loc.ranges} (${loc.blocksDiffering} blocks): scales/mins or headers read differently` };
      }
    }
    return { ...res, note: `values differ (${cmpStr(plain)})` };
  }
  if (plain.cosine > 0.9) return { ...res, note: `dequant: ${d.typeA} vs ${d.typeB} correlate (cos ${fmt(plain.cosine)}) but SQNR ${fmt(plain.sqnrDb)} dB is below the ${fmt(d.floorDb)} dB floor` };
  return { ...res, note: `values differ (${cmpStr(plain)})` };
}

/** Value-level comparison of two role tensors whose bytes are not identical. */
export function checkValues(d: TensorDiff, ta: TensorView, tb: TensorView, a: Src, b: Src, o: Opts): TensorDiff {
  const da = ta.dims.join();
  if (da !== tb.dims.join()) {
    if (ta.dims.length === 2 && ta.dims[0] === tb.dims[1] && ta.dims[1] === tb.dims[0]) return transposedByShape(d, ta, tb, a, b, o);
    return { ...d, status: "shape-mismatch", note: `dims A [${ta.dims.join(", ")}] vs B [${tb.dims.join(", ")}]` };
  }
  const A = readF32(a, ta, o.maxElements);
  const B = readF32(b, tb, o.maxElements);
  const floor = d.floorDb ?? Infinity;
  const plain = valueCmp(A.data, B.data, o.diff);
  if (sameByValue(plain, floor)) return { ...d, status: "close", sqnrDb: plain.sqnrDb, cosine: plain.cosine, note: A.partial ? `first ${A.rows} rows` : undefined };
  const p = { ...d, sqnrDb: plain.sqnrDb, cosine: plain.cosine };
  return (
    tryTranspose(p, A, B, o, plain, floor) ??
    tryPermutation(p, A, B, a, o, floor) ??
    trySwap(p, A, b, o, floor) ??
    tryEmbedding(p, A, B, b, o, floor) ??
    dequantOrDiffers(d, ta, tb, a, b, plain)
  );
}
