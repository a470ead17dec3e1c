/**
 * `rosetta A B` (the default command): compare two sides layer by layer, name the first divergence and
 * diagnose it. Each side is a model file run by rosetta's engine, a model run by llama.cpp
 * (`--engine-a/--engine-b llama.cpp`), or a saved trace. Exit: 0 compared (and matched, under
 * --assert-match), 1 divergence / not comparable under --assert-match, 2 bad input, 3 internal error.
 */
import { existsSync, statSync } from "node:fs";

import type { CommandModule } from "yargs";

import { sniffFile } from "../../formats/index.js";

import { renderHtml } from "../../compare/report/html.js";
import { renderJson } from "../../compare/report/json.js";
import { renderJunit } from "../../compare/report/junit.js";
import { renderText, useColor } from "../../compare/report/text.js";
import { ARBITERS, ENGINE_NAMES, arbiterSpec, runComparison, type EngineName } from "../../pipeline/run-comparison.js";
import { DEFAULT_THRESHOLD } from "../../compare/tolerances.js";
import type { ComparisonResult } from "../../compare/result.js";
import type { Numerics } from "../../bindings/kernels.js";
import { EXIT, InputError } from "../../util/errors.js";
import { checkWritable, writeOutput } from "../output.js";
import { checkConditions, parseConditionsSpec, type RunConditions } from "../../reference/conditions.js";

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
  arbiter?: string;
  "arbiter-model"?: string;
  "device-a"?: string;
  "device-b"?: string;
  "gpu-layers-a"?: number;
  "gpu-layers-b"?: number;
  "conditions-a"?: string;
  "conditions-b"?: string;
  "untraced-check"?: boolean;
}

/** A llama.cpp side's run conditions from --device-X, --gpu-layers-X and --conditions-X (undefined: the reference path). */
export function sideConditions(args: Record<string, unknown>, side: "a" | "b"): RunConditions | undefined {
  const device = args[`device-${side}`] as string | undefined;
  const ngl = args[`gpu-layers-${side}`] as number | undefined;
  const spec = args[`conditions-${side}`] as string | undefined;
  if (device === undefined && ngl === undefined && spec === undefined) return undefined;
  if (args[`engine-${side}`] !== "llama.cpp") throw new InputError(`--device-${side}, --gpu-layers-${side} and --conditions-${side} set run conditions of llama.cpp: give --engine-${side} llama.cpp`);
  const c = spec !== undefined ? parseConditionsSpec(spec, `--conditions-${side}`) : {};
  return checkConditions({ ...c, ...(device !== undefined ? { device } : {}), ...(ngl !== undefined ? { gpuLayers: ngl } : {}) });
}

/** A side that is a saved trace (a JSON file or a dump rosetta imports), not a model to run. */
async function isTrace(p: string): Promise<boolean> {
  if (!existsSync(p) || statSync(p).isDirectory()) return false;
  const kind = await sniffFile(p);
  return kind !== "gguf" && kind !== "apr";
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
      .positional("a", { type: "string", demandOption: true, description: "side A: model file (GGUF/APR), Hugging Face folder (config.json + safetensors; run by rosetta, or by transformers with --engine-a transformers) or saved trace (JSON)" })
      .positional("b", { type: "string", demandOption: true, description: "side B, the reference: model file or saved trace" })
      .option("prompt", { alias: "p", type: "string", description: "Prompt (each side tokenizes it with its own tokenizer)" })
      .option("tokens", { type: "string", description: "Token ids, comma separated (overrides tokenization on both sides)" })
      .option("gen", { type: "number", description: "Greedy decode steps after the prompt (KV-cache path; default 0, or a saved trace's count)" })
      .option("engine-a", { choices: ENGINE_NAMES, description: "Run side A's model with this engine (default rosetta; transformers: a Hugging Face folder or a GGUF in PyTorch on the CPU, needs `npm run python:setup`)" })
      .option("engine-b", { choices: ENGINE_NAMES, description: "Run side B's model with this engine (default rosetta)" })
      .option("numerics-a", { choices: ["ggml", "exact"] as const, description: "rosetta numerics mode for side A (default ggml; an error with another --engine-a, a warning for a saved trace)" })
      .option("numerics-b", { choices: ["ggml", "exact"] as const, description: "rosetta numerics mode for side B (default ggml; an error with another --engine-b, a warning for a saved trace)" })
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
      .option("arbiter", {
        type: "string",
        description: `A third side compared with both; the report says per point which of A and B is closer to it: ${Object.keys(ARBITERS).join(", ")} (run --arbiter-model, default B's model, with that engine: transformers in float32, rosetta with exact numerics) or a saved trace / model file (docs/transformers-engine.md, "The arbiter")`,
      })
      .option("arbiter-model", { type: "string", description: "The model a named --arbiter runs (default side B's model file or folder, else side A's)" })
      .option("device-a", { type: "string", description: "llama.cpp side A's device: cpu (default), vulkan or vulkan:N (needs @node-llama-cpp/linux-x64-vulkan and a Vulkan driver; llvmpipe with GGML_VK_VISIBLE_DEVICES=0: docs/conditions.md)" })
      .option("device-b", { type: "string", description: "llama.cpp side B's device (as --device-a)" })
      .option("gpu-layers-a", { type: "number", description: "Layers of side A offloaded to its device (default all, -1)" })
      .option("gpu-layers-b", { type: "number", description: "Layers of side B offloaded to its device (default all, -1)" })
      .option("conditions-a", { type: "string", description: "llama.cpp side A's run conditions: 'fa=on kv=q8_0 batch=N ubatch=N threads=N device=vulkan gpu-layers=N' (default: CPU, flash attention off, F32 K/V, the prompt as one ubatch)" })
      .option("conditions-b", { type: "string", description: "llama.cpp side B's run conditions (as --conditions-a)" })
      .option("untraced-check", { type: "boolean", default: true, description: "Run every llama.cpp side once more untraced and report whether tracing changed its logits (--no-untraced-check to skip)" })
      .check((a) => {
        if (a.prompt !== undefined && a.tokens !== undefined) throw new InputError("give --prompt or --tokens, not both");
        parseThreshold(a.threshold);
        if (a.gen !== undefined && (!Number.isInteger(a.gen) || a.gen < 0)) throw new InputError(`--gen must be a non-negative integer`);
        if (a.threads !== undefined && (!Number.isInteger(a.threads) || a.threads < 1 || a.threads > 256)) throw new InputError(`--threads must be an integer from 1 to 256 (got ${a.threads})`);
        for (const side of ["a", "b"] as const) {
          // numerics modes are rosetta's engine's; llama.cpp computes with its own CPU backend
          const eng = a[`engine-${side}`];
          if (eng !== undefined && eng !== "rosetta" && a[`numerics-${side}`] !== undefined)
            throw new InputError(`--numerics-${side} applies to rosetta's engine, but side ${side.toUpperCase()} runs on ${eng} (--engine-${side} ${eng}), which computes in its own way`);
        }
        sideConditions(a, "a");
        sideConditions(a, "b");
        return true;
      })
      .example('rosetta model.apr model.gguf --prompt "2+2="', "APR vs GGUF on rosetta's engine")
      .example('rosetta model.gguf model.gguf --engine-b llama.cpp -p "Hello" --assert-match', "rosetta vs real llama.cpp, CI gate")
      .example('GGML_VK_VISIBLE_DEVICES=0 rosetta m.gguf m.gguf --engine-a llama.cpp --device-a vulkan --engine-b llama.cpp -p "Hello" --arbiter rosetta-exact', "llama.cpp on Vulkan vs on the CPU; a third run says who is closer")
      .example("rosetta mine.trace.json ref.trace.json --json report.json --junit report.xml", "two saved traces")
      .example("rosetta model.gguf model.gguf --engine-b llama.cpp --tokens 1,2,3 --arbiter transformers", "which of rosetta and llama.cpp is closer to transformers (float32) at every point")
      .example('rosetta ./hf-model model.gguf -p "Hello"', "a Hugging Face folder vs its GGUF conversion (docs/hf-checkpoints.md)"),
  handler: async (args) => {
    checkReportPaths(args);
    if (args["arbiter-model"] !== undefined && args.arbiter === undefined) throw new InputError("--arbiter-model names the model of a named --arbiter: give --arbiter too");
    const modelOf = async (p: string, engine?: string) => (engine || !(await isTrace(p)) ? p : undefined);
    const arbiter = args.arbiter !== undefined ? arbiterSpec(args.arbiter, args["arbiter-model"] ?? (await modelOf(args.b, args["engine-b"])) ?? (await modelOf(args.a, args["engine-a"]))) : undefined;
    const r = await runComparison({
      a: { path: args.a, engine: args["engine-a"], numerics: args["numerics-a"], conditions: sideConditions(args, "a") },
      b: { path: args.b, engine: args["engine-b"], numerics: args["numerics-b"], conditions: sideConditions(args, "b") },
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
      arbiter,
      untracedCheck: args["untraced-check"],
    });
    process.exitCode = emitReports(r, { json: args.json, junit: args.junit, html: args.html, verbose: args.verbose, assertMatch: args["assert-match"], acceptSummaries: args["accept-summaries"] });
  },
};
