/**
 * `rosetta demo`: the main job with nothing to download. Builds a small model pair with a layout defect
 * in a temp dir (src/pipeline/demo.ts), runs `rosetta model.apr model.gguf` on it and shows the diagnosis.
 * Exit 0 when the defect was found and diagnosed as a layout transposition, 3 otherwise (a bug).
 */
import type { CommandModule } from "yargs";

import { DEMO_DEFECT, DEMO_TOKENS, writeDemoPair } from "../../pipeline/demo.js";
import { runComparison } from "../../pipeline/run-comparison.js";
import { EXIT } from "../../util/errors.js";
import { checkReportPaths, emitReports } from "./CompareCommand.js";

export interface DemoArgs {
  json?: string;
  junit?: string;
  html?: string;
  keep?: boolean;
  verbose?: boolean;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: "demo",
  describe: "Build a small model pair with a layout defect, compare it, show the diagnosis (no files needed)",
  builder: (y) =>
    y
      .option("json", { type: "string", description: "Also write the JSON report to FILE" })
      .option("junit", { type: "string", description: "Also write a JUnit XML report to FILE" })
      .option("html", { type: "string", description: "Also write the self-contained HTML report to FILE (docs/report.md)" })
      .option("keep", { type: "boolean", description: "Keep the generated models (their paths are printed)" })
      .example("rosetta demo --keep", "then rerun the printed `rosetta A B` line on the kept files")
      .epilogue("Exit codes: 0 the defect was found and diagnosed, 2 bad flags, 3 internal error (the demo's defect was missed)."),
  handler: async (args) => {
    checkReportPaths(args);
    const files = await writeDemoPair();
    try {
      process.stderr.write(`[rosetta] demo: wrote ${files.gguf} (random llama, 2 layers, F32) and ${files.apr} (same weights, defect ${DEMO_DEFECT})\n`);
      // with a report on standard output ('-'), stdout carries that report alone
      const toStdout = [args.json, args.junit, args.html].includes("-");
      (toStdout ? process.stderr : process.stdout).write(`$ rosetta ${files.apr} ${files.gguf} --tokens ${DEMO_TOKENS.join(",")}\n`);
      const r = await runComparison({ a: { path: files.apr }, b: { path: files.gguf }, tokens: DEMO_TOKENS });
      emitReports(r, { json: args.json, junit: args.junit, html: args.html, verbose: args.verbose });
      const ok = r.verdict === "DIVERGED" && r.diagnosis?.id === "layout-transposed";
      if (!ok) process.stderr.write(`rosetta: internal error: the demo's defect was not diagnosed (verdict ${r.verdict}, diagnosis ${r.diagnosis?.id ?? "none"})\n`);
      process.exitCode = ok ? EXIT.OK : EXIT.INTERNAL;
    } finally {
      if (args.keep) process.stderr.write(`[rosetta] demo: kept ${files.dir}\n`);
      else files.cleanup();
    }
  },
};
