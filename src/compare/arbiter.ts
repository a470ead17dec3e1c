/**
 * Three-way comparison: a third trace, the arbiter (e.g. transformers in float32, or rosetta's exact
 * numerics, or any saved trace), is compared with each of A and B by the same comparator as A vs B
 * (alignment, Q/K order, metrics, gates: compareTraces), and every point of the A-B comparison says
 * which of A and B is closer to it. It knows traces, not engines (docs/comparison.md, "Arbiter").
 *
 *   closer  "A" or "B": that side's worst energy NMSE against the arbiter (all tokens and last token) is
 *           the smaller; "tie": equal (both exactly equal to the arbiter, typically); null: a side has
 *           no NMSE against the arbiter at that point (not recorded, or summaries that cannot bound it).
 *
 * Each side's status against the arbiter (match, drift, diverged, ...: the gates of that pair, B's side
 * of each pair being the arbiter) comes with it, and each pair's first divergence: when A and B diverge
 * and one of them still agrees with the arbiter, the other is the one that left it.
 */
import { compareTraces, type CompareOptions, type CompareSide } from "./compare.js";
import { worstNmse } from "./metrics.js";
import type { ArbiterPoint, Arbitration, ComparisonResult, PointResult, PointStatus } from "./result.js";

const AGREE: ReadonlySet<PointStatus> = new Set(["match", "drift"]);

function pointKey(p: { key: string; step: number }): string {
  return `${p.step}:${p.key}`;
}

/** Which side is closer at one point, from the two NMSEs against the arbiter. */
export function closerOf(nmseA: number | null, nmseB: number | null): ArbiterPoint["closer"] {
  if (nmseA === null || nmseB === null || Number.isNaN(nmseA) || Number.isNaN(nmseB)) return null;
  if (nmseA === nmseB) return "tie";
  return nmseA < nmseB ? "A" : "B";
}

/** One line for the report: what the arbiter says about the pair. */
export function arbiterVerdict(x: Omit<Arbitration, "verdict" | "closer">, ab: ComparisonResult): string {
  const fa = x.firstDivergenceA, fb = x.firstDivergenceB;
  const { A, B } = x.counts;
  if (x.counts.none === x.points.length && x.points.length > 0) return `the arbiter is comparable at no point${x.inputDiffers ? ` (${x.inputDiffers})` : ""}: nothing to judge`;
  if (!fa && !fb) return `both A and B agree with the arbiter at every compared point (A closer at ${A}, B closer at ${B})`;
  if (fa && !fb) return `B agrees with the arbiter everywhere; A leaves it at ${fa.key}${fa.step ? ` (step ${fa.step})` : ""}: A is the side that diverged`;
  if (fb && !fa) return `A agrees with the arbiter everywhere; B leaves it at ${fb.key}${fb.step ? ` (step ${fb.step})` : ""}: B is the side that diverged`;
  const first = ab.firstDivergence ? `; at the A-B first divergence ${ab.firstDivergence.key} the closer is ${x.points.find((p) => p.key === ab.firstDivergence!.key && p.step === ab.firstDivergence!.step)?.closer ?? "not known"}` : "";
  return `both leave the arbiter (A at ${fa!.key}, B at ${fb!.key})${first}`;
}

/** The side the arbiter sides with (Arbitration.closer). */
export function sideOf(x: Omit<Arbitration, "verdict" | "closer">, ab: ComparisonResult): Arbitration["closer"] {
  const fa = x.firstDivergenceA, fb = x.firstDivergenceB;
  if (fa && !fb) return "B";
  if (fb && !fa) return "A";
  const fd = ab.firstDivergence;
  const at = fd ? x.points.find((p) => p.key === fd.key && p.step === fd.step)?.closer : undefined;
  if (at) return at;
  const { A, B, tie } = x.counts;
  return A + B + tie === 0 ? null : A > B ? "A" : B > A ? "B" : "tie";
}

/**
 * The arbitration of a finished A-B comparison. `opts` are the comparator options of the pairs (diff
 * kernel, threshold); weights and isolation do not apply (the arbiter is a trace).
 */
export async function arbitrate(ab: ComparisonResult, a: CompareSide, b: CompareSide, arbiter: CompareSide, opts: Pick<CompareOptions, "diff" | "threshold" | "tokenText">): Promise<Arbitration> {
  const o = { diff: opts.diff, threshold: opts.threshold, tokenText: opts.tokenText };
  const ra = await compareTraces(a, arbiter, o);
  const rb = await compareTraces(b, arbiter, o);
  const byA = new Map(ra.points.map((p) => [pointKey(p), p]));
  const byB = new Map(rb.points.map((p) => [pointKey(p), p]));
  const nmse = (p: PointResult | undefined) => (p && (p.status !== "only-a" && p.status !== "only-b" && p.status !== "sample-mismatch") ? worstNmse(p.all, p.last) : null);
  const points: ArbiterPoint[] = [];
  const counts = { A: 0, B: 0, tie: 0, none: 0 };
  for (const p of ab.points) {
    const pa = byA.get(pointKey(p)), pb = byB.get(pointKey(p));
    const nmseA = nmse(pa), nmseB = nmse(pb);
    const closer = closerOf(nmseA, nmseB);
    counts[closer ?? "none"]++;
    const basis = pa?.all?.basis === "tensor" && pb?.all?.basis === "tensor" ? "tensor" : pa?.all || pb?.all ? "summary" : null;
    points.push({ key: p.key, step: p.step, nmseA, nmseB, statusA: pa?.status ?? null, statusB: pb?.status ?? null, closer, basis });
  }
  const firstOff = (r: ComparisonResult) => {
    const f = r.points.find((p) => !AGREE.has(p.status) && p.status !== "only-a" && p.status !== "only-b" && p.status !== "summary-agree");
    return f ? { key: f.key, step: f.step, status: f.status } : null;
  };
  const ta = arbiter.trace.input.tokens, tb = b.trace.input.tokens;
  const inputDiffers = ta.length !== tb.length || ta.some((t, i) => t !== tb[i]) ? `it ran tokens [${ta.join(", ")}], the sides [${tb.join(", ")}]` : undefined;
  const base = {
    source: arbiter.source,
    engine: arbiter.trace.engine.name,
    settings: arbiter.trace.engine.settings ?? {},
    points,
    counts,
    firstDivergenceA: firstOff(ra),
    firstDivergenceB: firstOff(rb),
    verdictA: ra.verdict,
    verdictB: rb.verdict,
    ...(inputDiffers ? { inputDiffers } : {}),
  };
  return { ...base, closer: sideOf(base, ab), verdict: arbiterVerdict(base, ab) };
}
