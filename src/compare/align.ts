/**
 * Alignment of two traces' capture points by canonical key and step, in forward order (step, then
 * embd, layers ascending with their sub-steps in LAYER_POINTS order, then result_norm and logits). The
 * order comes from the canonical names, never from the order a file lists its points in, so a trace
 * written by another engine lines up too. Points with names rosetta does not know sort after the known
 * ones of their layer, by name.
 */
import { GLOBAL_POINTS_AFTER, GLOBAL_POINTS_BEFORE, LAYER_POINTS, type Trace, type TracePoint } from "../trace/types.js";

export interface AlignedPair {
  key: string;
  step: number;
  a: TracePoint | null;
  b: TracePoint | null;
}

const BEFORE = new Map<string, number>(GLOBAL_POINTS_BEFORE.map((p, i) => [p, i]));
// qkv (a derived point: q|k|v per token) sorts right after v
const LAYER = new Map<string, number>([...LAYER_POINTS.slice(0, 4), "qkv", ...LAYER_POINTS.slice(4)].map((p, i) => [p, i]));
const AFTER = new Map<string, number>(GLOBAL_POINTS_AFTER.map((p, i) => [p, i]));

/** Sort key for a point: [step, section, layer, index in section]. */
export function forwardOrder(p: { point: string; layer: number | null; step: number }): [number, number, number, number] {
  if (p.layer !== null) return [p.step, 1, p.layer, LAYER.get(p.point) ?? LAYER_POINTS.length];
  if (BEFORE.has(p.point)) return [p.step, 0, 0, BEFORE.get(p.point)!];
  if (AFTER.has(p.point)) return [p.step, 2, 0, AFTER.get(p.point)!];
  return [p.step, 3, 0, 0];
}

export function compareForward(
  x: { point: string; layer: number | null; step: number; key: string },
  y: { point: string; layer: number | null; step: number; key: string },
): number {
  const ox = forwardOrder(x);
  const oy = forwardOrder(y);
  for (let i = 0; i < 4; i++) if (ox[i] !== oy[i]) return ox[i] - oy[i];
  return x.key < y.key ? -1 : x.key > y.key ? 1 : 0;
}

function index(t: Trace): Map<string, TracePoint> {
  const m = new Map<string, TracePoint>();
  for (const p of t.points) m.set(`${p.step}|${p.key}`, p);
  return m;
}

/** Every (key, step) captured on either side, in forward order. */
export function alignPoints(a: Trace, b: Trace): AlignedPair[] {
  const ia = index(a);
  const ib = index(b);
  const keys = new Set([...ia.keys(), ...ib.keys()]);
  const pairs: AlignedPair[] = [];
  for (const k of keys) {
    const pa = ia.get(k) ?? null;
    const pb = ib.get(k) ?? null;
    const p = (pa ?? pb)!;
    pairs.push({ key: p.key, step: p.step, a: pa, b: pb });
  }
  const ref = (x: AlignedPair) => ({ point: (x.a ?? x.b)!.point, layer: (x.a ?? x.b)!.layer, step: x.step, key: x.key });
  pairs.sort((x, y) => compareForward(ref(x), ref(y)));
  return pairs;
}

/**
 * Why two points do not summarise the same sample, or null when they do. The token ids of the two
 * traces are checked once by the caller (a different input makes every point a sample mismatch).
 */
export function sampleMismatch(a: TracePoint, b: TracePoint): string | null {
  if (a.tokens !== b.tokens || a.firstPos !== b.firstPos) {
    return `positions differ: A covers ${a.tokens} token(s) from ${a.firstPos}, B ${b.tokens} from ${b.firstPos}`;
  }
  // only like is compared with like: all tokens with all tokens, the last token with the last token
  const sample = (p: TracePoint) => (p.all ? `all ${p.tokens} token(s) (${p.all.count} elements)` : `the last token only (${p.last!.count} elements)`);
  if (!(a.all && b.all) && !(a.last && b.last)) {
    return `different samples: A summarizes ${sample(a)}, B ${sample(b)}: no sample is recorded on both sides`;
  }
  if ((a.all && b.all && a.all.count !== b.all.count) || (a.last && b.last && a.last.count !== b.last.count)) {
    return `element counts differ: all ${a.all?.count ?? "-"} vs ${b.all?.count ?? "-"}, last token ${a.last?.count ?? "-"} vs ${b.last?.count ?? "-"}`;
  }
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    return `shapes differ: A [${a.shape.join(", ")}] vs B [${b.shape.join(", ")}] (same count, different element order)`;
  }
  return null;
}

/** First index where two id lists differ, or -1 when equal. */
export function firstTokenDifference(x: number[], y: number[]): number {
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return i;
  return -1;
}
