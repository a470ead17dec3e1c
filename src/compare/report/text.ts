/**
 * The human report: a header (both sides, prompt, token ids, the gate), one block per section (embedding,
 * each layer, output) per step, then the findings and a summary naming the first divergence, the
 * diagnosis and the recommendation. Without -v a layer whose points all pass is one line; with -v every
 * point is printed. Colour only on a terminal, never when NO_COLOR is set.
 */
import { fmt } from "../diagnose.js";
import { PASSING, type ComparisonResult, type Finding, type PointResult, type SampleMetrics } from "../types.js";
import { describe } from "../weights.js";

export interface TextOptions {
  verbose?: boolean;
  color?: boolean;
}

/** Colour on when the stream is a terminal and NO_COLOR is unset (https://no-color.org), or FORCE_COLOR is set. */
export function useColor(stream: { isTTY?: boolean }): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

type Paint = (code: string, s: string) => string;

const MARK: Record<string, string> = {
  match: "✓",
  drift: "≈",
  diverged: "✗ DIVERGENCE",
  nonfinite: "✗ NaN/Inf",
  "sample-mismatch": "⚠ SAMPLE MISMATCH (not compared)",
  "only-a": "- only in A (not compared)",
  "only-b": "- only in B (not compared)",
};
const COLOR: Record<string, string> = { match: "32", drift: "33", diverged: "31", nonfinite: "31", "sample-mismatch": "33", "only-a": "2", "only-b": "2" };

function metrics(m: SampleMetrics | null): string {
  if (!m) return "";
  const bound = m.basis === "summary" ? ">=" : "=";
  const parts = [`max_diff${bound}${fmt(m.maxAbs)}`, `mean_diff${bound}${fmt(m.meanAbs)}`, `nmse${bound}${fmt(m.nmse)}`];
  parts.push(m.basis === "summary" ? `sqnr<=${fmt(m.sqnrDb)}dB` : `sqnr=${fmt(m.sqnrDb)}dB`);
  if (m.cosine !== null) parts.push(`cos=${fmt(m.cosine)}`);
  return parts.join(" ");
}

function pointLine(p: PointResult, paint: Paint): string {
  const dims = (d: number[] | null) => (d ? `[${d.join(", ")}]` : "-");
  const shape = p.shapeA && p.shapeB && p.shapeA.join() === p.shapeB.join() ? `dims ${dims(p.shapeA)} both` : `A ${dims(p.shapeA)} B ${dims(p.shapeB)}`;
  const name = String(p.point).padEnd(11);
  let s = `  ${name} ${shape}`;
  if (p.all) s += `  all: ${metrics(p.all)}`;
  if (p.last && p.last.count !== p.all?.count) s += `  | last: ${metrics(p.last)}`;
  if (p.all) s += `  (${p.all.basis === "tensor" ? "full tensors" : "summaries: bounds"})`;
  s += `  ${paint(COLOR[p.status], MARK[p.status])}`;
  if (p.note) s += `  ${p.note}`;
  if (p.perToken) s += `\n  ${"".padEnd(11)} per token nmse: ${p.perToken.map(fmt).join(", ")}`;
  return s;
}

function sectionName(p: PointResult): string {
  if (p.layer !== null) return `Layer ${p.layer}`;
  return p.point === "embd" ? "Embedding" : "Output";
}

function sectionSummary(pts: PointResult[], paint: Paint): string {
  const bad = pts.filter((p) => !PASSING.has(p.status));
  if (bad.length === 0) {
    const drift = pts.filter((p) => p.status === "drift").length;
    const worst = Math.max(...pts.map((p) => Math.max(p.all?.nmse ?? 0, p.last?.nmse ?? 0)));
    return paint("32", `✓ ${pts.length} point(s) ${drift ? `pass (${drift} within band)` : "match"}`) + `  worst nmse ${fmt(worst)}`;
  }
  const counts = new Map<string, number>();
  for (const p of bad) counts.set(p.status, (counts.get(p.status) ?? 0) + 1);
  return [...counts].map(([s, n]) => paint(COLOR[s], `${MARK[s].split(" ")[0]} ${n}/${pts.length} ${s}`)).join(", ");
}

function header(r: ComparisonResult): string[] {
  const side = (s: ComparisonResult["a"]) => {
    const mode = s.settings.numerics ? `, ${String(s.settings.numerics)} numerics` : "";
    return `[ROSETTA] ${s.label}: ${s.source}  (${s.engine}${mode}${s.fileType ? `, weights ${s.fileType}` : ""})`;
  };
  const lines = [side(r.a), side(r.b)];
  const same = r.a.tokens.join() === r.b.tokens.join();
  lines.push(same ? `[ROSETTA] Token IDs: [${r.a.tokens.join(", ")}]` : `[ROSETTA] Token IDs: A [${r.a.tokens.join(", ")}]  B [${r.b.tokens.join(", ")}]`);
  if (r.a.generated.length || r.b.generated.length) lines.push(`[ROSETTA] Generated: A [${r.a.generated.join(", ")}]  B [${r.b.generated.join(", ")}]`);
  const band = r.band ? `; band ${r.band.id}: NMSE <= ${fmt(r.band.nmse)}${r.band.provisional ? " (provisional)" : ""}` : "";
  lines.push(`[ROSETTA] Gate: energy NMSE sum(a-b)^2/sum(b^2) <= ${fmt(r.threshold)} (B is the reference)${band}`);
  return lines;
}

function weightLines(r: ComparisonResult, layer: number | null, paint: Paint): string[] {
  if (!r.weights) return [];
  const bad = r.weights.tensors.filter((t) => t.layer === layer && !["identical", "close", "not-compared"].includes(t.status));
  return bad.slice(0, 6).map((t) => `  ${paint("33", "⚠ WEIGHTS")} ${t.key}: ${describe(t)}`);
}

function findingLines(f: Finding, paint: Paint, label: string): string[] {
  const head = `${label}: ${f.title.toUpperCase()} at ${f.where}${f.step ? ` (step ${f.step})` : ""}`;
  return [paint(f.fatal ? "31;1" : "33", head), ...f.evidence.map((e) => `    - ${e}`), `    recommendation: ${f.recommendation}`];
}

function body(r: ComparisonResult, opts: TextOptions, paint: Paint): string[] {
  const out: string[] = [];
  const steps = [...new Set(r.points.map((p) => p.step))].sort((x, y) => x - y);
  for (const step of steps) {
    if (steps.length > 1) out.push(paint("1", `--- step ${step}${step === 0 ? " (prompt)" : " (decode)"} ---`));
    const pts = r.points.filter((p) => p.step === step);
    const sections: [string, PointResult[]][] = [];
    for (const p of pts) {
      const name = sectionName(p);
      if (!sections.length || sections[sections.length - 1][0] !== name) sections.push([name, []]);
      sections[sections.length - 1][1].push(p);
    }
    for (const [name, sp] of sections) {
      out.push(`${paint("1", `=== ${name} ===`.padEnd(16))} ${sectionSummary(sp, paint)}`);
      if (step === 0) out.push(...weightLines(r, name.startsWith("Layer") ? sp[0].layer : null, paint));
      const show = opts.verbose ? sp : sp.filter((p) => !PASSING.has(p.status) && (p === r.firstDivergence || p.layer === r.firstDivergence?.layer || p.status === "sample-mismatch"));
      for (const p of show) out.push(pointLine(p, paint));
      if (r.firstDivergence && sp.includes(r.firstDivergence) && r.diagnosis) out.push(paint("31;1", `  DIAGNOSIS: ${r.diagnosis.title}: ${r.diagnosis.evidence[0] ?? ""}`));
    }
  }
  return out;
}

function summary(r: ComparisonResult, paint: Paint): string {
  const c = r.counts;
  const tally = `${c.match} match, ${c.drift} within band, ${c.diverged} diverged, ${c.nonfinite} NaN/Inf, ${c["sample-mismatch"]} sample mismatch, ${c["only-a"] + c["only-b"]} one side only`;
  const fd = r.firstDivergence;
  const d = r.diagnosis;
  let s: string;
  if (r.verdict === "MATCH") s = paint("32;1", "PASSED: every compared point matches");
  else if (r.verdict === "DRIFT") s = paint("33;1", `PASSED with precision drift within band${d ? ` (worst at ${d.where})` : ""}`);
  else if (r.verdict === "INCOMPARABLE") s = paint("33;1", `NOT COMPARED: ${d ? `${d.title} at ${d.where}` : "no point could be compared"}`);
  else s = paint("31;1", `FAILED: ${d ? d.title : "divergence"}${fd ? ` at ${sectionName(fd)} ${fd.point}${fd.step ? ` (step ${fd.step})` : ""}` : d ? ` at ${d.where}` : ""}`);
  if (d && r.verdict !== "MATCH") s += `. Recommendation: ${d.recommendation}`;
  return `${paint("1", "=== Summary ===")}  ${s}\n  ${tally}`;
}

export function renderText(r: ComparisonResult, opts: TextOptions = {}): string {
  const paint: Paint = opts.color ? (code, s) => `\x1b[${code}m${s}\x1b[0m` : (_c, s) => s;
  const out = [...header(r), ...body(r, opts, paint)];
  const shown = opts.verbose ? r.findings : r.findings.slice(0, 6);
  if (shown.length) out.push(paint("1", "=== Findings ==="));
  shown.forEach((f, i) => out.push(...findingLines(f, paint, i === 0 && f === r.diagnosis ? "DIAGNOSIS" : "finding")));
  if (r.findings.length > shown.length) out.push(`  (${r.findings.length - shown.length} more with -v)`);
  out.push(summary(r, paint));
  return out.join("\n") + "\n";
}
