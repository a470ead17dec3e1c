/**
 * `rosetta sweep MODEL`: llama.cpp over a grid of run conditions (docs/conditions.md). Every condition runs
 * untraced (and traced, for the untraced-vs-traced check); its logits are compared with the reference run
 * (llama.cpp on the CPU with F32 K/V, flash attention off, the prompt as one ubatch; or rosetta's exact
 * numerics). The smallest set of settings whose run diverges is then compared point by point with
 * runComparison, which names its first divergent point and (its arbiter, rosetta's exact numerics) which side is closer to the truth.
 */
import { loadModel } from "../formats/index.js";
import { conditionsBand, DEFAULT_THRESHOLD, selectBand } from "../compare/tolerances.js";
import type { ComparisonResult } from "../compare/result.js";
import { compareLogits, gpuAvailable, runLlamaCppTrace, type TracingCheck } from "../reference/llamacpp.js";
import { describeConditions, parseDevice, type KvType, type RunConditions } from "../reference/conditions.js";
import { InputError, RosettaError } from "../util/errors.js";
import { arbiterSpec, dominantType, runComparison, type SideSpec } from "./run-comparison.js";

export interface SweepGrid {
  devices: string[];
  flashAttn: boolean[];
  kvTypes: KvType[];
  /** Micro-batch sizes; 0 = the prompt as one ubatch. */
  ubatches: number[];
  /** Offloaded layers on a GPU device; -1 = all. */
  gpuLayers: number[];
}

export interface SweepOptions {
  model: string;
  prompt?: string;
  tokens?: number[];
  grid?: Partial<SweepGrid>;
  /** What each condition is compared against: llama.cpp's reference path on the CPU (default) or rosetta's exact numerics. */
  reference?: "cpu" | "exact";
  threshold?: number;
  threads?: number;
  /** Trace the smallest diverging condition to its first divergent point (default true). */
  trace?: boolean;
  progress?: (line: string) => void;
}

export interface SweepRow {
  label: string;
  conditions: RunConditions;
  /** How many settings differ from the reference path (device, partial offload, fa, kv, ubatch). */
  size: number;
  status: "match" | "diverged" | "refused";
  /** Energy NMSE of the untraced logits (every position) against the reference's. */
  nmse?: number;
  /** Positions whose top token agrees with the reference's. */
  top1?: { agree: number; of: number };
  /** The bound: max(threshold, the conditions band of the weight type). */
  bound: number;
  tracing?: TracingCheck;
  error?: string;
}

export interface SweepResult {
  model: string;
  weightType: string;
  tokens: number[];
  reference: string;
  grid: SweepGrid;
  notes: string[];
  rows: SweepRow[];
  /** The diverging rows with the fewest settings (ties: all of them, largest NMSE first). */
  smallest: SweepRow[];
  /** The first of `smallest` compared point by point against the reference (runComparison). */
  traced?: { label: string; firstDivergence: string | null; comparison: ComparisonResult };
}

function size(c: RunConditions): number {
  let n = 0;
  if (parseDevice(c.device)) n += c.gpuLayers !== undefined && c.gpuLayers >= 0 ? 2 : 1;
  if (c.flashAttn) n++;
  if (c.kvType && c.kvType !== "f32") n++;
  if (c.ubatch) n++;
  if (c.batch) n++;
  return n;
}

function argmaxRows(l: Float32Array, vocab: number): number[] {
  const out: number[] = [];
  for (let p = 0; p * vocab < l.length; p++) {
    let best = 0;
    for (let i = 1; i < vocab; i++) if (l[p * vocab + i] > l[p * vocab + best]) best = i;
    out.push(best);
  }
  return out;
}

export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const say = o.progress ?? (() => {});
  const notes: string[] = [];
  const loaded = await loadModel(o.model);
  const weightType = dominantType(loaded);
  const nLayer = loaded.config.nLayer;
  // the reference run: its tokens are every condition's tokens
  say(`reference: llama.cpp on the CPU (F32 K/V, flash attention off, one ubatch)`);
  const base = await runLlamaCppTrace({ model: o.model, prompt: o.prompt, tokens: o.tokens, full: [], threads: o.threads, untracedCheck: true });
  const tokens = base.trace.input.tokens;
  const vocab = base.raw.model.nVocab;
  let refLogits = base.untracedLogits!;
  let reference = "llama.cpp CPU reference path (F32 K/V, flash attention off, the prompt as one ubatch)";
  let refBound = 0;
  if (o.reference === "exact") {
    const { runRosettaTrace } = await import("../model/trace-run.js");
    const exact = await runRosettaTrace({ model: o.model, tokens, full: ["logits"], numerics: "exact", threads: o.threads, hash: false });
    refLogits = exact.tensors.get("logits.all")!.data;
    reference = "rosetta exact numerics";
    refBound = selectBand({ typeA: weightType, typeB: weightType, engineA: "llama.cpp", engineB: "rosetta", modeB: "exact" })?.nmse ?? 0;
  }
  const T = tokens.length;
  const grid: SweepGrid = {
    devices: o.grid?.devices ?? ["cpu", "vulkan"],
    flashAttn: o.grid?.flashAttn ?? [false, true],
    kvTypes: o.grid?.kvTypes ?? ["f32", "f16", "q8_0", "q4_0"],
    ubatches: o.grid?.ubatches ?? [0, Math.max(1, Math.ceil(T / 3))],
    gpuLayers: o.grid?.gpuLayers ?? [-1, Math.floor(nLayer / 2)],
  };
  if (!o.grid?.devices) {
    const vk = gpuAvailable("vulkan");
    if (!vk.ok) {
      grid.devices = grid.devices.filter((d) => d !== "vulkan");
      notes.push(`vulkan left out of the grid: ${vk.why}`);
    }
  } else {
    for (const d of grid.devices.filter((x) => parseDevice(x))) {
      const ok = gpuAvailable(d);
      if (!ok.ok) throw new InputError(`--devices ${d}: ${ok.why}`);
    }
  }
  const cells: RunConditions[] = [];
  for (const device of grid.devices)
    for (const ngl of parseDevice(device) ? grid.gpuLayers : [undefined])
      for (const fa of grid.flashAttn)
        for (const kv of grid.kvTypes)
          for (const ub of grid.ubatches) {
            const c: RunConditions = {};
            if (parseDevice(device)) Object.assign(c, { device, ...(ngl !== undefined && ngl >= 0 && ngl < nLayer + 1 ? { gpuLayers: ngl } : {}) });
            if (fa) c.flashAttn = true;
            if (kv !== "f32") c.kvType = kv;
            if (ub > 0 && ub < T) c.ubatch = ub;
            if (!cells.some((x) => describeConditions(x) === describeConditions(c))) cells.push(c);
          }
  const bound = Math.max(o.threshold ?? DEFAULT_THRESHOLD, conditionsBand(weightType).nmse, refBound);
  const refTop = argmaxRows(refLogits, vocab);
  const rows: SweepRow[] = [];
  for (const [i, c] of cells.entries()) {
    const label = describeConditions(c) || "cpu (reference path)";
    let row: SweepRow;
    try {
      const r = await runLlamaCppTrace({ model: o.model, tokens, full: [], threads: o.threads, conditions: c, untracedCheck: true });
      const d = compareLogits(r.untracedLogits!, refLogits, vocab);
      const top = argmaxRows(r.untracedLogits!, vocab);
      const agree = top.filter((t, p) => t === refTop[p]).length;
      const diverged = !(d.nmse <= bound);
      row = { label, conditions: c, size: size(c), status: diverged ? "diverged" : "match", nmse: d.nmse, top1: { agree, of: top.length }, bound, tracing: r.tracing };
    } catch (e) {
      if (!(e instanceof RosettaError)) throw e;
      row = { label, conditions: c, size: size(c), status: "refused", bound, error: e.message };
    }
    rows.push(row);
    say(`${i + 1}/${cells.length} ${label}: ${row.status === "refused" ? `not run: ${row.error}` : `NMSE ${row.nmse!.toExponential(2)} ${row.status}${row.tracing && !row.tracing.equal ? " (tracing changed its logits)" : ""}`}`);
  }
  const diverged = rows.filter((r) => r.status === "diverged");
  const least = Math.min(...diverged.map((r) => r.size));
  const smallest = diverged.filter((r) => r.size === least).sort((x, y) => (y.nmse ?? 0) - (x.nmse ?? 0));
  const res: SweepResult = { model: o.model, weightType, tokens, reference, grid, notes, rows, smallest };
  if (smallest.length && o.trace !== false) {
    const pick = smallest[0];
    say(`tracing the smallest diverging condition: ${pick.label}`);
    const b: SideSpec = o.reference === "exact" ? { path: o.model, numerics: "exact" } : { path: o.model, engine: "llama.cpp" };
    const comparison = await runComparison({ a: { path: o.model, engine: "llama.cpp", conditions: pick.conditions }, b, tokens, threshold: o.threshold, threads: o.threads, weights: false, experiments: false, ...(o.reference !== "exact" ? { arbiter: arbiterSpec("rosetta-exact", o.model) } : {}) });
    const fd = comparison.firstDivergence;
    res.traced = { label: pick.label, firstDivergence: fd ? `${fd.key}@${fd.step}` : null, comparison };
  }
  return res;
}

/** The sweep as a table and a verdict, for the terminal. */
export function renderSweep(r: SweepResult): string {
  const lines = [`[ROSETTA] sweep of ${r.model} (${r.weightType}), ${r.tokens.length} tokens, against ${r.reference}`];
  for (const n of r.notes) lines.push(`  note: ${n}`);
  const w = Math.max(10, ...r.rows.map((x) => x.label.length));
  lines.push(`  ${"conditions".padEnd(w)}  ${"NMSE".padStart(9)}  ${"bound".padStart(8)}  top-1     traced=untraced  status`);
  for (const x of r.rows) {
    const nm = x.nmse === undefined ? "-" : x.nmse.toExponential(2);
    const top = x.top1 ? `${x.top1.agree}/${x.top1.of}` : "-";
    const tr = x.tracing ? (x.tracing.equal ? "yes" : `no (max ${x.tracing.maxAbsDiff.toExponential(1)})`) : "-";
    lines.push(`  ${x.label.padEnd(w)}  ${nm.padStart(9)}  ${x.bound.toExponential(0).padStart(8)}  ${top.padEnd(8)}  ${tr.padEnd(15)}  ${x.status === "refused" ? `not run: ${x.error}` : x.status}`);
  }
  if (!r.smallest.length) lines.push(`=== Sweep ===  no condition diverges from the reference (${r.rows.filter((x) => x.status === "refused").length} not run)`);
  else {
    lines.push(`=== Sweep ===  smallest diverging condition set: ${r.smallest.map((x) => `[${x.label}]`).join(", ")}`);
    if (r.traced) {
      const c = r.traced.comparison;
      lines.push(`  traced [${r.traced.label}]: first divergent point ${r.traced.firstDivergence ?? "none (the traced run matched: see the untraced-vs-traced check)"}${c.firstDivergence?.all?.nmse != null ? ` (NMSE ${c.firstDivergence.all.nmse.toExponential(2)})` : ""}`);
      for (const n of c.notes ?? []) lines.push(`  note: ${n}`);
      if (c.arbiter) lines.push(`  arbiter (rosetta exact numerics): ${c.arbiter.verdict}`);
    }
  }
  return lines.join("\n") + "\n";
}
