/**
 * The comparator: two traces in, a ComparisonResult out. Pure: it never runs a model. Full tensors come
 * through each side's `tensor` accessor (src/trace/io.ts reads them from the safetensors file), the
 * full-tensor metrics from the native kernel (`diff`), weight findings and layer isolation from the
 * caller (src/compare/run.ts wires them).
 */
import type { Trace, TracePoint } from "../trace/types.js";
import { alignPoints, firstTokenDifference, sampleMismatch, type AlignedPair } from "./align.js";
import { diffConfigs, metadataFindings } from "./config-diff.js";
import { diagnose, type IsolationResult } from "./diagnose.js";
import { fmt } from "./format.js";
import { perRowNmse, summaryMetrics, tensorMetrics, worstNmse, type DiffFn } from "./metrics.js";
import { DEFAULT_THRESHOLD, referenceNoise, selectBand, type Band } from "./tolerances.js";
import {
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
  type WeightDiff,
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
  };
}

/** Last-token slice of a full tensor: last row of [T, ...], or row T-1 of every head of [H, T, K]. */
function lastToken(x: Float32Array, p: TracePoint): Float32Array {
  const T = p.tokens;
  if (p.point === "kq_softmax" && p.shape.length === 3) {
    const [h, t, k] = p.shape;
    const out = new Float32Array(h * k);
    for (let i = 0; i < h; i++) out.set(x.subarray((i * t + t - 1) * k, (i * t + t) * k), i * k);
    return out;
  }
  const w = x.length / T;
  return x.subarray((T - 1) * w, T * w);
}

function tensorsOf(pair: AlignedPair, a: CompareSide, b: CompareSide, diff: DiffFn | null | undefined) {
  if (!diff || !pair.a?.tensor || !pair.b?.tensor || !a.tensor || !b.tensor) return null;
  const ta = a.tensor(pair.a);
  const tb = b.tensor(pair.b);
  if (!ta || !tb || ta.length !== tb.length || ta.length !== pair.b.all.count) return null;
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

interface Ctx {
  a: CompareSide;
  b: CompareSide;
  threshold: number;
  band: Band | null;
  explicit: boolean;
  diff?: DiffFn | null;
  inputMismatch: string | null;
  genDiffAt: number; // first differing generated token index, -1 if none
}

function comparePair(pair: AlignedPair, ctx: Ctx): PointResult {
  const p = (pair.a ?? pair.b)!;
  const bandNmse = ctx.explicit ? ctx.threshold : Math.max(ctx.threshold, ctx.band?.nmse ?? 0);
  const base = {
    key: p.key,
    point: p.point,
    layer: p.layer,
    step: pair.step,
    shapeA: pair.a?.shape ?? null,
    shapeB: pair.b?.shape ?? null,
    gate: { threshold: ctx.threshold, band: bandNmse, bandId: ctx.band?.id ?? null },
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
  const tt = tensorsOf(pair, ctx.a, ctx.b, ctx.diff);
  let all: SampleMetrics;
  let last: SampleMetrics;
  let perToken: number[] | undefined;
  if (tt && ctx.diff) {
    all = tensorMetrics(tt.ta, tt.tb, ctx.diff, pair.a.all, pair.b.all);
    last = tensorMetrics(lastToken(tt.ta, pair.a), lastToken(tt.tb, pair.b), ctx.diff, pair.a.last, pair.b.last);
    if (p.point !== "kq_softmax" && p.tokens > 1) perToken = perRowNmse(tt.ta, tt.tb, p.tokens, ctx.diff);
  } else {
    all = summaryMetrics(pair.a.all, pair.b.all);
    last = summaryMetrics(pair.a.last, pair.b.last);
  }
  const status = statusOf([all, last], ctx.threshold, bandNmse);
  return { ...base, status, all, last, note: noteOf(status, all, last, ctx), perToken };
}

function noteOf(status: PointStatus, all: SampleMetrics, last: SampleMetrics, ctx: Ctx): string | undefined {
  if (status === "nonfinite") return `NaN/Inf: A ${all.nonfiniteA}, B ${all.nonfiniteB} element(s)`;
  if (status === "summary-agree") return "summaries agree (NMSE lower bound within the gate); not verified: no full tensors";
  const w = worstNmse(all, last);
  if (status === "diverged" && ctx.explicit && ctx.band && w !== null && w <= ctx.band.nmse)
    return `inside band ${ctx.band.id} (NMSE <= ${fmt(ctx.band.nmse)}), but --threshold ${fmt(ctx.threshold)} was given explicitly`;
  return undefined;
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
  if (counts["summary-agree"] > 0) return "UNVERIFIED";
  return counts.drift > 0 ? "DRIFT" : "MATCH";
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
  const ctx: Ctx = {
    a,
    b,
    threshold,
    band,
    explicit: opts.threshold !== undefined,
    diff: opts.diff,
    inputMismatch: inputMismatch(a.trace, b.trace),
    genDiffAt: firstTokenDifference(sa.generated, sb.generated),
  };
  const points = alignPoints(a.trace, b.trace).map((pair) => comparePair(pair, ctx));
  const counts = countStatuses(points);
  const firstDivergence = points.find((p) => p.status === "diverged" || p.status === "nonfinite") ?? null;
  const config = configCheck(a.trace, b.trace);
  // model files on both sides: the weight diff already diffed the same configs (and knows missing tensors)
  const configFindings = opts.weights ? [] : metadataFindings(config.mismatches, null, config.arch);
  const findings = await diagnose({ a: sa, b: sb, traceA: a.trace, traceB: b.trace, points, firstDivergence, weights: opts.weights, configFindings, isolate: opts.isolate, band });
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
    band: band && { id: band.id, nmse: band.nmse, provisional: band.provisional, basis: band.basis },
    noise: referenceNoise(sb.fileType),
    points,
    counts,
    firstDivergence,
    findings,
    diagnosis,
    verdict: verdictOf(counts, findings),
    config,
    weights: opts.weights,
  };
}
