/**
 * The human report: a header (both sides, prompt, token ids, the gate), one block per section (embedding,
 * each layer, output) per step, then the findings and a summary naming the first divergence, the
 * diagnosis and the recommendation. Without -v it is compact: runs of passing layers are one line, the
 * failing layer shows its key points (the first divergence, its output, the first NaN), and everything
 * after the first divergence is one line per step; -v prints every point of every section. Colour only on a terminal, never when NO_COLOR is set.
 */
import { fieldName } from "../config-diff.js";
import { describe, fmt, showMeta } from "../format.js";
import { NOT_FAILING, PASSING, type ComparisonResult, type Finding, type PointResult, type SampleMetrics } from "../result.js";

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
  "summary-agree": "~ summaries agree (not verified: no full tensors)",
  diverged: "✗ DIVERGENCE",
  nonfinite: "✗ NaN/Inf",
  "sample-mismatch": "⚠ SAMPLE MISMATCH (not compared)",
  "only-a": "- only in A (not compared)",
  "only-b": "- only in B (not compared)",
};
const COLOR: Record<string, string> = { match: "32", drift: "33", "summary-agree": "33", diverged: "31", nonfinite: "31", "sample-mismatch": "33", "only-a": "2", "only-b": "2" };

function metrics(m: SampleMetrics | null): string {
  if (!m) return "";
  const bound = m.basis === "summary" ? ">=" : "=";
  const parts = [`max_diff${bound}${fmt(m.maxAbs)}`, `mean_diff${bound}${fmt(m.meanAbs)}`, `nmse${bound}${fmt(m.nmse)}`];
  // an identical pair's SQNR is infinite: "sqnr=inf", not "sqnr=InfinitydB"
  const db = Number.isFinite(m.sqnrDb) ? `${fmt(m.sqnrDb)}dB` : fmt(m.sqnrDb);
  parts.push(m.basis === "summary" ? `sqnr<=${db}` : `sqnr=${db}`);
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
  const bad = pts.filter((p) => !NOT_FAILING.has(p.status) && p.status !== "only-a" && p.status !== "only-b");
  const oneSide = pts.length - bad.length - pts.filter((p) => NOT_FAILING.has(p.status)).length;
  const extra = oneSide ? `; ${oneSide} on one side only` : "";
  pts = pts.filter((p) => p.status !== "only-a" && p.status !== "only-b");
  if (pts.length === 0) return paint("2", `- ${oneSide} point(s) on one side only (not compared)`);
  if (bad.length === 0) {
    const drift = pts.filter((p) => p.status === "drift").length;
    const sums = pts.filter((p) => p.status === "summary-agree").length;
    const full = pts.length - sums;
    // a reduce, not Math.max(...): a long decode has hundreds of thousands of points (a spread overflows the stack)
    const worst = pts.reduce((m, p) => (PASSING.has(p.status) ? Math.max(m, p.all?.nmse ?? 0, p.last?.nmse ?? 0) : m), -Infinity);
    const parts: string[] = [];
    if (full) parts.push(paint("32", `✓ ${full} point(s) ${drift ? `pass (${drift} within band)` : "match"}`) + `  worst nmse ${fmt(worst)}`);
    if (sums) parts.push(paint("33", `~ ${sums} point(s) agree in summaries only (not verified)`));
    return parts.join("; ") + extra;
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
  for (const s of [r.a, r.b]) {
    if (!s.imported) continue;
    const some = `summaries${s.imported.format === "llama-eval-callback" ? " and the printed elements" : ""}`;
    const n = s.imported.fullTensors ?? 0;
    const can = n > 0 ? `full tensors of ${n} point(s) (verified like any trace's), ${some} of the rest` : `${some} only: agreement there is never a full-tensor match`;
    lines.push(`[ROSETTA] ${s.label} is imported (${s.imported.format}): ${s.imported.notes.join("; ")}; it can verify ${can}`);
  }
  const teacher = r.a.forced ? "B" : r.b.forced ? "A" : null;
  if (teacher && r.a.generated.join() === r.b.generated.join()) lines.push(`[ROSETTA] Decode steps (teacher-forced: both sides consumed ${teacher}'s tokens): [${r.a.generated.join(", ")}]`);
  else if (r.a.generated.length || r.b.generated.length) lines.push(`[ROSETTA] Generated: A [${r.a.generated.join(", ")}]  B [${r.b.generated.join(", ")}]`);
  // a band tighter than the threshold is not the gate: the threshold is (and the band only context)
  const band = !r.band ? "" : r.band.nmse > r.threshold
    ? `; band ${r.band.id}: NMSE <= ${fmt(r.band.nmse)}${r.band.provisional ? " (provisional)" : ""}`
    : ` (band ${r.band.id}, NMSE <= ${fmt(r.band.nmse)}, is tighter than the threshold: the threshold decides)`;
  const gate = `[ROSETTA] Gate: energy NMSE sum(a-b)^2/sum(b^2) <= ${fmt(r.threshold)} (B is the reference)`;
  if (r.regime?.id === "exact" && !r.thresholdExplicit) lines.push(`[ROSETTA] Gate: exact regime: any difference is a divergence (${r.regime.why})`);
  else if (r.regime) lines.push(`[ROSETTA] Expected noise: ${r.regime.id} regime: ${r.regime.why}`);
  if (r.regime?.id === "exact" && !r.thresholdExplicit) { /* the line above is the gate */ }
  else if (r.thresholdExplicit && r.band) lines.push(`${gate}; explicit --threshold: no band loosens it (band ${r.band.id}: NMSE <= ${fmt(r.band.nmse)}, for context)`);
  else lines.push(gate + band);
  const cfg = configLine(r);
  if (cfg) lines.push(cfg);
  if (r.noise) lines.push(`[ROSETTA] Reference noise (measured): run to run NMSE ${fmt(r.noise.runToRun)} (bit-identical); ggml vs exact numerics <= ${fmt(r.noise.modes)} for ${r.noise.weightClass} weights`);
  return lines;
}

/** The config check in one line: agreeing fields, differences (with GGUF keys), what could not be compared. */
function configLine(r: ComparisonResult): string | null {
  const c = r.config;
  if (!c) return null;
  const missing = [...new Set([...c.missingA, ...c.missingB])];
  const who = c.missingA.length && c.missingB.length ? "A and B do" : c.missingA.length ? "A does" : "B does";
  const notCompared = missing.length ? `; NOT compared: ${missing.join(", ")} (${who} not record them)` : "";
  if (c.status === "not-compared") return `[ROSETTA] Config: could not be compared (no field recorded on both sides)`;
  if (c.status === "differs") {
    const d = c.mismatches.map((m) => `${fieldName(m.field, c.arch)}: A ${showMeta(m.a)}, B ${showMeta(m.b)}`).join("; ");
    return `[ROSETTA] Config: DIFFERS: ${d}${notCompared}`;
  }
  return `[ROSETTA] Config: ${c.compared.length} field(s) agree${notCompared}`;
}

function weightLines(r: ComparisonResult, layer: number | null, paint: Paint): string[] {
  if (!r.weights) return [];
  const bad = r.weights.tensors.filter((t) => t.layer === layer && !["identical", "sampled-identical", "close", "not-compared"].includes(t.status));
  return bad.slice(0, 6).map((t) => `  ${paint("33", "⚠ WEIGHTS")} ${t.key}: ${describe(t)}`);
}

function findingLines(f: Finding, paint: Paint, label: string): string[] {
  const head = `${label}: ${f.title.toUpperCase()} at ${f.where}${f.step ? ` (step ${f.step})` : ""}`;
  return [paint(f.fatal ? "31;1" : "33", head), ...f.evidence.map((e) => `    - ${e}`), `    recommendation: ${f.recommendation}`];
}

type Section = [string, PointResult[]];

/** Nothing to look at without -v: passing or agreeing in summaries, or captured by one side only (listed in the tally). */
const clean = (p: PointResult) => NOT_FAILING.has(p.status) || p.status === "only-a" || p.status === "only-b";

function sectionsOf(pts: PointResult[]): Section[] {
  const sections: Section[] = [];
  for (const p of pts) {
    const name = sectionName(p);
    if (!sections.length || sections[sections.length - 1][0] !== name) sections.push([name, []]);
    sections[sections.length - 1][1].push(p);
  }
  return sections;
}

/** "Layers 3-9", "Layers 21-27, Output": the names of a run of merged sections. */
function runName(run: Section[]): string {
  if (run.length === 1) return run[0][0];
  const layers = run.filter(([n]) => n.startsWith("Layer ")).map(([, sp]) => sp[0].layer!);
  const others = run.filter(([n]) => !n.startsWith("Layer ")).map(([n]) => n);
  const parts = layers.length ? [layers.length === 1 ? `Layer ${layers[0]}` : `Layers ${layers[0]}-${layers[layers.length - 1]}`] : [];
  const head = others.filter((n) => n === "Embedding");
  return [...head, ...parts, ...others.filter((n) => n !== "Embedding")].join(", ");
}

/** The points worth showing in the failing section without -v: the first divergence, the layer output, the first NaN, sample mismatches. */
function keyPoints(sp: PointResult[], r: ComparisonResult): PointResult[] {
  const bad = sp.filter((p) => !NOT_FAILING.has(p.status));
  const keep = new Set<PointResult>();
  if (r.firstDivergence && sp.includes(r.firstDivergence)) keep.add(r.firstDivergence);
  const firstNan = bad.find((p) => p.status === "nonfinite");
  if (firstNan) keep.add(firstNan);
  for (const p of bad) if (p.point === "l_out" || p.point === "logits" || p.status === "sample-mismatch") keep.add(p);
  if (keep.size === 0 && bad.length) keep.add(bad[0]);
  return sp.filter((p) => keep.has(p));
}

function detailedSection([name, sp]: Section, r: ComparisonResult, step: number, paint: Paint, verbose: boolean): string[] {
  const out = [`${paint("1", `=== ${name} ===`.padEnd(16))} ${sectionSummary(sp, paint)}`];
  if (step === 0) out.push(...weightLines(r, name.startsWith("Layer") ? sp[0].layer : null, paint));
  const show = verbose ? sp : keyPoints(sp, r);
  for (const p of show) out.push(pointLine(p, paint));
  const hidden = sp.filter((p) => !NOT_FAILING.has(p.status) && !show.includes(p)).length;
  if (hidden) out.push(`  (${hidden} more point(s) not passing here: -v shows every point)`);
  if (r.firstDivergence && sp.includes(r.firstDivergence) && r.diagnosis) out.push(paint("31;1", `  DIAGNOSIS: ${r.diagnosis.title}: ${r.diagnosis.evidence[0] ?? ""}`));
  return out;
}

/** Without -v: passing runs of sections merged into one line, the failing section in detail, what follows it merged. */
function compactStep(sections: Section[], r: ComparisonResult, step: number, paint: Paint): string[] {
  const out: string[] = [];
  const line = (run: Section[], note = "") => out.push(`${paint("1", `=== ${runName(run)} ===`.padEnd(16))} ${sectionSummary(run.flatMap(([, sp]) => sp), paint)}${note}`);
  let run: Section[] = [];
  let i = 0;
  for (; i < sections.length; i++) {
    const sp = sections[i][1];
    if (sp.every(clean) && !(step === 0 && weightLines(r, sp[0].layer, paint).length)) {
      run.push(sections[i]);
      continue;
    }
    if (run.length) line(run);
    run = [];
    out.push(...detailedSection(sections[i], r, step, paint, false));
    if (r.firstDivergence && sections[i][1].includes(r.firstDivergence)) break;
  }
  if (run.length) line(run);
  const rest = sections.slice(i + 1);
  if (rest.length) line(rest, "  (after the first divergence)");
  return out;
}

function body(r: ComparisonResult, opts: TextOptions, paint: Paint): string[] {
  const out: string[] = [];
  const steps = [...new Set(r.points.map((p) => p.step))].sort((x, y) => x - y);
  const flip = r.findings.find((f) => f.id === "token-flip");
  // runs of steps that need no detail are one line, however many steps there are
  let group: { from: number; to: number; pts: PointResult[]; after: boolean } | null = null;
  const flush = () => {
    if (!group) return;
    const title = group.from === group.to ? `--- step ${group.from}${group.from === 0 ? " (prompt)" : " (decode)"} ---` : `--- steps ${group.from}-${group.to} (decode) ---`;
    out.push(`${paint("1", title)} ${sectionSummary(group.pts, paint)}${group.after ? "  (after the first divergence)" : ""}`);
    group = null;
  };
  // points grouped by step once (a long decode has thousands of points and steps)
  const byStep = new Map<number, PointResult[]>();
  for (const p of r.points) {
    const l = byStep.get(p.step);
    if (l) l.push(p);
    else byStep.set(p.step, [p]);
  }
  for (const step of steps) {
    const pts = byStep.get(step) ?? [];
    const after = !opts.verbose && !!r.firstDivergence && step > r.firstDivergence.step;
    const quiet = after || (!opts.verbose && steps.length > 1 && pts.every(clean) && !(step === 0 && r.weights?.findings.some((f) => f.fatal)));
    if (quiet && step !== flip?.step) {
      if (group && group.after === after && step === group.to + 1 && step > 0 && group.from > 0) {
        group.to = step;
        group.pts.push(...pts);
      } else {
        flush();
        group = { from: step, to: step, pts: [...pts], after };
      }
      continue;
    }
    flush();
    const title = `--- step ${step}${step === 0 ? " (prompt)" : " (decode)"} ---`;
    const mark = flip && step === flip.step ? `  ⚑ ${flip.evidence[0]}` : "";
    if (quiet) {
      out.push(`${paint("1", title)} ${sectionSummary(pts, paint)}${after ? "  (after the first divergence)" : ""}${mark}`);
      continue;
    }
    if (steps.length > 1) out.push(paint("1", title) + mark);
    const sections = sectionsOf(pts);
    if (opts.verbose) for (const sec of sections) out.push(...detailedSection(sec, r, step, paint, true));
    else out.push(...compactStep(sections, r, step, paint));
  }
  flush();
  return out;
}

function summary(r: ComparisonResult, paint: Paint): string {
  const c = r.counts;
  const tally = `${c.match} match, ${c.drift} within band, ${c["summary-agree"]} agree in summaries only (not verified), ${c.diverged} diverged, ${c.nonfinite} NaN/Inf, ${c["sample-mismatch"]} sample mismatch, ${c["only-a"] + c["only-b"]} one side only`;
  const fd = r.firstDivergence;
  const d = r.diagnosis;
  let s: string;
  const onSummaries = r.verifiedOn === "summaries-only" || r.verifiedOn === "partly-summaries";
  if (onSummaries && (r.verdict === "MATCH" || r.verdict === "DRIFT"))
    s = paint("33;1", `${r.verdict} on summaries: nothing failed, but ${r.verifiedOn === "summaries-only" ? "all " : ""}${c["summary-agree"]} of the compared points agree in summaries only: not a full-tensor match (${r.a.imported || r.b.imported ? "an imported dump holds no full tensors: dump them from that engine (e.g. with the Python writer, docs/foreign-traces.md) to verify" : "capture full tensors on both sides with \`rosetta trace --tensors\` or --full to verify"}; --assert-match fails it unless --accept-summaries)`);
  else if (r.verdict === "MATCH") s = paint("32;1", "PASSED: every compared point matches");
  else if (r.verdict === "DRIFT") s = paint("33;1", `PASSED with precision drift within band${d ? ` (worst at ${d.where})` : ""}`);
  else if (r.verdict === "INCOMPARABLE") s = paint("33;1", `NOT COMPARED: ${d ? `${d.title} at ${d.where}` : "no point could be compared"}`);
  else s = paint("31;1", `FAILED: ${d ? d.title : "divergence"}${fd ? ` at ${sectionName(fd)} ${fd.point}${fd.step ? ` (step ${fd.step})` : ""}` : d ? ` at ${d.where}` : ""}`);
  if (d && r.verdict !== "MATCH") s += `. Recommendation: ${d.recommendation}`;
  // a pass says what it did not look at: points one side never captured (e.g. decode steps a saved trace lacks)
  const oneSide = c["only-a"] + c["only-b"];
  const passed = r.verdict === "MATCH" || r.verdict === "DRIFT";
  if (passed && oneSide) s += paint("33", `  (${oneSide} point(s) captured on one side only were not compared)`);
  if (passed && r.config && r.config.status !== "match") s += paint("33", `  (model config ${r.config.status === "not-compared" ? "could not be compared" : r.config.status === "differs" ? "differs" : "only partly compared"}: see the Config line)`);
  for (const w of r.warnings ?? []) s += `\n  ${paint("33", `warning: ${w}`)}`;
  for (const n of r.notes ?? []) s += `\n  note: ${n}`;
  return `${paint("1", "=== Summary ===")}  ${s}\n  ${tally}`;
}

/** The experiments in a few lines: reruns and time, the minimal explaining set, what is left. */
function experimentLines(r: ComparisonResult): string[] {
  const e = r.experiments!;
  const donor = e.receiver === "A" ? "B" : "A";
  const lines = [`=== Experiments ===  ${e.reruns} rerun(s) of ${e.receiver} in ${e.ms} ms (${e.candidates} differing tensor(s)/key(s) to take from ${donor})`];
  if (e.minimal) lines.push(`  minimal explaining set: ${e.minimal.map((k) => k.replace(/^meta:/, "config ")).join(", ")} (confirmed: with ${e.minimal.length === 1 ? "it" : "them"} taken from ${donor}, every point matches)`);
  if (e.residual) lines.push(`  with everything that differs taken from ${donor}, ${e.residual.key} still diverges (NMSE ${fmt(e.residual.nmse)})`);
  if (e.note) lines.push(`  ${e.note}`);
  return lines;
}

/**
 * The arbiter's judgement: its verdict, then per point which side is closer to it (every point with -v;
 * otherwise the points where A and B do not match, and the first point where each side leaves the arbiter).
 */
function arbiterLines(r: ComparisonResult, verbose: boolean): string[] {
  const x = r.arbiter!;
  const settings = x.settings as Record<string, unknown>;
  const how = settings.numerics ? `${String(settings.numerics)} numerics` : settings.dtype ? String(settings.dtype) : "";
  const lines = [`=== Arbiter ===  ${x.source} (${x.engine}${how ? `, ${how}` : ""}): closer to it A at ${x.counts.A} point(s), B at ${x.counts.B}, tie ${x.counts.tie}, not comparable ${x.counts.none}`];
  lines.push(`  ${x.verdict}`);
  const ab = new Map(r.points.map((p) => [`${p.step}:${p.key}`, p.status]));
  const firsts = new Set([x.firstDivergenceA, x.firstDivergenceB].filter(Boolean).map((f) => `${f!.step}:${f!.key}`));
  const shown = x.points.filter((p) => verbose || firsts.has(`${p.step}:${p.key}`) || !["match", "drift"].includes(ab.get(`${p.step}:${p.key}`) ?? ""));
  const limit = verbose ? shown.length : 24;
  if (shown.length) lines.push(`  ${"point".padEnd(24)} ${"NMSE(A, arbiter)".padEnd(24)} ${"NMSE(B, arbiter)".padEnd(24)} closer`);
  for (const p of shown.slice(0, limit)) {
    const cell = (n: number | null, st: string | null) => `${n === null ? "-" : fmt(n)} ${st ? `(${st})` : ""}`.padEnd(24);
    lines.push(`  ${(p.step ? `s${p.step} ` : "") + p.key}`.padEnd(26) + ` ${cell(p.nmseA, p.statusA)} ${cell(p.nmseB, p.statusB)} ${p.closer ?? "n/a"}`);
  }
  if (shown.length > limit) lines.push(`  (${shown.length - limit} more points, and all with -v or in the JSON report)`);
  return lines;
}

export function renderText(r: ComparisonResult, opts: TextOptions = {}): string {
  const paint: Paint = opts.color ? (code, s) => `\x1b[${code}m${s}\x1b[0m` : (_c, s) => s;
  const out = [...header(r), ...body(r, opts, paint)];
  // without -v: the diagnosis and the other fatal findings (at most 4); informational ones with -v
  const shown = opts.verbose ? r.findings : r.findings.filter((f) => f === r.diagnosis || f.fatal || f.id === "architecture-differs" || f.id === "equivalent-reparametrization" || f.id === "token-flip").slice(0, 5);
  if (shown.length) out.push(paint("1", "=== Findings ==="));
  shown.forEach((f, i) => out.push(...findingLines(f, paint, i === 0 && f === r.diagnosis ? "DIAGNOSIS" : "finding")));
  if (r.findings.length > shown.length) out.push(`  (${r.findings.length - shown.length} more with -v)`);
  if (r.experiments) out.push(...experimentLines(r));
  if (r.arbiter) out.push(...arbiterLines(r, !!opts.verbose));
  out.push(summary(r, paint));
  return out.join("\n") + "\n";
}
