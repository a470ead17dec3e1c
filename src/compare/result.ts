/**
 * The comparator's result structures. They are what the text, JSON and JUnit reports print, and what
 * the JSON report serializes (schema: docs/comparison.md, versioned by COMPARISON_SCHEMA_VERSION).
 * Side B is the reference: every relative metric divides by B's energy.
 */
import type { PointKind } from "../trace/types.js";
import type { NoiseInfo } from "./tolerances.js";
import { DIAGNOSES, type DiagnosisId } from "./vocabulary.js";

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
 * match: within --threshold, from both full tensors. drift: above the threshold but inside the precision
 * band that applies to this pair (precision drift within band: a pass, reported), from full tensors.
 * summary-agree: only summaries were available and they agree within the gate (the NMSE lower bound is
 * under it): consistent, but not verified, never counted as a match. diverged: above the gate (from
 * summaries too: a lower bound above the gate is a real divergence). nonfinite: NaN/Inf on either side
 * (never a pass). sample-mismatch: the two sides summarise different samples (never compared). only-a /
 * only-b: captured on one side only (not compared).
 */
export type PointStatus = "match" | "drift" | "summary-agree" | "diverged" | "nonfinite" | "sample-mismatch" | "only-a" | "only-b";

/** Verified passes (full tensors). */
export const PASSING: ReadonlySet<PointStatus> = new Set(["match", "drift"]);
/** Nothing wrong found at the point: the verified passes and summary agreement. */
export const NOT_FAILING: ReadonlySet<PointStatus> = new Set(["match", "drift", "summary-agree"]);

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
  /**
   * The NMSE bound that decided match vs drift (the threshold) and drift vs diverged (the band). With an
   * explicit --threshold the band does not loosen the gate: `band` equals `threshold` (bandId still names
   * the pair's band, for context).
   */
  gate: { threshold: number; band: number; bandId: string | null; expected?: "zero" };
  /** Why it is not a plain match: sample mismatch detail, nonfinite counts... */
  note?: string;
  /** Per-token energy NMSE at this step, when both sides have full tensors of a per-token point. */
  perToken?: number[];
  /** Element detail from both full tensors (the prompt step and the first divergence's step): how many
   *  elements differ, a histogram of |A - B| by decade, and the worst elements (row-major index, A, B). */
  diff?: ElementDiff;
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
  /** The tensors (role keys) the finding is about: what an experiment transplants to test it. */
  tensors?: string[];
  /** The config fields the finding is about (metadata findings). */
  keys?: string[];
  /** The counterfactual rerun that tested it (experiments.ts). */
  experiment?: ExperimentCheck;
}

/** Outcome of rerunning one side with the finding's tensors/keys taken from the other side. */
export interface ExperimentCheck {
  transplanted: string[];
  /** Every compared point matches after the transplant. */
  explainsAll: boolean;
  /** First divergence after the transplant (null: none). */
  firstDivergenceAfter: { key: string; step: number; nmse: number | null } | null;
}

/** A finding in the vocabulary: its title and default recommendation come from DIAGNOSES. */
export function finding(id: DiagnosisId, where: string, layer: number | null, evidence: string[], fatal = true, step?: number): Finding {
  return { id, title: DIAGNOSES[id].title, where, layer, step, evidence, recommendation: DIAGNOSES[id].recommendation, fatal };
}

/**
 * What the compared points say, whatever they were compared from. A MATCH or DRIFT always comes with
 * `verifiedOn`: when some points agree only in their summaries (an imported dump, a trace saved without
 * tensors), the verdict is the one those summaries give and `verifiedOn` says it is not a full-tensor
 * match (docs/comparison.md: `--assert-match` fails it unless `--accept-summaries`).
 */
export type Verdict = "MATCH" | "DRIFT" | "DIVERGED" | "INCOMPARABLE";

/**
 * What a passing verdict rests on: every compared point from full tensors, every one from summaries only
 * (statistics, sums, printed elements), or some of each.
 */
export type VerifiedOn = "full-tensors" | "summaries-only" | "partly-summaries";

/** The two sides' model configs, field by field (fields one side does not record are not compared). */
export interface ConfigCheck {
  /** "match": every field compared and equal; "differs": a compared field differs; "partial": the compared
   *  ones agree but some are missing on a side; "not-compared": no field recorded on both sides. */
  status: "match" | "differs" | "partial" | "not-compared";
  compared: string[];
  missingA: string[];
  missingB: string[];
  mismatches: { field: string; a: unknown; b: unknown }[];
  /** The architecture (B's, else A's), which names the GGUF keys (`<arch>.attention.layer_norm_rms_epsilon`). */
  arch?: string;
}

export interface SideInfo {
  label: string; // "A" / "B"
  source: string; // file path or "llama.cpp:<path>"
  engine: string;
  settings: Record<string, unknown>;
  fileType?: string;
  tokens: number[];
  generated: number[];
  /** The decode steps consumed the other side's tokens (teacher forcing). */
  forced?: boolean;
  /** The side is another engine's dump, imported (src/importers): its format and what it could not carry. */
  imported?: { format: string; notes: string[]; /** points it holds full tensors of (added in place) */ fullTensors?: number };
}

export interface ComparisonResult {
  schema: typeof COMPARISON_SCHEMA;
  version: number;
  a: SideInfo;
  b: SideInfo;
  threshold: number;
  /** The user gave --threshold: it is the bound, bands do not loosen it (added in place, version 1). */
  thresholdExplicit?: boolean;
  /** The precision band of this pair (null: none, the threshold alone decides; with an explicit threshold: context only). */
  band: { id: string; nmse: number; provisional: boolean; basis: string } | null;
  /** The reference's own noise (measured; docs/tolerances.md): run to run, and rosetta's two numerics modes. */
  noise?: NoiseInfo;
  /** Which expected-noise regime decided the bounds and why (expected.ts; added in place, version 1). */
  regime?: { id: "exact" | "band" | "threshold"; why: string };
  points: PointResult[];
  counts: Record<PointStatus, number>;
  firstDivergence: PointResult | null;
  findings: Finding[];
  /** The diagnosis the summary names: the first fatal finding, or precision drift, or null on a match. */
  diagnosis: Finding | null;
  verdict: Verdict;
  /** What the verdict rests on (full tensors or summaries only; added in place, version 1). */
  verifiedOn?: VerifiedOn;
  /** The two sides' configs (added in place, version 1). */
  config?: ConfigCheck;
  /** Things the user asked for that did nothing (e.g. a --full glob matching no point). */
  warnings?: string[];
  /** What the run chose to leave out and why (e.g. kq_softmax of a long prompt). */
  notes?: string[];
  /** Weight-level diff, when both sides were model files. */
  weights?: WeightDiff;
  timings?: Record<string, number>;
  /** The counterfactual reruns that tested the findings (experiments.ts; added in place, version 1). */
  experiments?: ExperimentsSummary;
}

/* ---- the weight-level diff (`rosetta diff-weights`, and the evidence a comparison uses) ---- */

export type TensorStatus =
  | "requantized" // same type, different bytes, values within the type's rounding
  | "scaled" // a uniform scale, a sign flip or an additive offset of B's values
  | "misplaced" // a copy of another tensor of B (another role or layer)
  | "corrupted" // a few rows or blocks differ, the rest is equal
  | "nonfinite" // NaN/Inf where B has none
  | "equivalent" // a different parametrization of the same function (Q/K in the other RoPE order, a zero bias vs none)
  | "rope-unpermuted" // Q/K rows in the order of the other side's RoPE layout (a relabel without the permutation)
  | "identical" // same type, same bytes
  | "close" // values agree within the floor of the two types
  | "differs"
  | "transposed"
  | "permuted"
  | "swapped"
  | "shifted"
  | "missing-in-a"
  | "missing-in-b"
  | "shape-mismatch"
  | "not-compared";

export interface TensorDiff {
  key: string; // role key
  layer: number | null;
  nameA: string | null;
  nameB: string | null;
  dimsA: number[] | null;
  dimsB: number[] | null;
  typeA: string | null;
  typeB: string | null;
  status: TensorStatus;
  sqnrDb: number | null;
  floorDb: number | null;
  cosine: number | null;
  note?: string;
  /** What A's tensor is on B's side (correspondence.ts), with the number that proves it. */
  relation?: Relation;
}

export interface Relation {
  kind:
    | "copy-of" | "exchanged" | "scaled" | "sign-flipped" | "offset" | "transposed" | "rope-permuted" | "heads-permuted"
    | "rows-permuted" | "cols-permuted" | "rows-differ" | "blocks-differ" | "requantized" | "nonfinite" | "dequant" | "zero-vs-absent";
  /** The role key of B it corresponds to (copy-of, exchanged). */
  other?: string;
  /** The scale (scaled, sign-flipped) or offset. */
  factor?: number;
  /** Rows/blocks involved, of `total`. */
  count?: number;
  total?: number;
  rows?: number[];
  /** SQNR of A against B with the relation applied. */
  sqnrDb?: number;
}

export interface MetadataDiff {
  field: string;
  a: unknown;
  b: unknown;
}

export interface WeightDiff {
  a: string;
  b: string;
  tensors: TensorDiff[];
  metadata: MetadataDiff[];
  findings: Finding[];
}

export interface ConfigDiff {
  /** Fields both sides record that differ. */
  mismatches: MetadataDiff[];
  /** Fields both sides record (equal or not). */
  compared: string[];
  /** Fields one side (or both) does not record: not compared, never counted as agreeing. */
  missingA: string[];
  missingB: string[];
}


/** What the experiments did (experiments.ts). */
export interface ExperimentsSummary {
  reruns: number;
  ms: number;
  /** The receiving side (the one rerun) and the donor. */
  receiver: "A" | "B";
  candidates: number;
  /** A minimal set of tensors/keys whose transplant makes every point match (null: none found). */
  minimal: string[] | null;
  /** With every differing tensor and key transplanted, the first divergence left (null: none). */
  residual: { key: string; step: number; nmse: number | null } | null;
  note?: string;
}


/** The element-level picture of one point's difference (compare.ts elementDiff). */
export interface ElementDiff {
  differing: number;
  /** Differing elements per decade of |A - B|: [decade exponent, count], ascending; NaN/Inf as decade 99. */
  hist: [number, number][];
  worst: { index: number[]; a: number; b: number }[];
}
