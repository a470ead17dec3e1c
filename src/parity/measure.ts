/**
 * `rosetta parity measure <results.json>...`: the measured basis of the bands (src/parity/bands.ts). Joins
 * parity results (any models, modes, ISA paths) and prints, per band class and numerics mode, the largest
 * figures actually seen next to the band in force, so a band can be checked against (and re-derived from)
 * the real thing. scripts/measure-parity-bands.js produces the inputs; docs/parity.md records the output.
 */
import { bandFor, bandKey, deriveBand, type Figures } from "./bands.js";
import { fmt } from "./compare.js";
import { table } from "./report.js";
import type { ParityRunResult, PromptResult } from "./types.js";

export interface MeasuredRow {
  band: string;
  numerics: string;
  models: string[];
  isas: string[];
  promptRuns: number;
  positions: number;
  passed: number;
  top1Flips: number;
  /** Flips whose reference token was rosetta's rank 3..k (the "three-way tie" case). */
  deepFlips: number;
  nearTies: number;
  maxTopDelta: number;
  maxFullDelta: number;
  maxKl: number;
  maxMeanKl: number;
  maxP95Kl: number;
}

const nanMax = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));

function rowKey(r: PromptResult): string {
  return `${bandKey(r.quant) ?? r.quant}|${r.numerics}`;
}

export function measureRows(runs: ParityRunResult[]): MeasuredRow[] {
  const rows = new Map<string, MeasuredRow>();
  for (const run of runs)
    for (const r of run.results) {
      const key = rowKey(r);
      let m = rows.get(key);
      if (!m) {
        const [band, numerics] = key.split("|");
        m = { band, numerics, models: [], isas: [], promptRuns: 0, positions: 0, passed: 0, top1Flips: 0, deepFlips: 0, nearTies: 0,
          maxTopDelta: 0, maxFullDelta: 0, maxKl: 0, maxMeanKl: 0, maxP95Kl: 0 };
        rows.set(key, m);
      }
      if (!m.models.includes(r.model)) m.models.push(r.model);
      if (!m.isas.includes(r.isa)) m.isas.push(r.isa);
      m.promptRuns++;
      m.positions += r.positions;
      if (r.passed) m.passed++;
      m.nearTies += r.nearTies;
      for (const d of r.details)
        if (d.top1 === "flip") {
          m.top1Flips++;
          const rank = d.rosetta.ids.indexOf(d.llamacpp.ids[0]) + 1;
          if (rank >= 3) m.deepFlips++;
        }
      m.maxTopDelta = nanMax(m.maxTopDelta, r.maxTopDelta);
      m.maxFullDelta = nanMax(m.maxFullDelta, r.maxFullDelta);
      m.maxKl = nanMax(m.maxKl, r.kl.max);
      m.maxMeanKl = nanMax(m.maxMeanKl, r.kl.mean);
      m.maxP95Kl = nanMax(m.maxP95Kl, r.kl.p95);
    }
  const order = ["F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K_S", "Q5_1", "Q4_0", "Q4_1", "Q4_K_M", "Q3_K_S", "Q2_K"];
  const rank = (b: string) => (order.includes(b) ? order.indexOf(b) : order.length);
  return [...rows.values()].sort((a, b) => rank(a.band) - rank(b.band) || a.band.localeCompare(b.band) || a.numerics.localeCompare(b.numerics));
}

/** Rows with a figure above the band in force (or no band at all). */
export function overBand(rows: MeasuredRow[]): MeasuredRow[] {
  return rows.filter((m) => {
    const b = bandFor(m.band, m.numerics as "ggml" | "exact");
    return !b || !(m.maxTopDelta <= b.topDelta && m.maxKl <= b.klMax && m.maxMeanKl <= b.klMean);
  });
}

const figures = (m: MeasuredRow): Figures => ({ delta: m.maxTopDelta, kl: m.maxKl, klMean: m.maxMeanKl });

/** What the rule of src/parity/bands.ts gives for these figures (ggml zero rows use the exact row's band). */
export function ruleBand(m: MeasuredRow, rows: MeasuredRow[]): Figures {
  if (m.numerics === "exact") return deriveBand(figures(m), "exact");
  const ex = rows.find((r) => r.band === m.band && r.numerics === "exact");
  return deriveBand(figures(m), "ggml", ex ? deriveBand(figures(ex), "exact") : undefined);
}

/** The measured figures beside the band in force and the band the rule gives; `!` marks a figure above its band. */
export function measureTable(rows: MeasuredRow[]): string {
  const out = [["band", "mode", "prompt runs", "positions", "passed", "flips (rank>=3)", "near-ties", "max delta", "max full delta", "max kl", "max mean kl",
    "band delta/kl/mean", "rule gives", "isa", "models"]];
  for (const m of rows) {
    const b = bandFor(m.band, m.numerics as "ggml" | "exact");
    const g = ruleBand(m, rows);
    const over = (x: number, lim: number | undefined) => (lim !== undefined && !(x <= lim) ? `${fmt(x)}!` : fmt(x));
    out.push([
      m.band, m.numerics, String(m.promptRuns), String(m.positions), `${m.passed}/${m.promptRuns}`, `${m.top1Flips} (${m.deepFlips})`, String(m.nearTies),
      over(m.maxTopDelta, b?.topDelta), fmt(m.maxFullDelta), over(m.maxKl, b?.klMax), over(m.maxMeanKl, b?.klMean),
      b ? `${fmt(b.topDelta)} / ${fmt(b.klMax)} / ${fmt(b.klMean)}` : "none", `${fmt(g.delta)} / ${fmt(g.kl)} / ${fmt(g.klMean)}`, m.isas.sort().join(","), m.models.sort().join(","),
    ]);
  }
  return table(out) + "\n(! = measured figure above the band in force)";
}
