/**
 * Human and machine output of a parity run: greppable per-position lines, a per-prompt table, the ISA
 * side-by-side table, and JUnit XML. Line format (one per failing position; grep `^PARITY-FAIL`):
 *   PARITY-FAIL model=M quant=Q numerics=N isa=I prompt_idx=P token_idx=T top5_rosetta=[id:logit,...]
 *     top5_llamacpp=[...] delta=D kl=K reason="..."
 */
import { fmt } from "./compare.js";
import { gated, type IsaRun, type ParityRunResult, type PositionResult, type PromptResult, type TopK } from "./types.js";

function topStr(t: TopK): string {
  return "[" + t.ids.map((id, i) => `${id}:${t.logits[i].toFixed(4)}`).join(",") + "]";
}

function head(r: PromptResult): string {
  return `model=${r.model} quant=${r.quant} numerics=${r.numerics} isa=${r.isa} prompt_idx=${r.promptIdx}`;
}

function positionLine(tag: string, r: PromptResult, p: PositionResult, k: number): string {
  return (
    `${tag} ${head(r)} token_idx=${p.tokenIdx} top${k}_rosetta=${topStr(p.rosetta)} top${k}_llamacpp=${topStr(p.llamacpp)} ` +
    `delta=${fmt(p.topDelta)} kl=${fmt(p.kl)} reason="${p.reasons.join("; ")}"`
  );
}

/**
 * Every failing position and prompt-level error as one line; near-ties as PARITY-NEAR-TIE lines. Failures
 * of a mode that is reported but not gated (`--gate`) are PARITY-UNGATED lines, so `^PARITY-FAIL` only
 * ever matches what failed the run.
 */
export function detailLines(results: PromptResult[], run: Pick<ParityRunResult, "gate"> = {}): string[] {
  const out: string[] = [];
  for (const r of results) {
    const k = r.details[0]?.llamacpp.ids.length ?? 5;
    const tag = gated(run, r) ? "PARITY-FAIL" : "PARITY-UNGATED";
    for (const e of r.promptErrors) out.push(`${tag} ${head(r)} token_idx=- reason="${e}"`);
    for (const p of r.details) {
      if (p.reasons.length > 0) out.push(positionLine(tag, r, p, k));
      else out.push(positionLine("PARITY-NEAR-TIE", r, { ...p, reasons: [p.top1 === "near-tie" ? "top1 near-tie" : `top${k} set near-tie`] }, k));
    }
  }
  return out;
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

export function summaryTable(results: PromptResult[]): string {
  const rows = [["model", "quant", "mode", "isa", "p", "bucket", "tok", "top1", "ties", "fails", "max_delta", "kl_mean", "kl_p95", "kl_max", "ms_ref", "ms_ros", "verdict"]];
  for (const r of results) {
    rows.push([
      r.model, r.quant, r.numerics, r.isa, String(r.promptIdx), r.bucket, `${r.promptTokens}+${r.genTokens}`,
      `${r.top1Match}/${r.positions}`, String(r.nearTies + r.setTies), String(r.failures + r.promptErrors.length),
      fmt(r.maxTopDelta), fmt(r.kl.mean), fmt(r.kl.p95), fmt(r.kl.max),
      r.ms.reference.toFixed(0), r.ms.rosetta.toFixed(0), r.passed ? "PASS" : "FAIL",
    ]);
  }
  return table(rows);
}

/** One row per (model, quant, mode, prompt), one column per ISA path: PASS, FAIL or why it did not run. */
export function isaTable(run: Pick<ParityRunResult, "results" | "isa">): string {
  const isas = run.isa.map((i) => i.requested);
  const key = (r: PromptResult) => `${r.model}|${r.quant}|${r.numerics}|${r.promptIdx}`;
  const byKey = new Map<string, Map<string, PromptResult>>();
  for (const r of run.results) {
    if (!byKey.has(key(r))) byKey.set(key(r), new Map());
    byKey.get(key(r))!.set(r.isa, r);
  }
  const cell = (isa: IsaRun, r: PromptResult | undefined) => {
    if (isa.status !== "ran") return isa.status;
    if (!r) return "-";
    return `${r.passed ? "PASS" : "FAIL"} kl_max=${fmt(r.kl.max)} d=${fmt(r.maxTopDelta)}`;
  };
  const rows = [["model", "quant", "mode", "p", ...isas.map((i, j) => `${i} (ran: ${run.isa[j].ran ?? "-"})`)]];
  for (const [k, m] of byKey) {
    const [model, quant, mode, p] = k.split("|");
    rows.push([model, quant, mode, p, ...run.isa.map((i) => cell(i, m.get(i.ran ?? i.requested)))]);
  }
  return table(rows);
}

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

export function junit(run: ParityRunResult): string {
  const groups = new Map<string, PromptResult[]>();
  for (const r of run.results) {
    const g = `parity.${r.model}.${r.quant}.${r.numerics}.${r.isa}`;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(r);
  }
  const suites: string[] = [];
  for (const [name, rs] of groups) {
    // A reported-only mode's failures go to system-out: they do not fail the CI run.
    const isGated = gated(run, rs[0]);
    const fails = isGated ? rs.filter((r) => !r.passed).length : 0;
    const time = rs.reduce((a, r) => a + r.ms.reference + r.ms.rosetta, 0) / 1000;
    const cases = rs.map((r) => {
      const msg = `${r.failures} failing positions, ${r.promptErrors.length} prompt errors`;
      const lines = xml(detailLines([r], run).join("\n"));
      const body = r.passed ? "" : isGated ? `<failure message="${xml(msg)}">${lines}</failure>` : `<system-out>${xml(`reported, not gated: ${msg}`)}\n${lines}</system-out>`;
      return `    <testcase classname="${xml(name)}" name="${xml(`prompt ${r.promptIdx} ${r.promptId}`)}" time="${((r.ms.reference + r.ms.rosetta) / 1000).toFixed(3)}">${body}</testcase>`;
    });
    suites.push(`  <testsuite name="${xml(name)}" tests="${rs.length}" failures="${fails}" time="${time.toFixed(3)}">\n${cases.join("\n")}\n  </testsuite>`);
  }
  for (const s of run.skipped)
    suites.push(`  <testsuite name="parity.skipped" tests="1" skipped="1"><testcase name="${xml(s.case)}"><skipped message="${xml(s.reason)}"/></testcase></testsuite>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="rosetta parity">\n${suites.join("\n")}\n</testsuites>\n`;
}

/** `parity: P/N prompts passed` counts the gated modes; reported-only modes get their own count after it. */
export function verdictLine(run: ParityRunResult): string {
  const g = run.results.filter((r) => gated(run, r));
  const rest = run.results.filter((r) => !gated(run, r));
  const pass = (rs: PromptResult[]) => rs.filter((r) => r.passed).length;
  const ties = g.reduce((a, r) => a + r.nearTies + r.setTies, 0);
  const modes = (rs: PromptResult[]) => [...new Set(rs.map((r) => r.numerics))].join("+");
  const gate = rest.length ? ` (${modes(g) || run.gate?.join("+")})` : "";
  const side = rest.length ? `; reported, not gated: ${modes(rest)} ${pass(rest)}/${rest.length} passed` : "";
  return `parity: ${pass(g)}/${g.length} prompts passed${gate}, ${ties} near-ties, ${run.skipped.length} not run${side}${run.passed ? "" : " -> FAIL"}`;
}
