/**
 * `rosetta diff-weights A B`: the weight-level diff alone (no forward pass): tensors matched by role,
 * missing/extra, dims, dtypes, dequantized values against the floor for the two types, transposition,
 * Q/K permutation, swaps, metadata. Exit 1 under --assert-match when a defect is found.
 */
import type { CommandModule } from "yargs";

import { fmt } from "../../compare/format.js";
import { describe as describeTensor, showMeta } from "../../compare/format.js";
import type { WeightDiff } from "../../compare/result.js";
import { diffWeights } from "../../compare/weight-diff.js";
import { loadModel } from "../../formats/index.js";
import { EXIT } from "../../util/errors.js";
import { checkWritable, writeOutput } from "../output.js";

export interface DiffWeightsArgs {
  a: string;
  b: string;
  json?: string;
  "assert-match"?: boolean;
  verbose?: boolean;
}

export function renderWeightDiff(w: WeightDiff, verbose = false): string {
  const out = [`[ROSETTA] weights A: ${w.a}`, `[ROSETTA] weights B: ${w.b}`];
  const counts = new Map<string, number>();
  for (const t of w.tensors) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  out.push(`[ROSETTA] ${w.tensors.length} role tensor(s): ${[...counts].map(([k, v]) => `${v} ${k}`).join(", ")}`);
  for (const t of w.tensors) {
    if (!verbose && (t.status === "identical" || t.status === "sampled-identical" || t.status === "close")) continue;
    out.push(`  ${t.key.padEnd(22)} ${describeTensor(t)}`);
  }
  for (const m of w.metadata) out.push(`  metadata ${m.field}: A ${showMeta(m.a)}  B ${showMeta(m.b)}`);
  for (const f of w.findings) {
    out.push(`${f.fatal ? "FINDING" : "note"}: ${f.title.toUpperCase()} at ${f.where}`);
    for (const e of f.evidence) out.push(`    - ${e}`);
    out.push(`    recommendation: ${f.recommendation}`);
  }
  const fatal = w.findings.filter((f) => f.fatal);
  const worst = w.tensors.filter((t) => t.sqnrDb !== null && t.status === "close").reduce((m, t) => Math.min(m, t.sqnrDb!), Infinity);
  out.push(fatal.length ? `=== Summary ===  FAILED: ${fatal[0].title} at ${fatal[0].where}. Recommendation: ${fatal[0].recommendation}` : `=== Summary ===  PASSED: same weights (lowest SQNR among differing tensors: ${fmt(worst)} dB)`);
  return out.join("\n") + "\n";
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === "number" && !Number.isFinite(v) ? (Number.isNaN(v) ? null : v > 0 ? "Infinity" : "-Infinity") : v;
}

export const diffWeightsCommand: CommandModule<object, DiffWeightsArgs> = {
  command: "diff-weights <a> <b>",
  describe: "Compare two model files' weights by role (no forward pass)",
  builder: (y) =>
    y
      .positional("a", { type: "string", demandOption: true, description: "model A: GGUF or APR file, or Hugging Face folder" })
      .positional("b", { type: "string", demandOption: true, description: "model B: GGUF or APR file, or Hugging Face folder" })
      .option("json", { type: "string", description: "Write the diff as JSON to FILE ('-': stdout)" })
      .option("assert-match", { type: "boolean", description: "Exit 1 if a defect is found" })
      .example("rosetta diff-weights model.apr model.gguf", "which tensors differ, and how")
      .example("rosetta diff-weights model.apr model.gguf --assert-match --json diff.json", "CI gate with a JSON record")
      .epilogue("Exit codes: 0 ok, 1 a defect found under --assert-match, 2 bad input or usage, 3 internal error."),
  handler: async (args) => {
    if (args.json && args.json !== "-") checkWritable(args.json, "--json");
    const a = await loadModel(args.a);
    const b = await loadModel(args.b);
    const w = diffWeights(a, b);
    if (args.json === "-") process.stdout.write(JSON.stringify(w, replacer, 2) + "\n");
    else process.stdout.write(renderWeightDiff(w, args.verbose));
    if (args.json && args.json !== "-") writeOutput(args.json, JSON.stringify(w, replacer, 2) + "\n", "--json");
    process.exitCode = args["assert-match"] && w.findings.some((f) => f.fatal) ? EXIT.DIVERGENCE : EXIT.OK;
  },
};
