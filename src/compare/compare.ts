/**
 * The comparator: two traces in, a ComparisonResult out. Pure: it never runs a model. Full tensors come
 * through each side's `tensor` accessor (src/trace/io.ts reads them from the safetensors file), the
 * full-tensor metrics from the native kernel (`diff`), weight findings and layer isolation from the
 * caller (src/pipeline/run-comparison.ts wires them).
 */
import { lastTokenSlice, type Summary, type Trace, type TracePoint } from "../trace/types.js";
import { alignPoints, firstTokenDifference, sampleMismatch, type AlignedPair } from "./align.js";
import { diffConfigs, metadataFindings } from "./config-diff.js";
import { diagnose, type IsolationResult } from "./diagnose.js";
import { expectedNoise, type Expectation } from "./expected.js";
import { fmt } from "./format.js";
import { nmseOf, perRowNmse, sqnrOf, summaryMetrics, tensorMetrics, worstNmse, type DiffFn } from "./metrics.js";
import { DEFAULT_THRESHOLD, referenceNoise, selectBand, type Band } from "./tolerances.js";
import {
  finding,
  COMPARISON_SCHEMA,
  COMPARISON_SCHEMA_VERSION,
  type ComparisonResult,
  type ConfigCheck,
  type Finding,
  type PointResult,
  type PointStatus,
  type SampleMetrics,
  type SideInfo,
  type Verdict,
  type VerifiedOn,
  type WeightDiff,
  type ElementDiff,
} from "./result.js";

export interface CompareSide {
  trace: Trace;
  /** What the user named: a file path, or `llama.cpp:<path>`. */
  source: string;
  /** Weight type of the model (GGML type name of most matmul weights); default trace.model.fileType. */
  weightType?: string;
  /** The full tensor of a point, when captured (row-major, shape = point.shape). */
  tensor?: (p: TracePoint) => Float32Array | null;
}

export interface CompareOptions {
  /** Text of a token id (the reference's tokenizer), for the flip finding. */
  tokenText?: (id: number) => string | undefined;
  /** Given: the user's bound; a precision band never loosens it (the band is reported as context only). */
  threshold?: number;
  /** Native diff kernel; without it only summaries are compared. */
  diff?: DiffFn | null;
  /** Override the band (tests, --band); default: selectBand() from the two sides. */
  band?: Band | null;
  weights?: WeightDiff;
  /** Reruns one layer of one side on the other side's input (engine hook); optional. */
  isolate?: (layer: number, step: number) => Promise<IsolationResult | null>;
}

function sideInfo(label: string, s: CompareSide): SideInfo {
  const t = s.trace;
  return {
    label,
    source: s.source,
    engine: t.engine.name,
    settings: t.engine.settings ?? {},
    fileType: s.weightType ?? t.model.fileType,
    tokens: t.input.tokens,
    generated: t.input.generated ?? [],
    ...(t.input.forced ? { forced: true } : {}),
    ...(t.imported ? { imported: { format: t.imported.format, notes: t.imported.notes, fullTensors: t.points.filter((p) => p.tensor !== undefined).length } } : {}),
  };
}

function tensorsOf(pair: AlignedPair, a: CompareSide, b: CompareSide, diff: DiffFn | null | undefined) {
  if (!diff || !pair.a?.tensor || !pair.b?.tensor || !a.tensor || !b.tensor) return null;
  const ta = a.tensor(pair.a);
  const tb = b.tensor(pair.b);
  if (!ta || !tb || ta.length !== tb.length || ta.length !== pair.b.shape.reduce((x, y) => x * y, 1)) return null;
  return { ta, tb };
}

function statusOf(m: (SampleMetrics | null)[], threshold: number, band: number): PointStatus {
  if (m.some((x) => x && (x.nonfiniteA > 0 || x.nonfiniteB > 0))) return "nonfinite";
  const w = worstNmse(...m);
  if (w === null || Number.isNaN(w)) return "nonfinite";
  // from summaries the NMSE is a lower bound: above the gate is a real divergence, under it proves nothing
  const fromSummaries = m.some((x) => x?.basis === "summary");
  if (w > band) return "diverged";
  if (fromSummaries) return "summary-agree";
  return w <= threshold ? "match" : "drift";
}

/** Q/K points of two sides whose RoPE layouts differ: compared modulo the NORM/NEOX order within heads. */
interface RopeOrder {
  /** A's layout: A's features are mapped into B's order before comparing. */
  toSplit: boolean;
  nHead: number;
  nHeadKv: number;
  headDim: number;
}

/** x [T, nH*hd] with each head's features reordered: adjacent pairs -> split halves (toSplit) or back. */
export function permuteFeatures(x: Float32Array, nH: number, hd: number, toSplit: boolean): Float32Array {
  const out = new Float32Array(x.length);
  const half = hd / 2, w = nH * hd, T = x.length / w;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nH; h++) {
      const o = t * w + h * hd;
      for (let j = 0; j < half; j++) {
        for (let s = 0; s < 2; s++) {
          const adj = o + 2 * j + s, split = o + s * half + j;
          if (toSplit) out[split] = x[adj];
          else out[adj] = x[split];
        }
      }
    }
  }
  return out;
}

function ropeOrderOf(a: Trace, b: Trace): RopeOrder | null {
  const ca = a.model.config as Record<string, unknown> | undefined, cb = b.model.config as Record<string, unknown> | undefined;
  if (!ca || !cb || !ca.ropeLayout || !cb.ropeLayout || ca.ropeLayout === cb.ropeLayout) return null;
  const n = (v: unknown) => (typeof v === "number" ? v : NaN);
  // the head geometry from the side that records it (an imported dump may not)
  const hd = n(cb.headDim ?? ca.headDim), nHead = n(cb.nHead ?? ca.nHead), nHeadKv = n(cb.nHeadKv ?? ca.nHeadKv);
  if (!(hd > 0 && hd % 2 === 0 && nHead > 0 && nHeadKv > 0)) return null;
  return { toSplit: ca.ropeLayout === "norm", nHead, nHeadKv, headDim: hd };
}

interface Ctx {
  a: CompareSide;
  b: CompareSide;
  threshold: number;
  band: Band | null;
  expect: Expectation;
  rope: RopeOrder | null;
  explicit: boolean;
  diff?: DiffFn | null;
  inputMismatch: string | null;
  genDiffAt: number; // first differing generated token index, -1 if none
}

function comparePair(pair: AlignedPair, ctx: Ctx): PointResult {
  const p = (pair.a ?? pair.b)!;
  const exp = ctx.expect.at({ point: String(p.point), layer: p.layer, step: pair.step, key: p.key });
  // the user's --threshold is the bound; else zero where zero is expected, else the band at this point
  const threshold = ctx.explicit ? ctx.threshold : exp.zero ? 0 : ctx.threshold;
  const bandNmse = ctx.explicit ? ctx.threshold : exp.zero ? 0 : Math.max(ctx.threshold, exp.nmse);
  const base = {
    key: p.key,
    point: p.point,
    layer: p.layer,
    step: pair.step,
    shapeA: pair.a?.shape ?? null,
    shapeB: pair.b?.shape ?? null,
    gate: { threshold, band: bandNmse, bandId: exp.id ?? ctx.band?.id ?? null, ...(exp.zero && !ctx.explicit ? { expected: "zero" as const } : {}) },
    all: null,
    last: null,
  };
  if (!pair.a) return { ...base, status: "only-b", note: "captured by B only" };
  if (!pair.b) return { ...base, status: "only-a", note: "captured by A only" };
  let mismatch = ctx.inputMismatch ?? sampleMismatch(pair.a, pair.b);
  if (!mismatch && ctx.genDiffAt >= 0 && pair.step > ctx.genDiffAt) {
    mismatch = `decode step ${pair.step} consumes a different generated token on each side (they differ from generated[${ctx.genDiffAt}])`;
  }
  if (mismatch) return { ...base, status: "sample-mismatch", note: mismatch };
  let tt = tensorsOf(pair, ctx.a, ctx.b, ctx.diff);
  let modulo: string | undefined;
  if (tt && ctx.rope && ctx.diff && (p.point === "q" || p.point === "k" || p.point === "q_rope" || p.point === "k_rope")) {
    const r = ctx.rope;
    const nH = p.point.startsWith("q") ? r.nHead : r.nHeadKv;
    const permuted = permuteFeatures(tt.ta, nH, r.headDim, r.toSplit);
    // after RoPE the order is fixed by each side's layout; before it either order is a valid storage
    const direct = p.point === "q" || p.point === "k" ? ctx.diff(tt.tb, tt.ta).nmseEnergy : Infinity;
    if (!(direct <= ctx.diff(tt.tb, permuted).nmseEnergy)) {
      tt = { ta: permuted, tb: tt.tb };
      modulo = "compared modulo the NORM/NEOX row order within heads (the two RoPE layouts)";
    }
  }
  let all: SampleMetrics | null;
  let last: SampleMetrics | null;
  let perToken: number[] | undefined;
  const { all: aAll, last: aLast } = pair.a, { all: bAll, last: bLast } = pair.b;
  if (tt && ctx.diff && aAll && bAll && aLast && bLast) {
    all = tensorMetrics(tt.ta, tt.tb, ctx.diff, aAll, bAll);
    last = tensorMetrics(lastTokenSlice(tt.ta, pair.a.point, pair.a.shape, pair.a.tokens), lastTokenSlice(tt.tb, pair.b.point, pair.b.shape, pair.b.tokens), ctx.diff, aLast, bLast);
    if (p.point !== "kq_softmax" && p.tokens > 1) perToken = perRowNmse(tt.ta, tt.tb, p.tokens, ctx.diff);
  } else {
    // only the samples both sides recorded (an imported trace may hold one of them)
    all = aAll && bAll ? summaryMetrics(aAll, bAll) : null;
    last = aLast && bLast ? summaryMetrics(aLast, bLast) : null;
    // printed elements of an imported dump against the other side's full tensor: a lower bound too
    const eb = elementBound(pair, ctx);
    if (eb) {
      if (all && all.nmse !== null) all = { ...all, nmse: Math.max(all.nmse, eb.all), sqnrDb: sqnrOf(Math.max(all.nmse, eb.all)) };
      if (last && last.nmse !== null) last = { ...last, nmse: Math.max(last.nmse, eb.last), sqnrDb: sqnrOf(Math.max(last.nmse, eb.last)) };
      modulo = [modulo, eb.note].filter(Boolean).join("; ");
    }
  }
  const status = statusOf([all, last], threshold, bandNmse);
  const note = [noteOf(status, all, last, ctx), modulo].filter(Boolean).join("; ") || undefined;
  return { ...base, status, all, last, note, perToken };
}

/**
 * Elements another engine printed (an imported dump) against the other side's full tensor: each
 * difference beyond the printing precision is real, so sum(excess^2) / reference energy is a lower
 * bound on the NMSE (all tokens; and over the elements of the last token). Null when either is missing.
 */
function elementBound(pair: AlignedPair, ctx: Ctx): { all: number; last: number; note: string } | null {
  const side = pair.a?.elements ? "a" : pair.b?.elements ? "b" : null;
  if (!side || !pair.a || !pair.b) return null;
  const el = side === "a" ? pair.a : pair.b, other = side === "a" ? pair.b : pair.a;
  const acc = side === "a" ? ctx.b.tensor : ctx.a.tensor;
  const full = other.tensor && acc ? acc(other) : null;
  const n = el.shape.reduce((x, y) => x * y, 1);
  if (!full || full.length !== n || el.point === "kq_softmax") return null;
  const e = el.elements!;
  const lastFrom = ((el.tokens - 1) * n) / el.tokens;
  let sAll = 0, sLast = 0, bad = 0;
  let first = "";
  for (let i = 0; i < e.index.length; i++) {
    const idx = e.index[i], v = e.values[i] as number | null, x = full[idx];
    const d = v === null || !Number.isFinite(v) ? (Object.is(v, x) || (v === null && Number.isNaN(x)) ? 0 : Infinity) : Math.max(0, Math.abs(x - v) - e.tolerance - 1e-6 * Math.abs(v));
    if (d > 0) {
      bad++;
      first ||= `first at element ${idx}: ${side.toUpperCase()} ${fmt(v)}, ${side === "a" ? "B" : "A"} ${fmt(x)}`;
    }
    sAll += d * d;
    if (idx >= lastFrom) sLast += d * d;
  }
  // the reference energy: B's (from its full tensor, or its summary when B is the imported side)
  // (when B is the imported side and did not measure its l2, A's full tensor stands in for it)
  let eAll = 0, eLast = 0;
  for (let i = 0; i < n; i++) eAll += full[i] * full[i];
  for (let i = lastFrom; i < n; i++) eLast += full[i] * full[i];
  const l2 = (s: Summary | null) => (s && (!s.known || s.known.includes("l2")) ? s.l2 * s.l2 : null);
  if (side === "b") {
    eAll = l2(pair.b.all) ?? eAll;
    eLast = l2(pair.b.last) ?? eLast;
  }
  const note = bad
    ? `${bad} of ${e.index.length} printed element(s) differ beyond the printing precision (±${fmt(e.tolerance)}), ${first}`
    : `${e.index.length} printed element(s) agree within the printing precision (±${fmt(e.tolerance)})`;
  return { all: nmseOf(sAll, eAll), last: nmseOf(sLast, eLast), note };
}

/** Differing elements of A and B (same shape): count, a histogram by decade of |A - B|, the 5 worst. */
export function elementDiff(a: Float32Array, b: Float32Array, shape: readonly number[]): ElementDiff {
  const bins = new Map<number, number>();
  const worst: { i: number; d: number }[] = [];
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    differing++;
    const d = Math.abs(x - y);
    const e = Number.isFinite(d) ? (d > 0 ? Math.floor(Math.log10(d)) : -99) : 99;
    bins.set(e, (bins.get(e) ?? 0) + 1);
    const key = Number.isFinite(d) ? d : Infinity;
    if (worst.length < 5 || key > worst[worst.length - 1].d) {
      worst.push({ i, d: key });
      worst.sort((p, q) => q.d - p.d);
      if (worst.length > 5) worst.pop();
    }
  }
  const idx = (i: number) => {
    const out: number[] = [];
    for (let k = shape.length - 1; k >= 0; k--) {
      out.unshift(i % shape[k]);
      i = Math.floor(i / shape[k]);
    }
    return out;
  };
  return { differing, hist: [...bins.entries()].sort((p, q) => p[0] - q[0]), worst: worst.map((w) => ({ index: idx(w.i), a: a[w.i], b: b[w.i] })) };
}

function noteOf(status: PointStatus, all: SampleMetrics | null, last: SampleMetrics | null, ctx: Ctx): string | undefined {
  const m = (all ?? last)!;
  if (status === "nonfinite") return `NaN/Inf: A ${m.nonfiniteA}, B ${m.nonfiniteB} element(s)`;
  if (status === "summary-agree") return "summaries agree (NMSE lower bound within the gate); not verified: no full tensors";
  const w = worstNmse(all, last);
  if (status === "diverged" && ctx.explicit && ctx.band && w !== null && w <= ctx.band.nmse)
    return `inside band ${ctx.band.id} (NMSE <= ${fmt(ctx.band.nmse)}), but --threshold ${fmt(ctx.threshold)} was given explicitly`;
  return undefined;
}

/** One side's top tokens at one position. */
interface Top {
  id: number;
  logit: number;
  second: number | null;
  secondLogit: number | null;
}

export interface TokenFlip {
  step: number;
  pos: number;
  a: Top;
  b: Top;
  /** The reference's margin (top-1 minus top-2 logit). */
  margin: number | null;
  /** B's logit of its top-1 minus its logit of A's top-1 (null: A's choice is not in B's top-k). */
  gap: number | null;
  /** The flip is within what the two sides' logit differences at these two tokens can explain. */
  nearTie: boolean;
}

/**
 * The first position whose top-1 token differs between the two sides (from each trace's top-k logits).
 * Near-tie: B's second token is A's first, and B's margin between them is no larger than how far the
 * two sides' logits of these two tokens differ: the flip is the size of the logit difference, not more.
 */
export function firstTokenFlip(a: Trace, b: Trace): TokenFlip | null {
  const ta = a.logits?.top ?? [], tb = b.logits?.top ?? [];
  const T = b.input.tokens.length;
  const n = Math.min(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    const x = ta[i], y = tb[i];
    if (x.pos !== y.pos || !x.ids.length || !y.ids.length || x.ids[0] === y.ids[0]) continue;
    const top = (t: typeof x): Top => ({ id: t.ids[0], logit: t.logits[0], second: t.ids[1] ?? null, secondLogit: t.logits[1] ?? null });
    const logitOf = (t: typeof x, id: number) => {
      const k = t.ids.indexOf(id);
      return k < 0 ? null : t.logits[k];
    };
    const margin = y.logits.length > 1 ? y.logits[0] - y.logits[1] : null;
    // B's gap between its choice and A's, against how far the two sides' logits of these two tokens differ
    const lbA = logitOf(y, x.ids[0]), laB = logitOf(x, y.ids[0]);
    const gap = lbA === null ? null : y.logits[0] - lbA;
    const moved = lbA === null || laB === null ? Infinity : Math.abs(x.logits[0] - lbA) + Math.abs(laB - y.logits[0]);
    const nearTie = gap !== null && gap <= moved;
    return { step: x.pos < T ? 0 : x.pos - T + 1, pos: x.pos, a: top(x), b: top(y), margin, gap, nearTie };
  }
  return null;
}

function flipFinding(f: TokenFlip, points: PointResult[], text?: (id: number) => string | undefined): Finding {
  const name = (id: number | null) => (id === null ? "-" : `${id}${text?.(id) !== undefined ? ` ${JSON.stringify(text(id))}` : ""}`);
  const fd = points.find((p) => p.step === f.step && (p.status === "diverged" || p.status === "nonfinite"));
  const ev = [
    `step ${f.step}, position ${f.pos}: A's top-1 ${name(f.a.id)} (logit ${fmt(f.a.logit)}; its top-2 ${name(f.a.second)} ${fmt(f.a.secondLogit)}), B's top-1 ${name(f.b.id)} (logit ${fmt(f.b.logit)}; top-2 ${name(f.b.second)} ${fmt(f.b.secondLogit)})`,
    `B's margin (top-1 - top-2) ${fmt(f.margin)}; B's gap to A's choice ${f.gap === null ? "unknown (A's choice is not in B's top-k)" : fmt(f.gap)}: ${f.nearTie ? "a near-tie (the two sides' logits of these two tokens moved by at least the gap)" : "not a near-tie: the gap is larger than the logits of these tokens moved"}`,
    fd ? `first divergent point of step ${f.step}: ${fd.key} (layer ${fd.layer ?? "-"}, NMSE ${fmt(worstNmse(fd.all, fd.last))})` : `no point of step ${f.step} is beyond its gate`,
  ];
  // the gates encode the expected noise: a flip with every point of its step within them is precision
  if (!fd) ev.push("every point of this step is within its gate: the flip is what the expected noise of this pair allows (precision), not a defect");
  return finding("token-flip", `logits@${f.step}`, fd?.layer ?? null, ev, fd !== undefined, f.step);
}

function inputMismatch(a: Trace, b: Trace): string | null {
  const i = firstTokenDifference(a.input.tokens, b.input.tokens);
  if (i < 0) return null;
  return `inputs differ from token ${i}: A [${a.input.tokens.join(", ")}] vs B [${b.input.tokens.join(", ")}]`;
}

function countStatuses(points: PointResult[]): Record<PointStatus, number> {
  const c: Record<PointStatus, number> = { match: 0, drift: 0, "summary-agree": 0, diverged: 0, nonfinite: 0, "sample-mismatch": 0, "only-a": 0, "only-b": 0 };
  for (const p of points) c[p.status]++;
  return c;
}

function verdictOf(counts: Record<PointStatus, number>, findings: Finding[]): Verdict {
  if (counts.diverged > 0 || counts.nonfinite > 0) return "DIVERGED";
  if (findings.some((f) => f.fatal && f.id !== "sample-mismatch" && f.id !== "tokenizer-mismatch")) return "DIVERGED";
  if (counts.match + counts.drift + counts["summary-agree"] === 0) return "INCOMPARABLE";
  if (counts["sample-mismatch"] > 0) return "INCOMPARABLE";
  return counts.drift > 0 ? "DRIFT" : "MATCH";
}

/** Whether the agreeing points were compared from full tensors, summaries only, or some of each. */
function verifiedOnOf(counts: Record<PointStatus, number>): VerifiedOn {
  const full = counts.match + counts.drift + counts.diverged + counts.nonfinite;
  if (counts["summary-agree"] === 0) return "full-tensors";
  return full === 0 ? "summaries-only" : "partly-summaries";
}

/** The two traces' recorded configs, field by field (docs/comparison.md). */
function configCheck(a: Trace, b: Trace): ConfigCheck {
  const d = diffConfigs(a.model.config, b.model.config);
  const status = d.mismatches.length ? "differs" : d.compared.length === 0 ? "not-compared" : d.missingA.length + d.missingB.length ? "partial" : "match";
  const arch = b.model.config?.arch ?? a.model.config?.arch;
  return { status, ...d, ...(typeof arch === "string" ? { arch } : {}) };
}

/** With an explicit --threshold, a first divergence the pair's band would have allowed says so. */
function explicitEvidence(ctx: Ctx, fd: PointResult | null): string | null {
  const w = fd && worstNmse(fd.all, fd.last);
  if (!ctx.explicit || !ctx.band || !fd || w === null || w > ctx.band.nmse) return null;
  return `NMSE ${fmt(w)} is inside band ${ctx.band.id} (<= ${fmt(ctx.band.nmse)}) for this pair: it fails because --threshold ${fmt(ctx.threshold)} was given explicitly (without it the band applies)`;
}

export async function compareTraces(a: CompareSide, b: CompareSide, opts: CompareOptions = {}): Promise<ComparisonResult> {
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  const sa = sideInfo("A", a);
  const sb = sideInfo("B", b);
  const band =
    opts.band !== undefined
      ? opts.band
      : selectBand({
          typeA: sa.fileType,
          typeB: sb.fileType,
          engineA: sa.engine,
          engineB: sb.engine,
          modeA: sa.settings.numerics as string | undefined,
          modeB: sb.settings.numerics as string | undefined,
        });
  const expect: Expectation = opts.band !== undefined
    ? { regime: band ? "band" : "threshold", why: band ? `band ${band.id} (given)` : "the threshold alone (given)", band, at: () => ({ nmse: band?.nmse ?? 0, id: band?.id ?? null, zero: false }) }
    : expectedNoise(sa, sb, opts.weights, band);
  const ctx: Ctx = {
    a,
    b,
    threshold,
    band: expect.band,
    expect,
    rope: ropeOrderOf(a.trace, b.trace),
    explicit: opts.threshold !== undefined,
    diff: opts.diff,
    inputMismatch: inputMismatch(a.trace, b.trace),
    genDiffAt: firstTokenDifference(sa.generated, sb.generated),
  };
  const pairs = alignPoints(a.trace, b.trace);
  const points = pairs.map((pair) => comparePair(pair, ctx));
  const counts = countStatuses(points);
  const firstDivergence = points.find((p) => p.status === "diverged" || p.status === "nonfinite") ?? null;
  // element detail where people look: the prompt step and the first divergence's step
  pairs.forEach((pair, i) => {
    if (pair.step !== 0 && pair.step !== firstDivergence?.step) return;
    const tt = ctx.diff ? tensorsOf(pair, a, b, ctx.diff) : null;
    if (tt) points[i].diff = elementDiff(tt.ta, tt.tb, (pair.b ?? pair.a)!.shape);
  });
  const config = configCheck(a.trace, b.trace);
  // model files on both sides: the weight diff already diffed the same configs (and knows missing tensors)
  const hf = a.trace.model.format === "hf" || b.trace.model.format === "hf";
  const configFindings = opts.weights ? [] : metadataFindings(config.mismatches, null, config.arch, ctx.rope !== null, hf);
  const flip = firstTokenFlip(a.trace, b.trace);
  const findings = await diagnose({ a: sa, b: sb, traceA: a.trace, traceB: b.trace, points, firstDivergence, weights: opts.weights, configFindings, isolate: opts.isolate, band });
  if (flip) {
    const ff = flipFinding(flip, points, opts.tokenText);
    // the flip goes after the finding that explains the divergence, before the informational ones
    const at = findings.findIndex((f) => !f.fatal);
    findings.splice(at < 0 ? findings.length : at, 0, ff);
  }
  const diagnosis = findings.find((f) => f.fatal) ?? findings.find((f) => f.id === "precision-drift") ?? null;
  const why = explicitEvidence(ctx, firstDivergence);
  if (why && diagnosis) diagnosis.evidence.push(why);
  return {
    schema: COMPARISON_SCHEMA,
    version: COMPARISON_SCHEMA_VERSION,
    a: sa,
    b: sb,
    threshold,
    thresholdExplicit: ctx.explicit,
    band: expect.band && { id: expect.band.id, nmse: expect.band.nmse, provisional: expect.band.provisional, basis: expect.band.basis },
    regime: { id: expect.regime, why: ctx.explicit ? `${expect.why}; --threshold ${fmt(threshold)} given: it is the bound for activations` : expect.why },
    noise: referenceNoise(sb.fileType),
    points,
    counts,
    firstDivergence,
    findings,
    diagnosis,
    verdict: verdictOf(counts, findings),
    verifiedOn: verifiedOnOf(counts),
    config,
    weights: opts.weights,
  };
}
