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

/** Tests the fatal findings of `r` by experiment and searches a minimal explaining set; edits r in place. */
export async function diagnoseByExperiment(r: ComparisonResult, lab: Lab, o: { maxReruns?: number } = {}): Promise<ExperimentsSummary> {
  const budget = { left: o.maxReruns ?? 64 };
  const donor = lab.receiverLabel === "A" ? "B" : "A";
  const cands = lab.candidates;
  const summary: ExperimentsSummary = { reruns: 0, ms: 0, receiver: lab.receiverLabel, candidates: cands.length, minimal: null, residual: null };
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
  const before = r.firstDivergence ? `${r.firstDivergence.key}` : "none";
  // 1. each fatal finding on its own
  const testable = r.findings.filter((f) => f.fatal && keysOf(f).some((k) => cands.includes(k)));
  for (const f of testable) {
    if (budget.left-- <= 0) break;
    const keys = keysOf(f).filter((k) => cands.includes(k));
    const out = await run(keys);
    f.experiment = { transplanted: keys, explainsAll: out.matches, firstDivergenceAfter: out.firstDivergence };
    f.evidence.push(
      out.error
        ? `experiment: ${lab.receiverLabel} with ${show(keys)} from ${donor} could not run: ${out.error}`
        : out.matches
          ? `confirmed by experiment: with ${show(keys)} taken from ${donor}, every point matches: ${keys.length === 1 ? "this tensor explains" : "these explain"} the whole divergence`
          : `experiment: with ${show(keys)} taken from ${donor}, the first divergence moves from ${before} to ${where(out)}: ${keys.length === 1 ? "it explains" : "they explain"} part of it`,
    );
  }
  // 2. a minimal set among the findings' keys, else among everything that differs
  const union = [...new Set(testable.flatMap(keysOf).filter((k) => cands.includes(k)))];
  let pool: string[] | null = null;
  if (union.length && (await run(union)).matches) pool = union;
  else if (cands.length && budget.left > 0) {
    budget.left--;
    const all = await run(cands);
    if (all.matches) pool = cands;
    else summary.residual = all.firstDivergence;
  }
  if (pool) {
    summary.minimal = pool.length === 1 ? pool : await ddmin(pool, async (s) => (await run(s)).matches, budget);
    const min = summary.minimal;
    // a defect whose effect stays under the band still has a place: the first point the explaining transplant changes
    const fin = await run(min);
    if (!r.firstDivergence && fin.firstChanged) {
      const p = r.points.find((x) => x.step === 0 && x.key === fin.firstChanged);
      if (p) r.firstDivergence = { ...p, note: [p.note, "inside the band, located by experiment: the first point the explaining transplant changes"].filter(Boolean).join("; ") };
    }
    const lead = r.diagnosis;
    const text = `minimal explaining set (${lab.reruns} rerun(s)): ${show(min)} taken from ${donor} make${min.length === 1 ? "s" : ""} every point match`;
    if (lead && !lead.evidence.includes(text)) lead.evidence.push(text);
    for (const f of r.findings) {
      if (!f.fatal || !f.experiment) continue;
      const ks = keysOf(f);
      if (!ks.some((k) => min.includes(k)) && f !== lead) f.evidence.push("not needed: the minimal explaining set does not include it (no effect on any compared point)");
    }
  } else if (cands.length === 0) {
    summary.note = "nothing differs between the two files that an experiment could transplant: the divergence comes from the engines or numerics";
  } else if (summary.residual) {
    summary.note = `with all ${cands.length} differing tensor(s)/key(s) taken from ${donor}, ${summary.residual.key} still diverges: the rest comes from the engines or numerics`;
  }
  if (budget.left <= 0) summary.note = [summary.note, `stopped at the rerun budget (${o.maxReruns ?? 64})`].filter(Boolean).join("; ");
  summary.reruns = lab.reruns;
  summary.ms = Math.round(lab.ms);
  return summary;
}
