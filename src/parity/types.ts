/**
 * Shapes shared by the parity harness (docs/parity.md). Results are plain JSON so that shards can be
 * written by separate CI jobs and joined by `rosetta parity merge`.
 */

export type Numerics = "ggml" | "exact";

/** The parity band of one quantization class and numerics mode (values and basis: bands.ts). */
export interface Band {
  /** Quantization class this band applies to (F32, F16, Q8_0, Q4_0, Q4_K_M, ...). */
  quant: string;
  numerics: Numerics;
  /** Per position: max |logit delta| over the union of both top-k id sets. */
  topDelta: number;
  /** Per position: KL(llama.cpp || rosetta) from full-vocabulary softmax. */
  klMax: number;
  /** Per prompt: mean KL over positions. */
  klMean: number;
  /** A flip is a counted near-tie when rosetta's gap to the reference token is at most this. */
  nearTieGap: number;
  provisional: boolean;
  basis: string;
}
export type IsaName = "scalar" | "avx2" | "avx512";

/** One row of logits, top-k ids (descending, lower id first on equal logits) with their logits. */
export interface TopK {
  ids: number[];
  logits: number[];
}

/** Verdict of one position: ok, near-tie (counted, not failed), or fail with the reasons. */
export interface PositionResult {
  tokenIdx: number;
  refToken: number;
  top1: "match" | "near-tie" | "flip";
  /** Top-k id sets differ only by ids within the near-tie gap of the k-th logit (counted, not failed). */
  setTie: boolean;
  setEqual: boolean;
  /** max |rosetta - llama.cpp| over the union of both top-k id sets (the gated delta). */
  topDelta: number;
  /** max |rosetta - llama.cpp| over the full vocabulary (reported only). */
  fullDelta: number;
  kl: number;
  rosetta: TopK;
  llamacpp: TopK;
  reasons: string[];
}

export interface KlStats {
  mean: number;
  p95: number;
  max: number;
}

/** Which run of which prompt: shared by a prompt's inputs (PromptMeta) and its result. */
export interface PromptIdentity {
  model: string;
  quant: string;
  numerics: Numerics;
  isa: string;
  promptIdx: number;
  promptId: string;
  bucket: string;
}

export interface PromptResult extends PromptIdentity {
  promptTokens: number;
  genTokens: number;
  positions: number;
  top1Match: number;
  nearTies: number;
  setTies: number;
  failures: number;
  maxTopDelta: number;
  maxFullDelta: number;
  kl: KlStats;
  band: Band;
  /** Prompt-level failures (tokenizer mismatch, mean KL over band, runner error). */
  promptErrors: string[];
  /** Positions that failed or tied (the passing, exact ones are left out to keep results small). */
  details: PositionResult[];
  ms: { reference: number; rosetta: number };
  passed: boolean;
}

/** The ISA column state: a path that cannot run on this CPU is never reported as a pass. */
export interface IsaRun {
  requested: IsaName;
  /** What the kernels reported after the run; null when the path is unavailable. */
  ran: string | null;
  status: "ran" | "unavailable on this CPU" | "not wired";
}

export interface ParityRunResult {
  format: "rosetta.parity";
  version: 1;
  shard: { k: number; n: number } | null;
  settings: Record<string, unknown>;
  manifest: { path: string; sha256: string } | null;
  isa: IsaRun[];
  results: PromptResult[];
  /** Cases that could not run at all (unavailable ISA, missing component); these never count as passes. */
  skipped: { case: string; reason: string }[];
  /**
   * The numerics modes whose results decide `passed` (and the exit code); results of the other modes are
   * reported side by side only. Absent in older results: every mode is gated.
   */
  gate?: Numerics[];
  passed: boolean;
}

/** Whether a result counts toward the verdict of its run. */
export function gated(run: Pick<ParityRunResult, "gate">, r: Pick<PromptResult, "numerics">): boolean {
  return !run.gate || run.gate.includes(r.numerics);
}

/** The verdict: at least one gated result, all gated results passed, and nothing skipped but unavailable ISA paths. */
export function runPassed(run: Pick<ParityRunResult, "gate" | "results" | "skipped">): boolean {
  const g = run.results.filter((r) => gated(run, r));
  return g.length > 0 && g.every((r) => r.passed) && run.skipped.every((s) => s.reason === "unavailable on this CPU");
}
