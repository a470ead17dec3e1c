/**
 * Arbitration (docs/conditions.md): when two sides disagree, which one is closer to the truth? A third run,
 * rosetta's exact numerics (f32 activations, f64 sums, dequantized weights: docs/engine.md) on the same
 * model file and tokens, is taken as the truth; at every point where both sides kept full tensors each
 * side's energy NMSE against it is computed, and the side closer at the first divergence is the verdict,
 * so "the CPU is wrong" can be one too.
 */
import { diffMetrics } from "../bindings/kernels.js";
import type { Arbitration, ArbitrationPoint, ComparisonResult } from "../compare/result.js";
import type { LoadedModel } from "../formats/model.js";
import type { F32Tensor } from "../trace/safetensors.js";
import type { Trace } from "../trace/types.js";
import { RosettaError } from "../util/errors.js";
import { logger } from "../util/log.js";

export interface ArbiterSide {
  trace?: Trace;
  model?: LoadedModel;
  spec: { path: string };
  /** The side's full tensor of a point (null: not captured). */
  tensor: (key: string, step: number) => Float32Array | null;
}

/** Each side against the truth at every point both sides and the truth hold in full. */
export function judge(res: ComparisonResult, a: (key: string, step: number) => Float32Array | null, b: (key: string, step: number) => Float32Array | null, truth: (key: string, step: number) => Float32Array | null): ArbitrationPoint[] {
  const out: ArbitrationPoint[] = [];
  for (const p of res.points) {
    const ta = a(p.key, p.step), tb = b(p.key, p.step), tt = truth(p.key, p.step);
    if (!ta || !tb || !tt || ta.length !== tt.length || tb.length !== tt.length) continue;
    const nmseA = diffMetrics(tt, ta).nmseEnergy, nmseB = diffMetrics(tt, tb).nmseEnergy;
    out.push({ key: p.key, step: p.step, nmseA, nmseB, closer: nmseA < nmseB ? "A" : nmseB < nmseA ? "B" : "tie" });
  }
  return out;
}

export function summarize(reference: string, res: ComparisonResult, points: ArbitrationPoint[], labels: { A: string; B: string }): Arbitration {
  const fd = res.firstDivergence;
  const at = fd ? (points.find((p) => p.key === fd.key && p.step === fd.step) ?? null) : null;
  const closerA = points.filter((p) => p.closer === "A").length;
  const closerB = points.filter((p) => p.closer === "B").length;
  const verdict: Arbitration["verdict"] = at ? at.closer : points.length === 0 ? "unknown" : closerA > closerB ? "A" : closerB > closerA ? "B" : "tie";
  const fmt = (x: number) => x.toExponential(2);
  const where = at ? `at the first divergence ${at.key}@${at.step}: NMSE vs truth A ${fmt(at.nmseA)}, B ${fmt(at.nmseB)}` : `over ${points.length} points`;
  const summary =
    verdict === "unknown"
      ? `arbitration (${reference}): no point with full tensors on all three runs`
      : `arbitration (${reference}): ${verdict === "tie" ? "neither side is closer" : `${verdict} (${labels[verdict]}) is closer to the truth`} ${where}; closer at ${closerA} point(s) A, ${closerB} B`;
  return { reference, atFirstDivergence: at, points, closerA, closerB, verdict, summary };
}

/** Runs rosetta's exact numerics on B's model file (else A's) with B's tokens and judges both sides. */
export async function arbitrate(res: ComparisonResult, a: ArbiterSide, b: ArbiterSide, input: { gen: number }, labels?: { A: string; B: string }): Promise<Arbitration | undefined> {
  const ref = b.model ? b : a;
  const tokens = b.trace?.input.tokens ?? a.trace?.input.tokens;
  if (!ref.model || !tokens?.length) return undefined;
  const log = logger("compare");
  const reference = `rosetta exact numerics on ${ref.spec.path}`;
  const { Engine } = await import("../model/engine.js");
  const { runRosettaTrace } = await import("../model/trace-run.js");
  let truth: { trace: Trace; tensors: Map<string, F32Tensor> };
  try {
    log.info({ model: ref.spec.path }, "arbitration: third run with rosetta's exact numerics");
    const engine = await Engine.open(ref.spec.path, { numerics: "exact", loaded: ref.model });
    try {
      const generated = b.trace?.input.generated ?? [];
      const gen = Math.min(input.gen, generated.length);
      truth = await runRosettaTrace({ model: ref.spec.path, tokens, gen, ...(gen ? { forced: generated.slice(0, gen) } : {}), full: ["*"], engine, hash: false });
    } finally {
      engine.close();
    }
  } catch (e) {
    if (!(e instanceof RosettaError)) throw e;
    return { reference, atFirstDivergence: null, points: [], closerA: 0, closerB: 0, verdict: "unknown", summary: `arbitration (${reference}) could not run: ${e.message}` };
  }
  const truthTensor = (k: string, s: number) => {
    const p = truth.trace.points.find((x) => x.step === s && x.key === k);
    return p?.tensor ? (truth.tensors.get(p.tensor)?.data ?? null) : null;
  };
  const points = judge(res, a.tensor, b.tensor, truthTensor);
  return summarize(reference, res, points, labels ?? { A: res.a?.source ?? "A", B: res.b?.source ?? "B" });
}
