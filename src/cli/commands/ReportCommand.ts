/**
 * `rosetta report REPORT.json --html FILE`: the HTML page (docs/report.md) from a saved JSON report,
 * a comparison's (`rosetta A B --json`, schema "rosetta-comparison") or a parity run's
 * (`rosetta parity --json`, format "rosetta.parity"), without rerunning anything.
 * Exit 0 written, 2 bad input (unreadable or not a rosetta report, an unwritable output).
 */
import { readFileSync } from "node:fs";

import type { CommandModule } from "yargs";

import { renderHtml } from "../../compare/report/html.js";
import { COMPARISON_SCHEMA, type ComparisonResult } from "../../compare/result.js";
import { renderParityHtml } from "../../parity/html.js";
import type { ParityRunResult } from "../../parity/types.js";
import { EXIT, InputError } from "../../util/errors.js";
import { checkWritable, writeOutput } from "../output.js";

export interface ReportArgs {
  report: string;
  html: string;
}

/** The saved report as a comparison or a parity run ("Infinity"/"NaN" strings back to numbers). */
export function readReport(file: string): { kind: "comparison"; r: ComparisonResult } | { kind: "parity"; run: ParityRunResult } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text, (_k, x) => (x === "NaN" ? NaN : x === "Infinity" ? Infinity : x === "-Infinity" ? -Infinity : x)) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`${file}: not JSON (${(e as Error).message})`);
  }
  if (v && v.schema === COMPARISON_SCHEMA && Array.isArray(v.points)) return { kind: "comparison", r: v as unknown as ComparisonResult };
  if (v && v.format === "rosetta.parity" && Array.isArray(v.results)) return { kind: "parity", run: v as unknown as ParityRunResult };
  throw new InputError(`${file}: not a rosetta report (expected a comparison report from \`rosetta A B --json\` or parity results from \`rosetta parity --json\`)`);
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: "report <report>",
  describe: "Write the HTML page of a saved JSON report (comparison or parity) without rerunning",
  builder: (y) =>
    y
      .positional("report", { type: "string", demandOption: true, description: "JSON report: `rosetta A B --json FILE` or `rosetta parity --json FILE`" })
      .option("html", { type: "string", demandOption: true, description: "Write the self-contained HTML page to FILE" })
      .example("rosetta report report.json --html report.html", "the page of a saved comparison"),
  handler: async (args) => {
    checkWritable(args.html, "--html");
    const rep = readReport(args.report);
    writeOutput(args.html, rep.kind === "comparison" ? renderHtml(rep.r) : renderParityHtml(rep.run), "--html");
    process.stdout.write(`wrote ${args.html}\n`);
    process.exitCode = EXIT.OK;
  },
};
