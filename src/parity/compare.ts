/**
 * Per-position logit comparison (docs/parity.md): top-1 with near-tie tolerance, order-free top-k
 * set equality, logit deltas against the band, and KL divergence from full-vocabulary softmax.
 * Every gate is written so that NaN fails (`!(x <= limit)`): "not computed" never reads as "matched".
 */
import type { Band } from "./bands.js";
import type { KlStats, PositionResult, TopK } from "./types.js";

/** Top-k of a row by partial insertion (O(V k)); descending logit, lower id first on equal logits. */
export function topK(row: ArrayLike<number>, k: number): TopK {
  const ids: number[] = [];
  const logits: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (Number.isNaN(v)) continue;
    let j: number;
    if (ids.length < k) {
      ids.push(i);
      logits.push(v);
      j = ids.length - 1;
    } else if (v > logits[k - 1]) j = k - 1;
    else continue;
    // Strictly-less shifting keeps the lower id first among equal logits.
    while (j > 0 && logits[j - 1] < v) {
      ids[j] = ids[j - 1];
      logits[j] = logits[j - 1];
      j--;
    }
    ids[j] = i;
    logits[j] = v;
  }
  return { ids, logits };
}

/** log-softmax in f64 (max-subtracted, so large logits do not overflow). */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

/** KL(P || Q) = sum_v p(v) (log p(v) - log q(v)), P from `ref` logits, Q from `other`. NaN if any is non-finite. */
export function klDivergence(ref: ArrayLike<number>, other: ArrayLike<number>): number {
  if (ref.length !== other.length) throw new RangeError(`kl: rows differ in length (${ref.length} vs ${other.length})`);
  if (!allFinite(ref) || !allFinite(other)) return NaN;
  const lp = logSoftmax(ref);
  const lq = logSoftmax(other);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) {
    const p = Math.exp(lp[i]);
    if (p > 0) kl += p * (lp[i] - lq[i]);
  }
  // Rounding can make an exact match come out a hair below zero.
  return Math.max(kl, 0);
}

export function allFinite(row: ArrayLike<number>): boolean {
  for (let i = 0; i < row.length; i++) if (!Number.isFinite(row[i])) return false;
  return true;
}

/** Mean, p95 (nearest rank) and max; all NaN when any input is NaN or there are none. */
export function klStats(values: number[]): KlStats {
  if (values.length === 0 || values.some((v) => Number.isNaN(v))) return { mean: NaN, p95: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(0.95 * sorted.length));
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, p95: sorted[rank - 1], max: sorted[sorted.length - 1] };
}

function maxAbsOver(a: ArrayLike<number>, b: ArrayLike<number>, ids: Iterable<number>): number {
  let m = 0;
  for (const i of ids) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

function maxAbsFull(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/** Reference ids missing from rosetta's top-k must sit within `gap` of rosetta's k-th logit, and vice versa. */
function setTieExplained(ref: ArrayLike<number>, ros: ArrayLike<number>, rt: TopK, st: TopK, gap: number): boolean {
  const rs = new Set(rt.ids);
  const ss = new Set(st.ids);
  const rosKth = st.logits[st.logits.length - 1];
  const refKth = rt.logits[rt.logits.length - 1];
  for (const id of rt.ids) if (!ss.has(id) && !(rosKth - ros[id] <= gap)) return false;
  for (const id of st.ids) if (!rs.has(id) && !(refKth - ref[id] <= gap)) return false;
  return true;
}

export interface PositionInput {
  tokenIdx: number;
  /** The token the reference generated here (teacher-forced into rosetta at the next position). */
  refToken: number;
  ref: ArrayLike<number>;
  ros: ArrayLike<number>;
  k: number;
  band: Band;
}

export function comparePosition(p: PositionInput): PositionResult {
  const { ref, ros, k, band } = p;
  if (ref.length !== ros.length) throw new RangeError(`position ${p.tokenIdx}: vocab sizes differ (${ref.length} vs ${ros.length})`);
  const reasons: string[] = [];
  const finite = allFinite(ref) && allFinite(ros);
  if (!finite) reasons.push("non-finite logits");
  const rt = topK(ref, k);
  const st = topK(ros, k);
  if (rt.ids[0] !== p.refToken) reasons.push(`reference argmax ${rt.ids[0]} is not its generated token ${p.refToken}`);

  let top1: PositionResult["top1"] = "match";
  if (st.ids[0] !== rt.ids[0]) {
    const gap = ros[st.ids[0]] - ros[rt.ids[0]];
    top1 = st.ids[1] === rt.ids[0] && gap <= band.nearTieGap ? "near-tie" : "flip";
    if (top1 === "flip") {
      const rank = st.ids.indexOf(rt.ids[0]) + 1;
      const where = rank > 0 ? `rosetta rank ${rank}` : `not in rosetta's top ${k}`;
      reasons.push(`top1 ${st.ids[0]} != ${rt.ids[0]} (reference token at ${where}, gap ${fmt(gap)} ${gap <= band.nearTieGap ? "<=" : ">"} near-tie ${fmt(band.nearTieGap)})`);
    }
  }
  const setEqual = rt.ids.length === st.ids.length && rt.ids.every((id) => st.ids.includes(id));
  const setTie = !setEqual && setTieExplained(ref, ros, rt, st, band.nearTieGap);
  if (!setEqual && !setTie) reasons.push(`top${k} sets differ`);

  const topDelta = maxAbsOver(ref, ros, new Set([...rt.ids, ...st.ids]));
  const fullDelta = maxAbsFull(ref, ros);
  if (!(topDelta <= band.topDelta)) reasons.push(`delta ${fmt(topDelta)} > band ${fmt(band.topDelta)}`);
  const kl = finite ? klDivergence(ref, ros) : NaN;
  if (!(kl <= band.klMax)) reasons.push(`kl ${fmt(kl)} > band ${fmt(band.klMax)}`);

  return { tokenIdx: p.tokenIdx, refToken: p.refToken, top1, setTie, setEqual, topDelta, fullDelta, kl, rosetta: st, llamacpp: rt, reasons };
}

export function fmt(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? x.toPrecision(4) : x.toExponential(2);
}
