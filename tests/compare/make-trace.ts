/**
 * Hand-made traces for comparator tests, written the way another engine would write the documented
 * format: every point with its full tensor (kept in memory here) and both summaries computed from it.
 * `perturb` changes one point's tensor (and, like a real forward pass, every later point inherits it).
 */
import { LAYER_POINTS, pointKey, type PointKind, type Summary, type Trace, type TracePoint } from "../../src/trace/types.js";
import { rng } from "../helpers/rng.js";

export function summarize(x: Float32Array): Summary {
  let nan = 0, inf = 0, zeros = 0, n = 0, sum = 0, sq = 0, min = Infinity, max = -Infinity, absmax = 0;
  for (const v of x) {
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
    else {
      n++;
      sum += v;
      sq += v * v;
      if (v === 0) zeros++;
      if (v < min) min = v;
      if (v > max) max = v;
      if (Math.abs(v) > absmax) absmax = Math.abs(v);
    }
  }
  const mean = n ? sum / n : 0;
  const std = n ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : 0;
  return { count: x.length, nan, inf, zeros, mean, std, min: n ? min : NaN, max: n ? max : NaN, absmax, l2: Math.sqrt(sq) };
}

export interface MadeTrace {
  trace: Trace;
  tensors: Map<string, Float32Array>; // by point.tensor name
}

export interface MakeOptions {
  engine?: string;
  nLayer?: number;
  tokens?: number[];
  width?: number;
  seed?: number;
  fileType?: string;
  points?: readonly string[]; // layer points to include (default all but kq_softmax)
  steps?: number; // decode steps (each one token)
  withTensors?: boolean;
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** A deterministic trace: the same seed gives the same values on both sides. */
export function makeTrace(o: MakeOptions = {}): MadeTrace {
  const nLayer = o.nLayer ?? 3;
  const tokens = o.tokens ?? [1, 15, 43, 7];
  const width = o.width ?? 16;
  const r = rng(o.seed ?? 42);
  const layerPoints = (o.points ?? LAYER_POINTS.filter((p) => p !== "kq_softmax")) as PointKind[];
  const points: TracePoint[] = [];
  const tensors = new Map<string, Float32Array>();
  const steps = o.steps ?? 0;
  const add = (point: PointKind, layer: number | null, step: number) => {
    const T = step === 0 ? tokens.length : 1;
    const w = point === "logits" ? 32 : width;
    const x = new Float32Array(T * w);
    for (let i = 0; i < x.length; i++) x[i] = gauss(r) + 0.1;
    const key = pointKey(point, layer);
    const name = `${key}@${step}`;
    tensors.set(name, x);
    points.push({
      key, point, layer, step, shape: [T, w], firstPos: step === 0 ? 0 : tokens.length + step - 1, tokens: T,
      all: summarize(x), last: summarize(x.subarray((T - 1) * w)),
      ...(o.withTensors !== false ? { tensor: name } : {}),
    });
  };
  for (let step = 0; step <= steps; step++) {
    add("embd", null, step);
    for (let l = 0; l < nLayer; l++) for (const p of layerPoints) add(p, l, step);
    add("result_norm", null, step);
    add("logits", null, step);
  }
  const trace: Trace = {
    format: "rosetta-trace",
    version: 1,
    engine: { name: o.engine ?? "hand-made", settings: { numerics: "exact" } },
    model: { arch: "llama", fileType: o.fileType ?? "F32" },
    input: { prompt: "2+2=", tokens, generated: Array.from({ length: steps }, (_, i) => 100 + i) },
    points,
  };
  return { trace, tensors };
}

/** A deep copy (tensors copied too), so that a perturbation of one side leaves the other alone. */
export function clone(m: MadeTrace): MadeTrace {
  const tensors = new Map([...m.tensors].map(([k, v]) => [k, new Float32Array(v)]));
  return { trace: JSON.parse(JSON.stringify(m.trace)) as Trace, tensors };
}

/** Order index of a point in the trace (forward order as written). */
function indexOf(m: MadeTrace, key: string, step: number): number {
  const i = m.trace.points.findIndex((p) => p.key === key && p.step === step);
  if (i < 0) throw new Error(`no point ${key} step ${step}`);
  return i;
}

/**
 * Applies f to the tensor of (key, step) and of every later point (inherited), then recomputes the
 * summaries. `fromToken` limits the change to tokens >= fromToken of each point (position signatures).
 */
export function perturb(m: MadeTrace, key: string, step: number, f: (v: number, i: number) => number, opts: { inherit?: boolean; fromToken?: number; only?: string[] } = {}): void {
  const start = indexOf(m, key, step);
  const end = opts.inherit === false ? start + 1 : m.trace.points.length;
  for (let i = start; i < end; i++) {
    const p = m.trace.points[i];
    if (opts.only && !opts.only.includes(p.point) && i !== start) continue;
    const x = m.tensors.get(p.tensor ?? `${p.key}@${p.step}`)!;
    const w = x.length / p.tokens;
    for (let j = (opts.fromToken ?? 0) * w; j < x.length; j++) x[j] = f(x[j], j);
    p.all = summarize(x);
    p.last = summarize(x.subarray((p.tokens - 1) * w));
  }
}

export function accessor(m: MadeTrace) {
  return (p: TracePoint) => (p.tensor ? (m.tensors.get(p.tensor) ?? null) : null);
}
