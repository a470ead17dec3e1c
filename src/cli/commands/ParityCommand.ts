/**
 * `rosetta parity <model.gguf>...`: top-k logit parity against real llama.cpp over the frozen prompt
 * suite (docs/parity.md), and `rosetta parity merge <results.json>...` to join shard results.
 * `rosetta parity measure <results.json>...` prints the measured basis of the bands (docs/parity.md).
 * Exit 0 all pass, 1 any failure, 2 bad input or a pin mismatch (before anything is compared).
 */
import os from "node:os";
import path from "node:path";

import type { CommandModule } from "yargs";

import { defaultManifestPath, loadManifest, resolveModelPath, type Manifest } from "../../parity/manifest.js";
import { renderParityHtml } from "../../parity/html.js";
import { detailLines, isaTable, junit, summaryTable, verdictLine } from "../../parity/report.js";
import { runParity, type ModelTarget } from "../../parity/runner.js";
import { measureRows, measureTable, overBand } from "../../parity/measure.js";
import { mergeRuns, parseShard, readRun, runToJson } from "../../parity/shard.js";
import { loadSuite } from "../../parity/suite.js";
import type { IsaName, Numerics, ParityRunResult } from "../../parity/types.js";
import { resolveFixture } from "../../parity/fixtures.js";
import { EXIT, InputError } from "../../util/errors.js";
import { checkWritable, writeOutput } from "../output.js";

export interface ParityArgs {
  models?: string[];
  suite?: string;
  tokens?: number;
  top: number;
  junit?: string;
  json?: string;
  html?: string;
  shard?: string;
  isa?: string;
  numerics?: string;
  gate?: string;
  manifest?: string;
  threads?: number;
  prompts?: string;
  reference?: string;
}

function isaList(s: string | undefined): IsaName[] {
  if (!s) return [];
  if (s === "all") return ["scalar", "avx2", "avx512"];
  const out = s.split(",").map((x) => x.trim());
  for (const x of out) if (!["scalar", "avx2", "avx512"].includes(x)) throw new InputError(`--isa: unknown path '${x}' (scalar, avx2, avx512 or all)`);
  return out as IsaName[];
}

function numericsList(s: string | undefined, m: Manifest | null): Numerics[] {
  if (!s) return m?.rosetta.numerics ?? ["ggml"];
  const out = s === "both" ? ["ggml", "exact"] : s.split(",").map((x) => x.trim());
  for (const x of out) if (x !== "ggml" && x !== "exact") throw new InputError(`--numerics: '${x}' is not ggml, exact or both`);
  return out as Numerics[];
}

/**
 * Modes that decide the exit code. Default: ggml (the default mode, the one that claims llama.cpp's
 * numerics) when it runs, else every requested mode; `all` gates every requested mode.
 */
function gateList(s: string | undefined, numerics: Numerics[]): Numerics[] {
  if (!s) return numerics.includes("ggml") ? ["ggml"] : numerics;
  if (s === "all" || s === "both") return numerics;
  const out = s.split(",").map((x) => x.trim());
  for (const x of out) if (!numerics.includes(x as Numerics)) throw new InputError(`--gate: '${x}' is not one of the modes being run (${numerics.join(", ")})`);
  return out as Numerics[];
}

/** Positional models run as given; with --manifest they must be listed there (by name or path) and are pinned. */
async function targets(models: string[], m: Manifest | null): Promise<ModelTarget[]> {
  if (!m) {
    if (models.length === 0) throw new InputError("give at least one model file, or --manifest FILE");
    return models.map((p) => ({ name: path.basename(p), path: p }));
  }
  const pick = models.length === 0 ? m.models : models.map((q) => {
    const hit = m.models.find((e) => e.name === q || (e.path && resolveModelPath(e.path) === path.resolve(q)));
    if (!hit) throw new InputError(`${q} is not listed in the manifest ${m.file}`);
    return hit;
  });
  const out: ModelTarget[] = [];
  for (const e of pick) out.push({ name: e.name, path: e.path ? resolveModelPath(e.path) : await resolveFixture(e.fixture!), pinned: e });
  return out;
}

function promptList(s: string | undefined): number[] | undefined {
  if (!s) return undefined;
  return s.split(",").map((x) => {
    const n = Number(x);
    if (!Number.isSafeInteger(n) || n < 0) throw new InputError(`--prompts: '${x}' is not a prompt index`);
    return n;
  });
}

export function printRun(run: ParityRunResult, files: { junit?: string; json?: string; html?: string }): number {
  const lines = detailLines(run.results, run);
  if (lines.length) process.stdout.write(lines.join("\n") + "\n\n");
  if (run.results.length) process.stdout.write(summaryTable(run.results) + "\n\n");
  if (run.isa.length > 1) process.stdout.write("ISA paths side by side:\n" + isaTable(run) + "\n\n");
  for (const s of run.skipped) process.stdout.write(`PARITY-NOT-RUN case=${s.case} reason="${s.reason}"\n`);
  process.stdout.write(verdictLine(run) + "\n");
  if (files.junit) writeOutput(files.junit, junit(run), "--junit");
  if (files.json) writeOutput(files.json, runToJson(run), "--json");
  if (files.html) writeOutput(files.html, renderParityHtml(run), "--html");
  return run.passed ? EXIT.OK : EXIT.DIVERGENCE;
}

function checkOutputs(a: { junit?: string; json?: string; html?: string }): void {
  if (a.junit) checkWritable(a.junit, "--junit");
  if (a.html) checkWritable(a.html, "--html");
  if (a.json) checkWritable(a.json, "--json");
}

async function runHandler(a: ParityArgs): Promise<void> {
  checkOutputs(a);
  const manifest = a.manifest ? loadManifest(a.manifest === "default" ? defaultManifestPath() : a.manifest) : null;
  const suite = loadSuite(a.suite ?? (manifest ? resolveModelPath(manifest.suite.path) : undefined));
  if (a.tokens !== undefined && (!Number.isSafeInteger(a.tokens) || a.tokens < 1)) throw new InputError("--tokens must be a positive integer");
  if (!Number.isSafeInteger(a.top) || a.top < 1) throw new InputError("--top must be a positive integer");
  const models = await targets(a.models ?? [], manifest);
  if (a.reference) {
    if (models.length !== 1) throw new InputError("--reference needs exactly one model (the one rosetta runs)");
    models[0].refPath = a.reference;
  }
  const numerics = numericsList(a.numerics, manifest);
  const gate = gateList(a.gate, numerics);
  const t0 = performance.now();
  const run = await runParity({
    models,
    suite,
    tokens: a.tokens ?? manifest?.rosetta.tokens ?? undefined,
    top: a.top,
    numerics,
    gate,
    isa: isaList(a.isa),
    shard: a.shard ? parseShard(a.shard) : null,
    manifest,
    threads: a.threads ?? os.availableParallelism(),
    prompts: promptList(a.prompts),
    log: (l) => process.stderr.write(l + "\n"),
  });
  process.exitCode = printRun(run, a);
  process.stdout.write(`time: ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
}

const mergeCommand: CommandModule<object, { results: string[]; junit?: string; json?: string; html?: string }> = {
  command: "merge <results..>",
  describe: "Join shard JSON results into one report and exit code",
  builder: (y) =>
    y
      .positional("results", { type: "string", array: true, demandOption: true })
      .option("junit", { type: "string", description: "Write JUnit XML here" })
      .option("json", { type: "string", description: "Write the merged JSON here" })
      .option("html", { type: "string", description: "Write a self-contained HTML report here (docs/report.md)" }),
  handler: async (a) => {
    checkOutputs(a);
    const run = mergeRuns(a.results.map(readRun), a.results);
    process.exitCode = printRun(run, a);
  },
};

const measureCommand: CommandModule<object, { results: string[] }> = {
  command: "measure <results..>",
  describe: "Print the measured basis of the bands (largest delta/KL per band and mode) from JSON results",
  builder: (y) => y.positional("results", { type: "string", array: true, demandOption: true }),
  handler: async (a) => {
    const rows = measureRows(a.results.map(readRun));
    process.stdout.write(measureTable(rows) + "\n");
    process.exitCode = overBand(rows).length ? EXIT.DIVERGENCE : EXIT.OK;
  },
};

const runCommand: CommandModule<object, ParityArgs> = {
  command: "$0 [models..]",
  describe: "Run the parity suite on models",
  builder: (y) =>
    y
      .positional("models", { type: "string", array: true, description: "GGUF model files (or names from --manifest); an APR file with --reference ORIGINAL.gguf" })
      .option("suite", { type: "string", description: "Prompt suite JSON (default parity/suite.json)" })
      .option("tokens", { type: "number", description: "Greedy tokens per prompt (default 50; the long-generative prompts 200)" })
      .option("top", { type: "number", default: 5, description: "Top-k ids compared per position" })
      .option("junit", { type: "string", description: "Write JUnit XML here" })
      .option("json", { type: "string", description: "Write the JSON results here (for `rosetta parity merge`)" })
      .option("html", { type: "string", description: "Write a self-contained HTML report here: per prompt top-1 agreement, top-k overlap, logit deltas, failing rows first (docs/report.md)" })
      .option("shard", { type: "string", description: "Run shard K of N of the (model, quant, prompt) cases, e.g. 2/4" })
      .option("isa", { type: "string", description: "Force kernel paths side by side: scalar, avx2, avx512 (comma list) or all" })
      .option("numerics", { type: "string", description: "rosetta numerics: ggml, exact or both (default ggml)" })
      .option("gate", { type: "string", description: "Modes that decide the exit code: ggml, exact or all (default ggml when it runs); the others are reported" })
      .option("manifest", { type: "string", description: "Pinned manifest: verify every hash and version first (exit 2 on mismatch)" })
      .option("threads", { type: "number", description: "rosetta threads (default: cores); llama.cpp is pinned to 1" })
      .option("prompts", { type: "string", description: "Only these prompt indices (comma list)" })
      .option("reference", { type: "string", description: "Model file llama.cpp runs (default: the same file), e.g. the original of a converted model; required for an APR model (same tensor types)" })
      .example("rosetta parity model.gguf", "10 prompts x 50 tokens, top-5")
      .example("rosetta parity --manifest tests/fixtures/parity-manifest.json --shard 1/4 --json r1.json", "one CI shard")
      .epilogue("Exit codes: 0 every gated case within its band, 1 a parity failure, 2 bad input or usage, 3 internal error."),
  handler: runHandler,
};

export const parityCommand: CommandModule<object, ParityArgs> = {
  command: "parity",
  describe: "Top-k logit parity against llama.cpp over a frozen prompt suite",
  builder: (y) => y.command(mergeCommand).command(measureCommand).command(runCommand) as never,
  handler: () => {},
};
