/**
 * The comparator's result structures. They are what the text, JSON and JUnit reports print, and what
 * the JSON report serializes (schema: docs/comparison.md, versioned by COMPARISON_SCHEMA_VERSION).
 * Side B is the reference: every relative metric divides by B's energy.
 */
import type { PointKind } from "../trace/types.js";
import type { DiagnosisId } from "./diagnoses.js";

export const COMPARISON_SCHEMA = "rosetta-comparison";
export const COMPARISON_SCHEMA_VERSION = 1;

/** Where a metric came from: both full tensors (exact), or the two summaries (bounds only). */
export type MetricBasis = "tensor" | "summary";

/**
 * Metrics over one sample (all tokens of a step, or its last token). With basis "summary" the error
 * metrics are lower bounds (maxAbs, meanAbs, nmse) and sqnrDb an upper bound, derived from the
 * mean/std/min/max/absmax of each side (docs/comparison.md); cosine is then null (not computable).
 */
export interface SampleMetrics {
  basis: MetricBasis;
  count: number;
  maxAbs: number | null;
  meanAbs: number | null;
  nmse: number | null; // energy NMSE: sum (a-b)^2 / sum b^2
  sqnrDb: number | null;
  cosine: number | null;
  /** Elements that are NaN or Inf, per side. */
  nonfiniteA: number;
  nonfiniteB: number;
  /** Summary deltas (A - B), always present: mean, std, relative l2, absmax. */
  meanDelta: number;
  stdDelta: number;
  l2Rel: number; // (l2_A - l2_B) / l2_B
  absmaxDelta: number;
}

/**
 * match: within --threshold. drift: above the threshold but inside the precision band that applies to
 * this pair (precision drift within band: a pass, reported). diverged: above both. nonfinite: NaN/Inf on
 * either side (never a pass). sample-mismatch: the two sides summarise different samples (never
 * compared). only-a / only-b: captured on one side only (not compared).
 */
export type PointStatus = "match" | "drift" | "diverged" | "nonfinite" | "sample-mismatch" | "only-a" | "only-b";

export const PASSING: ReadonlySet<PointStatus> = new Set(["match", "drift"]);

export interface PointResult {
  key: string;
  point: PointKind | string;
  layer: number | null;
  step: number;
  shapeA: number[] | null;
  shapeB: number[] | null;
  status: PointStatus;
  all: SampleMetrics | null;
  last: SampleMetrics | null;
  /** The NMSE bound that decided match vs drift (the threshold) and drift vs diverged (the band). */
  gate: { threshold: number; band: number; bandId: string | null };
  /** Why it is not a plain match: sample mismatch detail, nonfinite counts... */
  note?: string;
  /** Per-token energy NMSE at this step, when both sides have full tensors of a per-token point. */
  perToken?: number[];
}

export interface Finding {
  /** Diagnosis vocabulary id (docs/diagnoses.md). */
  id: DiagnosisId;
  title: string;
  /** Where: a capture key (`blk.0.q`), a role key (`blk.0.attn_q`), or `input`. */
  where: string;
  layer: number | null;
  step?: number;
  evidence: string[];
  recommendation: string;
  /** Fails the comparison (true) or is informational (precision drift within band). */
  fatal: boolean;
}

export type Verdict = "MATCH" | "DRIFT" | "DIVERGED" | "INCOMPARABLE";

export interface SideInfo {
  label: string; // "A" / "B"
  source: string; // file path or "llama.cpp:<path>"
  engine: string;
  settings: Record<string, unknown>;
  fileType?: string;
  tokens: number[];
  generated: number[];
}

export interface ComparisonResult {
  schema: typeof COMPARISON_SCHEMA;
  version: number;
  a: SideInfo;
  b: SideInfo;
  threshold: number;
  /** The precision band applied to this pair (null: none, the threshold alone decides). */
  band: { id: string; nmse: number; provisional: boolean; basis: string } | null;
  /** The reference's own noise (measured; docs/tolerances.md): run to run, and rosetta's two numerics modes. */
  noise?: import("./tolerances.js").NoiseInfo;
  points: PointResult[];
  counts: Record<PointStatus, number>;
  firstDivergence: PointResult | null;
  findings: Finding[];
  /** The diagnosis the summary names: the first fatal finding, or precision drift, or null on a match. */
  diagnosis: Finding | null;
  verdict: Verdict;
  /** Weight-level diff, when both sides were model files. */
  weights?: import("./weights.js").WeightDiff;
  timings?: Record<string, number>;
}
