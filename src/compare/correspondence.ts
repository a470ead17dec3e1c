/**
 * Tensor correspondence: for a role tensor of A whose bytes differ from B's tensor of the same role,
 * what is it on B's side? One general matcher, tried in this order, each test with the number that
 * proves it:
 *
 *   1. an exact copy (same type, same bytes) of ANY tensor of B, any layer and any role: a copy of
 *      another tensor (wrong role, wrong layer, a repeated layer), or, when the partner is a copy of
 *      this one, an exchange of the two;
 *   2. the same tensor up to an affine map of its values: a uniform scale a = <A,B>/<B,B> (a = -1: a
 *      sign flip) or an additive offset c = mean(A - B), kept when A against aB (B + c) is as close as the
 *      two types' rounding allows;
 *   3. the same tensor transposed (shapes swapped, or square by value);
 *   4. the same rows in another order: rows matched one by one (a projection on a fixed random vector,
 *      then the row's SQNR), read as the Q/K RoPE permutation (adjacent pairs <-> split halves within
 *      each head), whole heads reordered, a shift, or any other row permutation; the same on columns;
 *   5. block-local differences: most rows (blocks) identical within rounding and a few not (which);
 *      or, for two quantized byte images of one type, only a few in-block byte offsets differ in every
 *      block (scales/mins read differently: a dequantization mismatch);
 *   6. a close value match (types differ, SQNR over the floor of the two types) with another tensor of B
 *      of the same dims (misplaced or exchanged across types);
 *   7. otherwise: different weights.
 *
 * "As close as rounding allows" is the SQNR floor of the pair (tolerances.ts WEIGHT_SQNR_FLOOR_DB): for
 * two tensors of one type, the floor of requantizing that type; for two types, the coarser one's.
 */
import type { LoadedModel, TensorView } from "../formats/model.js";
import { dequantize, getRows, rowBytes, typeTraitsById } from "../bindings/kernels.js";
import type { ModelBytes } from "../formats/bytes.js";
import { fmt } from "./format.js";
import type { DiffFn } from "./metrics.js";
import type { Relation, TensorDiff } from "./result.js";
import { normType, WEIGHT_SQNR_FLOOR_DB } from "./tolerances.js";
import { blockDiffLocality, permuteHeads, transpose } from "./weight-checks.js";

export interface Src {
  model: LoadedModel;
  bytes: ModelBytes;
  /** The file's real path (two sides on one file share bytes). */
  real?: string;
}

export interface Loaded {
  data: Float32Array;
  rows: number;
  cols: number;
  partial: boolean;
}

export interface MatchOptions {
  maxElements: number;
  diff: DiffFn;
  /** How byte identity is established (weight-diff.ts WeightDiffOptions.identity). */
  identity?: "full" | "sampled";
}

/** Dequantizes a tensor (its first rows only when it is larger than maxElements). */
export function readF32(s: Src, t: TensorView, maxElements: number): Loaded {
  const cols = t.dims[t.dims.length - 1];
  const total = t.dims.reduce((x, y) => x * y, 1);
  if (t.rowBytes !== undefined) {
    // APR per-row padded K-quant rows: decoded row by row, padding dropped
    const all = t.dims[0], rows = Math.min(all, Math.max(1, Math.floor(maxElements / cols)));
    const data = getRows({ source: s.bytes.source(t), offset: t.offset, type: t.type, rows: all, cols, rowBytes: t.rowBytes }, rows);
    return { data, rows, cols, partial: rows < all };
  }
  const tr = typeTraitsById(t.type);
  let n = total;
  if (total > maxElements && tr) {
    const rows = Math.max(1, Math.floor(maxElements / cols));
    n = rows * cols;
    if (n % tr.blockSize !== 0) n = total;
  }
  const data = dequantize({ source: s.bytes.source(t), offset: t.offset, type: t.type, nElements: n, name: t.name });
  return { data, rows: t.dims.length === 1 ? 1 : n / cols, cols: t.dims.length === 1 ? n : cols, partial: n < total };
}

/** Columns [0, k) of every row of a 2-D tensor ([rows, k], row-major), read in chunks of rows so that
 *  no more than about maxElements values are decoded at once; null where rows are per-row padded. */
export function readLeadingColumns(s: Src, t: TensorView, k: number, maxElements: number): Float32Array | null {
  if (t.rowBytes !== undefined || t.dims.length !== 2) return null;
  const [rows, cols] = t.dims;
  const rb = rowBytes(t.type, cols);
  if (!(rb > 0) || k > cols) return null;
  const out = new Float32Array(rows * k);
  const chunk = Math.max(1, Math.floor(maxElements / 4 / cols));
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0);
    const part = dequantize({ source: s.bytes.source(t), offset: t.offset + r0 * rb, type: t.type, nElements: n * cols, name: t.name });
    for (let r = 0; r < n; r++) out.set(part.subarray(r * cols, r * cols + k), (r0 + r) * k);
  }
  return out;
}

export function bytesOf(s: Src, t: TensorView): Uint8Array {
  return s.bytes.bytes(t);
}

/** The SQNR (dB) two versions of one tensor reach when they differ only by rounding: same type, the floor
 *  of requantizing it; two types, the coarser one's. 3 dB of margin. */
export function matchFloorDb(typeA: string, typeB: string): number {
  const ta = normType(typeA), tb = normType(typeB);
  const f = (t: string) => WEIGHT_SQNR_FLOOR_DB[t] ?? 10;
  return Math.min(f(ta), f(tb), 100) - 3;
}

function sqnr(a: Float32Array, b: Float32Array, diff: DiffFn): number {
  return diff(b, a).sqnrDb;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function countNonfinite(a: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) n++;
  return n;
}

/** A fixed pseudo-random vector (the same every run: results are reproducible). */
function probe(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 4294967296 - 0.5;
  }
  return v;
}

export interface RowMap {
  /** map[i] = the row of B that row i of A equals (within the floor), or -1. */
  map: Int32Array;
  moved: number;
  unmatched: number;
}

/** Matches the rows of A ([rows, cols]) to rows of B one by one: projection on a fixed vector, then SQNR. */
export function matchRows(A: Float32Array, B: Float32Array, rows: number, cols: number, floorDb: number, diff: DiffFn): RowMap {
  const r = probe(cols, 0x5eed);
  const pB = new Float64Array(rows), pA = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    pB[i] = dot(B.subarray(i * cols, (i + 1) * cols), r);
    pA[i] = dot(A.subarray(i * cols, (i + 1) * cols), r);
  }
  const order = Array.from({ length: rows }, (_, i) => i).sort((x, y) => pB[x] - pB[y]);
  const sorted = order.map((i) => pB[i]);
  const map = new Int32Array(rows).fill(-1);
  let moved = 0, unmatched = 0;
  const rowOf = (X: Float32Array, i: number) => X.subarray(i * cols, (i + 1) * cols);
  const same = (i: number, j: number) => {
    const d = diff(rowOf(B, j), rowOf(A, i));
    return d.sqnrDb >= floorDb || (d.nmseEnergy === 0);
  };
  for (let i = 0; i < rows; i++) {
    // unrelated tensors: when none of the first 32 rows matches anything, stop (the rest would not either)
    if (i === 32 && unmatched === 32) return { map: new Int32Array(rows).fill(-1), moved: 0, unmatched: rows };
    if (same(i, i)) {
      map[i] = i;
      continue;
    }
    // nearest projections first (a handful either side)
    let lo = 0, hi = rows;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < pA[i]) lo = mid + 1;
      else hi = mid;
    }
    for (let k = 0; k < 8 && map[i] < 0; k++) {
      for (const idx of [lo - 1 - k, lo + k]) {
        if (idx < 0 || idx >= rows) continue;
        const j = order[idx];
        if (j !== i && same(i, j)) {
          map[i] = j;
          break;
        }
      }
    }
    if (map[i] < 0) unmatched++;
    else moved++;
  }
  return { map, moved, unmatched };
}

/** Reads a row map: the Q/K RoPE permutation, whole heads reordered, a shift, or rows permuted. */
function describeRowMap(m: RowMap, rows: number, headDim: number | null): { kind: Relation["kind"]; text: string } {
  const { map } = m;
  if (headDim && rows % headDim === 0 && headDim % 2 === 0) {
    const half = headDim / 2;
    // adjacent pairs (2j, 2j+1) <-> split halves (j, j + half), within each head
    const toSplit = (i: number) => {
      const h = Math.floor(i / headDim), r = i % headDim;
      return h * headDim + (r % 2) * half + (r >> 1);
    };
    const toAdj = (i: number) => {
      const h = Math.floor(i / headDim), r = i % headDim;
      return h * headDim + 2 * (r % half) + (r >= half ? 1 : 0);
    };
    if (map.every((j, i) => j === toSplit(i))) return { kind: "rope-permuted", text: "rows permuted within each head: A's row order is B's split halves read as adjacent pairs (the Q/K RoPE permutation)" };
    if (map.every((j, i) => j === toAdj(i))) return { kind: "rope-permuted", text: "rows permuted within each head: A's row order is B's adjacent pairs read as split halves (the Q/K RoPE permutation)" };
    const nH = rows / headDim;
    const headMap: number[] = [];
    let heads = true;
    for (let h = 0; h < nH && heads; h++) {
      const j0 = map[h * headDim];
      if (j0 < 0 || j0 % headDim !== 0) heads = false;
      for (let r = 0; r < headDim && heads; r++) if (map[h * headDim + r] !== j0 + r) heads = false;
      headMap.push(j0 / headDim);
    }
    if (heads) {
      const moved = headMap.map((j, h) => (j !== h ? `${h}<-${j}` : "")).filter(Boolean);
      return { kind: "heads-permuted", text: `whole heads reordered (head of A <- head of B): ${moved.slice(0, 8).join(", ")}${moved.length > 8 ? ", ..." : ""}` };
    }
  }
  const shifts = new Map<number, number>();
  for (let i = 0; i < map.length; i++) if (map[i] >= 0 && map[i] !== i) shifts.set(map[i] - i, (shifts.get(map[i] - i) ?? 0) + 1);
  const top = [...shifts.entries()].sort((x, y) => y[1] - x[1])[0];
  // a shift: every moved row by one offset, but the one or two that wrap around the end
  if (top && top[1] >= m.moved - 2 && top[1] > 2) {
    const by = top[0];
    return { kind: "rows-permuted", text: `rows shifted by ${by}: A row r = B row r${by > 0 ? "+" : ""}${by} (${m.moved} rows)` };
  }
  const moved: string[] = [];
  for (let i = 0; i < map.length && moved.length < 8; i++) if (map[i] >= 0 && map[i] !== i) moved.push(`${i}<-${map[i]}`);
  return { kind: "rows-permuted", text: `${m.moved} of ${rows} rows moved (row of A <- row of B): ${moved.join(", ")}${m.moved > 8 ? ", ..." : ""}` };
}

function rowsList(rows: number[]): string {
  return rows.slice(0, 10).join(", ") + (rows.length > 10 ? `, ... (${rows.length} rows)` : "");
}

function isZero(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] !== 0) return false;
  return true;
}

/** Context for one weight diff: every tensor of B, indexed for exact and by-value lookups. */
export class Matcher {
  readonly identity: "full" | "sampled";
  private byBytes = new Map<string, TensorView[]>();
  private cache = new Map<string, Loaded>();

  constructor(
    private readonly a: Src,
    private readonly b: Src,
    private readonly o: MatchOptions,
  ) {
    this.identity = o.identity ?? "full";
    for (const t of b.model.tensors) {
      if (!t.role) continue;
      const k = `${t.type}|${t.byteLength}|${t.dims.join()}`;
      const list = this.byBytes.get(k) ?? [];
      list.push(t);
      this.byBytes.set(k, list);
    }
  }

  /** Dequantized tensors are kept while the diff runs only when small (1M elements): memory stays bounded on large models. */
  private load(s: Src, t: TensorView): Loaded {
    const key = `${s === this.a ? "A" : "B"}|${t.name}`;
    let v = this.cache.get(key);
    if (!v) {
      v = readF32(s, t, this.o.maxElements);
      if (v.data.length <= 1 << 20) this.cache.set(key, v);
    }
    return v;
  }

  /** Frees the dequantized copies (call after the diff). */
  release(): void {
    this.cache.clear();
  }

  /** B's role key whose bytes equal A's tensor `ta` exactly, other than `exceptKey`. */
  exactCopyIn(ta: TensorView, exceptKey: string): string | null {
    const cands = this.byBytes.get(`${ta.type}|${ta.byteLength}|${ta.dims.join()}`) ?? [];
    const ba = bytesOf(this.a, ta);
    for (const tb of cands) {
      const key = roleKeyOf(tb);
      if (key === exceptKey) continue;
      if (Buffer.compare(ba, bytesOf(this.b, tb)) === 0) return key;
    }
    return null;
  }

  /** Value-level: what A's tensor is relative to B's tensor of the same role (bytes known to differ). */
  relate(d: TensorDiff, ta: TensorView, tb: TensorView): TensorDiff {
    const o = this.o;
    const floor = matchFloorDb(ta.typeName, tb.typeName);
    const sameType = ta.type === tb.type;
    const dimsEqual = ta.dims.join() === tb.dims.join();
    const swapped = ta.dims.length === 2 && ta.dims[0] === tb.dims[1] && ta.dims[1] === tb.dims[0];
    if (!dimsEqual && swapped) {
      const A = this.load(this.a, ta), B = this.load(this.b, tb);
      if (A.partial || B.partial) return { ...d, status: "transposed", relation: { kind: "transposed" }, note: `dims A [${ta.dims.join(", ")}] are B's reversed` };
      const s = sqnr(A.data, transpose(B.data, B.rows, B.cols), o.diff);
      return { ...d, status: "transposed", relation: { kind: "transposed", sqnrDb: s }, note: `dims A [${ta.dims.join(", ")}] are B's reversed; by value A vs B^T: SQNR ${fmt(s)} dB` };
    }
    if (!dimsEqual) return { ...d, status: "shape-mismatch", note: `dims A [${ta.dims.join(", ")}] vs B [${tb.dims.join(", ")}]` };

    const A = this.load(this.a, ta), B = this.load(this.b, tb);
    const nfA = countNonfinite(A.data), nfB = countNonfinite(B.data);
    if (nfA > 0 && nfB === 0) return { ...d, status: "nonfinite", relation: { kind: "nonfinite", count: nfA, total: A.data.length }, note: `A holds ${nfA} NaN/Inf value(s) of ${A.data.length}${A.partial ? " read" : ""}; B none` };
    const plain = o.diff(B.data, A.data);
    const base: TensorDiff = { ...d, sqnrDb: plain.sqnrDb, cosine: plain.cosine };
    if (!sameType && plain.sqnrDb >= floor) return { ...base, status: "close", note: A.partial ? `first ${A.rows} rows` : undefined };
    if (sameType && plain.sqnrDb >= floor) {
      return { ...base, status: "requantized", relation: { kind: "requantized", sqnrDb: plain.sqnrDb }, note: `same type, different bytes, values within ${normType(ta.typeName)} rounding (SQNR ${fmt(plain.sqnrDb)} dB >= ${fmt(floor)} dB)` };
    }

    // 2. affine: uniform scale (sign), additive offset
    const bb = dot(B.data, B.data);
    if (bb > 0) {
      const alpha = dot(A.data, B.data) / bb;
      if (Number.isFinite(alpha) && alpha !== 0) {
        const scaled = B.data.map((x) => x * alpha);
        const s = sqnr(A.data, scaled, o.diff);
        if (s >= floor) {
          const kind = Math.abs(alpha + 1) < 1e-3 ? "sign-flipped" : "scaled";
          return { ...base, status: "scaled", relation: { kind, factor: alpha, sqnrDb: s }, note: kind === "sign-flipped" ? `A = -B (sign flipped): A vs -B SQNR ${fmt(s)} dB` : `A = ${fmt(alpha)} x B (uniform scale): A vs ${fmt(alpha)}B SQNR ${fmt(s)} dB, plain ${fmt(plain.sqnrDb)} dB` };
        }
      }
    }
    let mean = 0;
    for (let i = 0; i < A.data.length; i++) mean += A.data[i] - B.data[i];
    mean /= A.data.length;
    if (mean !== 0 && Number.isFinite(mean)) {
      const s = sqnr(A.data, B.data.map((x) => x + mean), o.diff);
      if (s >= floor) return { ...base, status: "scaled", relation: { kind: "offset", factor: mean, sqnrDb: s }, note: `A = B + ${fmt(mean)} (additive offset): SQNR ${fmt(s)} dB, plain ${fmt(plain.sqnrDb)} dB` };
    }

    // 3. square and transposed by value (a tensor read only in part: A's first rows against B's first
    // columns, B streamed row by row)
    if (ta.dims.length === 2 && ta.dims[0] === ta.dims[1] && dimsEqual) {
      let bt: Float32Array | null = null;
      if (!A.partial && !B.partial) bt = transpose(B.data, B.rows, B.cols);
      else {
        const cols = readLeadingColumns(this.b, tb, A.rows, o.maxElements);
        if (cols) bt = transpose(cols, tb.dims[0], A.rows);
      }
      if (bt) {
        const s = sqnr(A.data, bt, o.diff);
        const part = A.partial ? ` (A's first ${A.rows} rows against B's first ${A.rows} columns)` : "";
        if (s >= floor) return { ...base, status: "transposed", relation: { kind: "transposed", sqnrDb: s }, note: `square: A vs B^T SQNR ${fmt(s)} dB (cos ${fmt(o.diff(bt, A.data).cosine)}) vs A vs B ${fmt(plain.sqnrDb)} dB${part}` };
      }
    }

    // 4 and 5: rows (and columns) matched one by one
    if (ta.dims.length === 2 && !A.partial && A.rows > 1) {
      const headDim = this.headDimOf(d.key);
      const rm = matchRows(A.data, B.data, A.rows, A.cols, floor, o.diff);
      if (rm.unmatched === 0 && rm.moved > 0) {
        const r = describeRowMap(rm, A.rows, headDim);
        const rel: Relation = { kind: r.kind, count: rm.moved, total: A.rows };
        return { ...base, status: "permuted", relation: rel, note: r.text };
      }
      if (rm.unmatched > 0 && rm.moved === 0 && rm.unmatched < A.rows / 2) {
        const bad: number[] = [];
        for (let i = 0; i < A.rows; i++) if (rm.map[i] < 0) bad.push(i);
        const zeroed = bad.every((i) => isZero(A.data.subarray(i * A.cols, (i + 1) * A.cols)));
        return { ...base, status: "corrupted", relation: { kind: "rows-differ", count: bad.length, total: A.rows, rows: bad.slice(0, 32) }, note: `${bad.length} of ${A.rows} rows differ${zeroed ? " (zeroed)" : ""}: ${rowsList(bad)}; every other row equal within rounding` };
      }
      if (rm.unmatched === A.rows && A.rows === A.cols) {
        // columns: the transposes' rows
        const cm = matchRows(transpose(A.data, A.rows, A.cols), transpose(B.data, B.rows, B.cols), A.cols, A.rows, floor, o.diff);
        if (cm.unmatched === 0 && cm.moved > 0) {
          const r = describeRowMap(cm, A.cols, headDim);
          return { ...base, status: "permuted", relation: { kind: "cols-permuted", count: cm.moved, total: A.cols }, note: `columns: ${r.text}` };
        }
      }
    }
    if (sameType) {
      const tr = typeTraitsById(ta.type);
      if (tr && tr.blockSize > 1) {
        const loc = blockDiffLocality(bytesOf(this.a, ta), bytesOf(this.b, tb), tr.typeSize);
        const nBlocks = Math.floor(ta.byteLength / tr.typeSize);
        if (loc.fraction < 0.3 && loc.blocksDiffering > nBlocks / 2) {
          return { ...base, status: "differs", relation: { kind: "dequant" }, note: `dequant: same ${tr.name} blocks differ only at in-block bytes ${loc.ranges} (${loc.blocksDiffering} blocks): scales/mins or headers read differently` };
        }
        if (loc.blocksDiffering > 0 && loc.blocksDiffering <= nBlocks / 4) {
          return { ...base, status: "corrupted", relation: { kind: "blocks-differ", count: loc.blocksDiffering, total: nBlocks }, note: `${loc.blocksDiffering} of ${nBlocks} ${tr.name} blocks differ (in-block bytes ${loc.ranges}); the rest are byte-identical` };
        }
      }
    }
    // 6. by value against every other tensor of B with these dims (types differ, so bytes cannot match)
    const other = this.closestOther(A, ta, d.key, floor);
    if (other) return { ...base, status: "misplaced", relation: { kind: "copy-of", other: other.key, sqnrDb: other.sqnrDb }, note: `A's ${d.key} equals B's ${other.key} within rounding (SQNR ${fmt(other.sqnrDb)} dB)` };
    return { ...base, status: "differs", note: `values differ (SQNR ${fmt(plain.sqnrDb)} dB, cos ${fmt(plain.cosine)})` };
  }

  private closestOther(A: Loaded, ta: TensorView, key: string, floor: number): { key: string; sqnrDb: number } | null {
    if (A.partial) return null;
    let best: { key: string; sqnrDb: number } | null = null;
    // a short prefix of each candidate first (its first rows): only a candidate that matches there is read whole
    const probeN = Math.min(A.data.length, 1 << 14);
    for (const tb of this.b.model.tensors) {
      if (!tb.role || tb.dims.join() !== ta.dims.join()) continue;
      const k = roleKeyOf(tb);
      if (k === key) continue;
      const head = readF32(this.b, tb, probeN);
      if (head.data.length <= A.data.length && sqnr(A.data.subarray(0, head.data.length), head.data, this.o.diff) < floor) continue;
      const B = this.load(this.b, tb);
      if (B.partial || B.data.length !== A.data.length) continue;
      const s = sqnr(A.data, B.data, this.o.diff);
      if (s >= floor && (!best || s > best.sqnrDb)) best = { key: k, sqnrDb: s };
    }
    return best;
  }

  private headDimOf(key: string): number | null {
    const role = key.replace(/^blk\.\d+\./, "").replace(/_bias$/, "");
    const c = this.a.model.config;
    return role === "attn_q" || role === "attn_k" || role === "attn_v" ? c.headDim : null;
  }

  /** Is B's tensor under `key` all zeros (a zero bias is the same function as no bias)? */
  zeroIn(side: "a" | "b", key: string): boolean {
    const s = side === "a" ? this.a : this.b;
    const t = s.model.byRole.get(key);
    if (!t) return false;
    const v = this.load(s, t);
    return !v.partial && isZero(v.data);
  }

  /** A's Q/K weight against B's with the RoPE row permutation undone (cross-layout pairs). */
  ropePermuted(key: string, ta: TensorView, tb: TensorView, nHead: number, toSplit: boolean): number | null {
    const A = this.load(this.a, ta), B = this.load(this.b, tb);
    if (A.partial || B.partial || A.data.length !== B.data.length) return null;
    return sqnr(A.data, permuteHeads(B.data, nHead, tb.dims.length === 1 ? 1 : B.cols, toSplit), this.o.diff);
  }

  /** A square Q/K weight against B's rows in A's RoPE order, transposed (a transposed projection across layouts). */
  ropePermutedTransposed(ta: TensorView, tb: TensorView, nHead: number, toSplit: boolean): number | null {
    const A = this.load(this.a, ta), B = this.load(this.b, tb);
    if (A.partial || B.partial || A.data.length !== B.data.length || ta.dims.length !== 2 || B.rows !== B.cols) return null;
    return sqnr(A.data, transpose(permuteHeads(B.data, nHead, B.cols, toSplit), B.rows, B.cols), this.o.diff);
  }
}

export function roleKeyOf(t: TensorView): string {
  return t.layer === null ? String(t.role) : `blk.${t.layer}.${t.role}`;
}
