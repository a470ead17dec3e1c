/**
 * `rosetta A B` (the default command): compare two sides layer by layer, name the first divergence and
 * diagnose it. Each side is a model file run by rosetta's engine, a model run by llama.cpp
 * (`--engine-a/--engine-b llama.cpp`), or a saved trace. Exit: 0 compared (and matched, under
 * --assert-match), 1 divergence / not comparable under --assert-match, 2 bad input, 3 internal error.
 */
import type { CommandModule } from "yargs";

import { renderHtml } from "../../compare/report/html.js";
import { renderJson } from "../../compare/report/json.js";
import { renderJunit } from "../../compare/report/junit.js";
import { renderText, useColor } from "../../compare/report/text.js";
import { runComparison, type EngineName } from "../../pipeline/run-comparison.js";
import { DEFAULT_THRESHOLD } from "../../compare/tolerances.js";
import type { ComparisonResult } from "../../compare/result.js";
import type { Numerics } from "../../bindings/kernels.js";
import { EXIT, InputError } from "../../util/errors.js";
import { checkWritable, writeOutput } from "../output.js";

export interface CompareArgs {
  a: string;
  b: string;
  prompt?: string;
  tokens?: string;
  gen?: number;
  "engine-a"?: EngineName;
  "engine-b"?: EngineName;
  "numerics-a"?: Numerics;
  "numerics-b"?: Numerics;
  threshold?: string;
  "assert-match"?: boolean;
  "accept-summaries"?: boolean;
  json?: string;
  junit?: string;
  html?: string;
  full?: string[];
  weights?: boolean;
  threads?: number;
  verbose?: boolean;
}

export function parseTokens(s: string | undefined): number[] | undefined {
  if (s === undefined) return undefined;
  const parts = s.split(/[\s,]+/).filter((x) => x.length > 0);
  const ids = parts.map(Number);
  if (ids.length === 0 || ids.some((x) => !Number.isSafeInteger(x) || x < 0)) throw new InputError(`--tokens ${JSON.stringify(s)}: expected comma-separated non-negative token ids`);
  return ids;
}

/**
 * The exit code for a result: divergence, "not comparable" and "not verified" (points compared from
 * summaries only) fail only under --assert-match; summary agreement passes it only with --accept-summaries.
 */
export function exitCodeOf(r: ComparisonResult, assertMatch: boolean, acceptSummaries = false): number {
  if (!assertMatch) return EXIT.OK;
  if (r.verdict !== "MATCH" && r.verdict !== "DRIFT") return EXIT.DIVERGENCE;
  // a pass on summaries alone is not the full-tensor match --assert-match asks for, unless accepted
  if (r.verifiedOn === "summaries-only" || r.verifiedOn === "partly-summaries") return acceptSummaries ? EXIT.OK : EXIT.DIVERGENCE;
  return EXIT.OK;
}

/** --threshold as typed: a positive finite number, or one line saying what was given (exit 2). */
export function parseThreshold(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v).trim();
  const n = s === "" ? NaN : Number(s);
  if (!(n > 0) || !Number.isFinite(n)) throw new InputError(`--threshold must be a positive number, e.g. 1e-3 (got '${String(v)}')`);
  return n;
}

/** Report files are checked before the run, so a mistyped path does not cost the run. */
export function checkReportPaths(o: { json?: string; junit?: string; html?: string }): void {
  const dash = [["--json", o.json], ["--junit", o.junit], ["--html", o.html]].filter(([, v]) => v === "-").map(([k]) => k);
  if (dash.length > 1) throw new InputError(`${dash.join(" and ")} all ask for standard output: give at most one of them '-'`);
  if (o.json && o.json !== "-") checkWritable(o.json, "--json");
  if (o.junit && o.junit !== "-") checkWritable(o.junit, "--junit");
  if (o.html && o.html !== "-") checkWritable(o.html, "--html");
}

/** Writes the requested reports; returns the exit code. Shared by `rosetta A B` and `rosetta demo`. */
export function emitReports(r: ComparisonResult, o: { json?: string; junit?: string; html?: string; verbose?: boolean; assertMatch?: boolean; acceptSummaries?: boolean; jsonToStdout?: boolean }): number {
  // '-' sends that one report to standard output instead of the text report (--json -, --junit -, --html -)
  if (o.json === "-") process.stdout.write(renderJson(r));
  else if (o.junit === "-") process.stdout.write(renderJunit(r));
  else if (o.html === "-") process.stdout.write(renderHtml(r));
  else process.stdout.write(renderText(r, { verbose: o.verbose, color: useColor(process.stdout) }));
  if (o.json && o.json !== "-") writeOutput(o.json, renderJson(r), "--json");
  if (o.junit && o.junit !== "-") writeOutput(o.junit, renderJunit(r), "--junit");
  if (o.html && o.html !== "-") writeOutput(o.html, renderHtml(r), "--html");
  return exitCodeOf(r, !!o.assertMatch, !!o.acceptSummaries);
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: "$0 <a> <b>",
  describe: "Compare two sides layer by layer: first divergence, diagnosis, recommendation",
  builder: (y) =>
    y
      .positional("a", { type: "string", demandOption: true, description: "side A: model file (GGUF/APR), Hugging Face folder (config.json + safetensors) or saved trace (JSON)" })
      .positional("b", { type: "string", demandOption: true, description: "side B, the reference: model file or saved trace" })
      .option("prompt", { alias: "p", type: "string", description: "Prompt (each side tokenizes it with its own tokenizer)" })
      .option("tokens", { type: "string", description: "Token ids, comma separated (overrides tokenization on both sides)" })
      .option("gen", { type: "number", description: "Greedy decode steps after the prompt (KV-cache path; default 0, or a saved trace's count)" })
      .option("engine-a", { choices: ["rosetta", "llama.cpp"] as const, description: "Run side A's model with this engine (default rosetta)" })
      .option("engine-b", { choices: ["rosetta", "llama.cpp"] as const, description: "Run side B's model with this engine (default rosetta)" })
      .option("numerics-a", { choices: ["ggml", "exact"] as const, description: "rosetta numerics mode for side A (default ggml)" })
      .option("numerics-b", { choices: ["ggml", "exact"] as const, description: "rosetta numerics mode for side B (default ggml)" })
      .option("threshold", {
        type: "string",
        description: `Max energy NMSE sum(a-b)^2/sum(b^2) per point (default ${DEFAULT_THRESHOLD}, loosened by the pair's measured band; given explicitly it is the bound, no band applies: docs/tolerances.md)`,
      })
      .option("assert-match", { type: "boolean", description: "Exit 1 unless every compared point matches on full tensors (or drifts within its band)" })
      .option("accept-summaries", { type: "boolean", description: "With --assert-match: accept points whose summaries agree but that had no full tensors (still reported as not verified)" })
      .option("json", { type: "string", description: "Write the JSON report to FILE ('-': stdout instead of the text)" })
      .option("junit", { type: "string", description: "Write a JUnit XML report to FILE (one test case per point); - for standard output" })
      .option("html", { type: "string", description: "Write a self-contained HTML report to FILE (heatmap of layers x points, per-token errors, weight and config diff; docs/report.md); - for standard output" })
      .option("full", { type: "string", array: true, description: "Point keys captured as full tensors (globs; default every point, kq_softmax while it is under 4M elements per side)" })
      .option("weights", { type: "boolean", default: true, description: "Weight-level diff when both sides are model files (--no-weights to skip)" })
      .option("teacher", { choices: ["a", "b", "none"] as const, default: "b", description: "With --gen: whose generated tokens both sides consume at the decode steps (teacher forcing; default b, the reference), so the comparison continues past a flip of the top token; none: each side its own" })
      .option("experiments", { type: "boolean", default: true, description: "Test the findings by counterfactual reruns (tensors/config keys taken from the other file) and search a minimal explaining set (--no-experiments to skip)" })
      .option("accept-weight-differences", { type: "boolean", default: false, description: "Weights of one type whose bytes differ are findings that fail --assert-match; with this flag the ones that do not explain the diagnosis are informational" })
      .option("threads", { type: "number", description: "Threads per engine" })
      .check((a) => {
        if (a.prompt !== undefined && a.tokens !== undefined) throw new InputError("give --prompt or --tokens, not both");
        parseThreshold(a.threshold);
        if (a.gen !== undefined && (!Number.isInteger(a.gen) || a.gen < 0)) throw new InputError(`--gen must be a non-negative integer`);
        if (a.threads !== undefined && (!Number.isInteger(a.threads) || a.threads < 1 || a.threads > 256)) throw new InputError(`--threads must be an integer from 1 to 256 (got ${a.threads})`);
        return true;
      })
      .example('rosetta model.apr model.gguf --prompt "2+2="', "APR vs GGUF on rosetta's engine")
      .example('rosetta model.gguf model.gguf --engine-b llama.cpp -p "Hello" --assert-match', "rosetta vs real llama.cpp, CI gate")
      .example("rosetta mine.trace.json ref.trace.json --json report.json --junit report.xml", "two saved traces")
      .example('rosetta ./hf-model model.gguf -p "Hello"', "a Hugging Face folder vs its GGUF conversion (docs/hf-checkpoints.md)"),
  handler: async (args) => {
    checkReportPaths(args);
    const r = await runComparison({
      a: { path: args.a, engine: args["engine-a"], numerics: args["numerics-a"] },
      b: { path: args.b, engine: args["engine-b"], numerics: args["numerics-b"] },
      prompt: args.prompt,
      tokens: parseTokens(args.tokens),
      gen: args.gen,
      threshold: parseThreshold(args.threshold),
      full: args.full,
      weights: args.weights,
      experiments: args.experiments as boolean | undefined,
      teacher: args.teacher as "a" | "b" | "none" | undefined,
      acceptWeightDifferences: args["accept-weight-differences"] as boolean | undefined,
      threads: args.threads,
    });
    process.exitCode = emitReports(r, { json: args.json, junit: args.junit, html: args.html, verbose: args.verbose, assertMatch: args["assert-match"], acceptSummaries: args["accept-summaries"] });
  },
};
