/**
 * The `--junit FILE` report: one <testsuite> per step, one <testcase> per capture point (classname = the
 * section, `rosetta.layer.3`), so a CI page shows where it broke. diverged/NaN points are failures;
 * sample mismatches, one-sided points and summary-only agreement are skipped with their reason (never
 * passes); findings are
 * attached as failures of a `diagnosis` testcase.
 */
import { fmt } from "../format.js";
import type { ComparisonResult, PointResult } from "../result.js";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

function classOf(p: PointResult): string {
  return p.layer !== null ? `rosetta.layer.${p.layer}` : p.point === "embd" ? "rosetta.embedding" : "rosetta.output";
}

function testcase(p: PointResult): string {
  const name = esc(`${p.key} step ${p.step}`);
  const head = `    <testcase classname="${classOf(p)}" name="${name}">`;
  const m = `nmse all ${fmt(p.all?.nmse)} last ${fmt(p.last?.nmse)} (gate ${fmt(p.gate.threshold)}, band ${fmt(p.gate.band)}; basis ${p.all?.basis ?? "n/a"})`;
  switch (p.status) {
    case "match":
      return `${head}<system-out>${esc(m)}</system-out></testcase>`;
    case "drift":
      return `${head}<system-out>${esc(`precision drift within band: ${m}`)}</system-out></testcase>`;
    case "diverged":
      return `${head}<failure type="divergence" message="${esc(m)}"/></testcase>`;
    case "nonfinite":
      return `${head}<failure type="nonfinite" message="${esc(p.note ?? "NaN/Inf")}"/></testcase>`;
    case "summary-agree":
      // not a pass: only the summaries were compared (a lower bound), so the point is reported as not verified
      return `${head}<skipped message="${esc(`summary-agree: summaries agree, not verified without full tensors: ${m}`)}"/></testcase>`;
    default:
      return `${head}<skipped message="${esc(`${p.status}: ${p.note ?? "not compared"}`)}"/></testcase>`;
  }
}

export function renderJunit(r: ComparisonResult): string {
  const steps = [...new Set(r.points.map((p) => p.step))].sort((x, y) => x - y);
  const out = [`<?xml version="1.0" encoding="UTF-8"?>`];
  const failures = r.points.filter((p) => p.status === "diverged" || p.status === "nonfinite").length + r.findings.filter((f) => f.fatal).length;
  out.push(`<testsuites name="rosetta" tests="${r.points.length + r.findings.length}" failures="${failures}">`);
  // points grouped by step once (a long decode has thousands of points and steps)
  const byStep = new Map<number, PointResult[]>();
  for (const p of r.points) {
    const l = byStep.get(p.step);
    if (l) l.push(p);
    else byStep.set(p.step, [p]);
  }
  for (const step of steps) {
    const pts = byStep.get(step) ?? [];
    const f = pts.filter((p) => p.status === "diverged" || p.status === "nonfinite").length;
    const sk = pts.filter((p) => p.status !== "match" && p.status !== "drift" && p.status !== "diverged" && p.status !== "nonfinite").length;
    out.push(`  <testsuite name="${esc(`${r.a.source} vs ${r.b.source} step ${step}`)}" tests="${pts.length}" failures="${f}" skipped="${sk}">`);
    for (const p of pts) out.push(testcase(p));
    out.push(`  </testsuite>`);
  }
  out.push(`  <testsuite name="diagnosis" tests="${r.findings.length}" failures="${r.findings.filter((x) => x.fatal).length}">`);
  for (const f of r.findings) {
    const body = esc([...f.evidence, `recommendation: ${f.recommendation}`].join("\n"));
    const head = `    <testcase classname="rosetta.diagnosis" name="${esc(`${f.id} at ${f.where}`)}">`;
    out.push(f.fatal ? `${head}<failure type="${f.id}" message="${esc(f.title)}">${body}</failure></testcase>` : `${head}<system-out>${body}</system-out></testcase>`);
  }
  out.push(`  </testsuite>`, `</testsuites>`);
  return out.join("\n") + "\n";
}
