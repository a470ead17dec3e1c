/**
 * Metrics for one sample of one capture point, from full tensors (exact, computed natively) or from the
 * two summaries (bounds). Summary bounds (docs/comparison.md), for n elements with no NaN/Inf:
 *   ||a-b||^2 = ||(a-ma)-(b-mb)||^2 + n (ma-mb)^2 >= n [ (sa-sb)^2 + (ma-mb)^2 ]
 * so nmse >= n [(sa-sb)^2 + (ma-mb)^2] / l2_b^2 (and sqnr <= -10 log10 of that);
 *   max|a-b| >= max(|max_a-max_b|, |min_a-min_b|, |absmax_a-absmax_b|, rms(a-b))
 *   mean|a-b| >= |ma-mb|.
 * A divergence found from summaries is therefore real; a pass from summaries only says the summaries
 * agree, and the report says so.
 */
import type { NativeDiffMetrics } from "../bindings/kernels-addon.js";
import type { Summary } from "../trace/types.js";
import type { SampleMetrics } from "./result.js";

/** What the native kernel returns for (reference, other) (kernels/include/rosetta/reduce.h). */
export type NativeDiff = NativeDiffMetrics;

export type DiffFn = (ref: Float32Array, other: Float32Array) => NativeDiff;

/** Whether both summaries measured this field (an imported one may list the fields it knows). */
function both(a: Summary, b: Summary, f: keyof Omit<Summary, "known">): boolean {
  return (!a.known || a.known.includes(f)) && (!b.known || b.known.includes(f));
}

function nonfinite(s: Summary): number {
  const k = (f: "nan" | "inf") => (!s.known || s.known.includes(f) ? s[f] : 0);
  return k("nan") + k("inf");
}

function deltas(a: Summary, b: Summary) {
  return {
    meanDelta: both(a, b, "mean") ? a.mean - b.mean : NaN,
    stdDelta: both(a, b, "std") ? a.std - b.std : NaN,
    l2Rel: !both(a, b, "l2") ? NaN : b.l2 > 0 ? (a.l2 - b.l2) / b.l2 : a.l2 === 0 ? 0 : Infinity,
    absmaxDelta: both(a, b, "absmax") ? a.absmax - b.absmax : NaN,
  };
}

/** nmse from a squared error and the reference energy; 0/0 is 0 and x/0 is Infinity. */
export function nmseOf(errSq: number, refSq: number): number {
  if (errSq === 0) return 0;
  return refSq > 0 ? errSq / refSq : Infinity;
}

export function sqnrOf(nmse: number): number {
  return nmse === 0 ? Infinity : -10 * Math.log10(nmse);
}

/**
 * Metrics from two summaries of the same sample (the caller checked the counts match). Only fields both
 * sides measured enter a bound (a partial imported summary: docs/foreign-traces.md); the reference energy
 * is B's l2, else A's when only A measured it (then the bound is approximate), else the NMSE bound is 0.
 */
export function summaryMetrics(a: Summary, b: Summary): SampleMetrics {
  const base = { basis: "summary" as const, count: b.count, nonfiniteA: nonfinite(a), nonfiniteB: nonfinite(b), ...deltas(a, b) };
  if (base.nonfiniteA > 0 || base.nonfiniteB > 0) {
    return { ...base, maxAbs: null, meanAbs: null, nmse: null, sqnrDb: null, cosine: null };
  }
  const n = b.count;
  const dm = both(a, b, "mean") ? a.mean - b.mean : 0;
  const ds = both(a, b, "std") ? a.std - b.std : 0;
  const errSq = n * (ds * ds + dm * dm);
  const l2 = !b.known || b.known.includes("l2") ? b.l2 : !a.known || a.known.includes("l2") ? a.l2 : null;
  const nmse = l2 === null ? 0 : nmseOf(errSq, l2 * l2);
  const rms = Math.sqrt(ds * ds + dm * dm);
  const pairs: number[] = [rms];
  if (both(a, b, "max")) pairs.push(Math.abs(a.max - b.max));
  if (both(a, b, "min")) pairs.push(Math.abs(a.min - b.min));
  if (both(a, b, "absmax")) pairs.push(Math.abs(a.absmax - b.absmax));
  return { ...base, maxAbs: Math.max(...pairs), meanAbs: Math.abs(dm), nmse, sqnrDb: sqnrOf(nmse), cosine: null };
}

/** Metrics from both full tensors (B is the reference), computed by the native kernel. */
export function tensorMetrics(a: Float32Array, b: Float32Array, diff: DiffFn, sa: Summary, sb: Summary): SampleMetrics {
  const d = diff(b, a);
  return {
    basis: "tensor",
    count: d.count,
    maxAbs: d.maxAbs,
    meanAbs: d.meanAbs,
    nmse: d.nmseEnergy,
    sqnrDb: d.sqnrDb,
    cosine: d.cosine,
    nonfiniteA: nonfinite(sa),
    nonfiniteB: nonfinite(sb),
    ...deltas(sa, sb),
  };
}

/** Per-row energy NMSE of two [rows, width] tensors (position analysis). */
export function perRowNmse(a: Float32Array, b: Float32Array, rows: number, diff: DiffFn): number[] {
  const w = Math.floor(b.length / rows);
  const out: number[] = [];
  for (let r = 0; r < rows; r++) out.push(diff(b.subarray(r * w, (r + 1) * w), a.subarray(r * w, (r + 1) * w)).nmseEnergy);
  return out;
}

/** The worse of the two samples' NMSE (null when neither could be computed). */
export function worstNmse(...ms: (SampleMetrics | null)[]): number | null {
  let w: number | null = null;
  for (const m of ms) if (m && m.nmse !== null && (w === null || !(m.nmse <= w))) w = m.nmse;
  return w;
}
