/**
 * Diagnosis by experiment. A finding is a hypothesis ("blk.3.attn_k is B's blk.3.attn_v"); an
 * experiment tests it: rerun one side with the finding's tensors (or config keys) taken from the other
 * side and compare again. Every fatal finding that names tensors or keys is tested; when the findings
 * together do not explain the whole divergence, the search widens to everything that differs between
 * the two files, and delta debugging (Zeller's ddmin) narrows the differing tensors and keys down to a
 * minimal set whose transplant makes every point match. The report says which findings were confirmed,
 * which explain only part ("up to layer 5"), the minimal set, and how many reruns it took.
 *
 * The comparator knows no engine: the reruns come through the Lab interface, which the layer above
 * implements with rosetta's engine (src/pipeline/lab.ts).
 */
import { compareForward } from "./align.js";
import { fmt } from "./format.js";
import type { ComparisonResult, ExperimentsSummary, Finding } from "./result.js";

export type { ExperimentsSummary };

export interface LabOutcome {
  /** Every point compared after the transplant is within its gate. */
  matches: boolean;
  firstDivergence: { key: string; step: number; nmse: number | null } | null;
  worstNmse?: number;
  /** The first point whose value the transplant changed on the rerun side (where the transplanted tensors first act). */
  firstChanged?: string | null;
  /** Every compared point (`step|key`): within its gate (true) or beyond it (false). */
  within?: Map<string, boolean>;
  /** After runTarget: this run reproduces the target run exactly at every point. */
  equalsTarget?: boolean;
  error?: string;
  ms: number;
}

export interface Lab {
  /** Everything that differs between the two files: role keys and `meta:<field>` keys, forward order. */
  readonly candidates: string[];
  readonly receiverLabel: "A" | "B";
  reruns: number;
  ms: number;
  run(keys: string[]): Promise<LabOutcome>;
  /** Runs keys and keeps the result as the target later runs are compared with exactly. */
  runTarget(keys: string[]): Promise<LabOutcome>;
}

/** Zeller's ddmin: a 1-minimal subset of `items` for which `test` holds (test(items) must hold). */
export async function ddmin<T>(items: T[], test: (s: T[]) => Promise<boolean>, budget: { left: number }): Promise<T[]> {
  let c = items;
  let n = 2;
  while (c.length >= 2 && budget.left > 0) {
    const size = Math.ceil(c.length / n);
    const parts: T[][] = [];
    for (let i = 0; i < c.length; i += size) parts.push(c.slice(i, i + size));
    let reduced = false;
    for (const p of parts) {
      if (budget.left-- <= 0) break;
      if (await test(p)) {
        c = p;
        n = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced && parts.length > 2) {
      for (const p of parts) {
        if (budget.left-- <= 0) break;
        const comp = c.filter((x) => !p.includes(x));
        if (await test(comp)) {
          c = comp;
          n = Math.max(n - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (!reduced) {
      if (n >= c.length) break;
      n = Math.min(c.length, n * 2);
    }
  }
  // one-minimal: drop single items while the rest still works
  for (let i = 0; i < c.length && c.length > 1 && budget.left > 0; ) {
    budget.left--;
    const rest = c.filter((_, j) => j !== i);
    if (await test(rest)) c = rest;
    else i++;
  }
  return c;
}

function keysOf(f: Finding): string[] {
  return [...(f.tensors ?? []), ...(f.keys ?? []).map((k) => `meta:${k}`)];
}

function where(o: LabOutcome): string {
  return o.firstDivergence ? `${o.firstDivergence.key} (NMSE ${fmt(o.firstDivergence.nmse)})` : "none";
}

const show = (keys: string[]) => keys.map((k) => k.replace(/^meta:/, "config ")).join(", ");

/**
 * Tests the fatal findings of `r` by experiment and searches a minimal explaining set; edits r in place.
 *
 * First everything that differs is taken from the other side at once (the target run). If that run is
 * within every gate against the other side, a set of tensors/keys *explains* the difference when taking
 * just it reproduces the target run exactly, at every point (same engine, same numerics: deterministic).
 * This works in every regime: in the exact regime the target equals the other side; in a band regime
 * (different tensor types) a defect inside the band is still found, because it changes the values.
 */
export async function diagnoseByExperiment(r: ComparisonResult, lab: Lab, o: { maxReruns?: number } = {}): Promise<ExperimentsSummary> {
  const budget = { left: o.maxReruns ?? 64 };
  const donor = lab.receiverLabel === "A" ? "B" : "A";
  const cands = lab.candidates;
  const summary: ExperimentsSummary = { reruns: 0, ms: 0, receiver: lab.receiverLabel, candidates: cands.length, minimal: null, residual: null };
  const finish = () => {
    summary.reruns = lab.reruns;
    summary.ms = Math.round(lab.ms);
    return summary;
  };
  if (cands.length === 0) {
    summary.note = "nothing differs between the two files that an experiment could transplant: the divergence comes from the engines or numerics";
    return finish();
  }
  const target = await lab.runTarget(cands);
  if (target.error) {
    summary.note = `with everything that differs taken from ${donor}, ${lab.receiverLabel} could not run: ${target.error}`;
    return finish();
  }
  if (!target.matches) {
    summary.residual = target.firstDivergence;
    summary.note = `with all ${cands.length} differing tensor(s)/key(s) taken from ${donor}, ${target.firstDivergence?.key ?? "a point"} still diverges: the rest comes from the engines or numerics`;
  }
  if (target.firstChanged === null && target.matches) {
    summary.note = "taking everything that differs from the other side changes no compared point on this input: the differing weights do not reach the activations here (a token not in the prompt, a value lost to rounding); the weight findings stand on their own";
    for (const f of r.findings) if (f.fatal && keysOf(f).length) f.evidence.push("no compared point changes on this input when it is taken from the other side: not testable by experiment here");
    return finish();
  }
  const cache = new Map<string, LabOutcome>();
  const run = async (keys: string[]) => {
    const k = [...keys].sort().join("|");
    let v = cache.get(k);
    if (!v) {
      v = await lab.run(keys);
      cache.set(k, v);
    }
    return v;
  };
  const explains = (out: LabOutcome) => target.matches && out.equalsTarget === true;
  const before = r.firstDivergence ? `${r.firstDivergence.key}` : "none";
  // 1. each fatal finding on its own
  const testable = r.findings.filter((f) => f.fatal && keysOf(f).some((k) => cands.includes(k)));
  for (const f of testable) {
    if (budget.left-- <= 0) break;
    const keys = keysOf(f).filter((k) => cands.includes(k));
    const out = await run(keys);
    const all = explains(out);
    f.experiment = { transplanted: keys, explainsAll: all, firstDivergenceAfter: out.firstDivergence };
    f.evidence.push(
      out.error
        ? `experiment: ${lab.receiverLabel} with ${show(keys)} from ${donor} could not run: ${out.error}`
        : all
          ? `confirmed by experiment: with ${show(keys)} taken from ${donor}, every point is what taking everything that differs gives${out.matches ? " (within every gate)" : ""}: ${keys.length === 1 ? "it explains" : "together they explain"} the whole difference`
          : `experiment: with ${show(keys)} taken from ${donor}, the first divergence moves from ${before} to ${where(out)}${out.firstChanged ? ` (it acts first at ${out.firstChanged})` : " (it changes no compared point)"}: ${keys.length === 1 ? "it explains" : "they explain"} part of it at most`,
    );
  }
  // 2. a minimal set among the findings' keys, else among everything that differs
  if (target.matches) {
    const union = [...new Set(testable.flatMap(keysOf).filter((k) => cands.includes(k)))];
    const pool = union.length && explains(await run(union)) ? union : cands;
    summary.minimal = pool.length === 1 ? pool : await ddmin(pool, async (s) => explains(await run(s)), budget);
    const min = summary.minimal;
    const fin = await run(min);
    // the divergence starts where the explaining tensors first act, even when that point is inside its gate
    const origin = fin.firstChanged ? r.points.find((x) => x.step === 0 && x.key === fin.firstChanged) : undefined;
    if (origin && (!r.firstDivergence || compareForward({ ...origin, point: String(origin.point) }, { ...r.firstDivergence, point: String(r.firstDivergence.point) }) < 0)) {
      const later = r.firstDivergence ? `; first beyond its gate at ${r.firstDivergence.key}` : "";
      r.firstDivergence = { ...origin, note: [origin.note, `inside the gate here, located by experiment: the first point the explaining transplant changes${later}`].filter(Boolean).join("; ") };
    }
    const lead = r.diagnosis;
    const text = `minimal explaining set (${lab.reruns} rerun(s)): ${show(min)} taken from ${donor} reproduce${min.length === 1 ? "s" : ""} what taking everything that differs gives, at every point`;
    if (lead && !lead.evidence.includes(text)) lead.evidence.push(text);
    for (const f of r.findings) {
      if (!f.fatal || !f.experiment) continue;
      if (!keysOf(f).some((k) => min.includes(k)) && f !== lead) f.evidence.push("not needed: the minimal explaining set does not include it (no effect on any compared point)");
    }
  }
  if (budget.left <= 0) summary.note = [summary.note, `stopped at the rerun budget (${o.maxReruns ?? 64})`].filter(Boolean).join("; ");
  return finish();
}
