#!/usr/bin/env node
// `npm run parity:measure [-- --out DIR] [-- --tokens N]`: re-measures the basis of every parity band
// (src/parity/bands.ts, docs/parity.md). Stages the synthetic llama/qwen2/qwen3 fixtures in F32, F16,
// BF16, Q8_0, Q6_K, Q5_K (pure), Q5_1, Q4_0, Q4_1, Q4_K_M, Q3_K (pure) and Q2_K locally (real llama.cpp
// quantizer, no network; tests/parity/stage.ts MEASURE_FIXTURES), runs the full suite
// (10 prompts, 50 tokens, 200 on the long-generative ones) on them and on both shared models with every
// ISA path forced and both numerics modes, then prints `rosetta parity measure` over all results:
// per band and mode the largest top-k delta, KL and mean KL seen, beside the band in force.
// `--types Q5_K,Q2_K` measures only those fixture types (and skips the shared models unless --shared).
// Exit: 0 when every figure is within its band, 1 otherwise (the table marks it with "!"), 2 on setup errors.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";

import { opt, root } from "./lib/args.js";

const out = path.resolve(opt("--out") ?? "parity-measure");
const tokens = opt("--tokens");
const ALL_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K", "Q5_1", "Q4_0", "Q4_1", "Q4_K_M", "Q3_K", "Q2_K"];
const types = opt("--types")?.split(",") ?? ALL_TYPES;
const withShared = !opt("--types") || process.argv.includes("--shared");
const shared = path.resolve(root, "..", "shared", "models");
const fixtures = process.env.ROSETTA_PARITY_FIXTURES ?? path.join(root, "tests/fixtures/generated/parity");
mkdirSync(out, { recursive: true });

const run = (argv, env = {}) => spawnSync(process.execPath, argv, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } }).status ?? 3;
const t0 = performance.now();
if (run([path.join(root, "node_modules/vitest/vitest.mjs"), "run", "tests/parity/stage.test.ts"], { PARITY_STAGE: "measure" }) !== 0) {
  process.stderr.write("parity:measure: staging the synthetic fixtures failed\n");
  process.exit(2);
}
const groups = [];
for (const type of types)
  groups.push([`synthetic-${type}`, ["llama", "qwen2", "qwen3"].map((a) => path.join(fixtures, `synthetic-${a}-${type}.gguf`))]);
if (!withShared) process.stderr.write("parity:measure: --types given; the shared models are not measured (add --shared)\n");
else if (existsSync(shared)) {
  groups.push(["stories260K", [path.join(shared, "stories260K.gguf")]]);
  groups.push(["TinyLLama-v0-Q4_0", [path.join(shared, "TinyLLama-v0-Q4_0.gguf")]]);
} else process.stderr.write(`parity:measure: ${shared} is absent; the shared models are not measured\n`);

const results = [];
for (const [name, models] of groups) {
  const json = path.join(out, `${name}.json`);
  const cli = [path.join(root, "bin/rosetta.js"), "parity", ...models, "--isa", "all", "--numerics", "both", "--json", json];
  if (tokens) cli.push("--tokens", tokens);
  process.stderr.write(`parity:measure: ${name}\n`);
  const code = spawnSync(process.execPath, cli, { cwd: root, stdio: ["ignore", "ignore", "inherit"] }).status;
  // 1 only means some prompt failed its band: the figures are what is being measured.
  if (code !== 0 && code !== 1) process.exit(code ?? 3);
  results.push(json);
}
const code = run([path.join(root, "bin/rosetta.js"), "parity", "measure", ...results]);
process.stdout.write(`parity:measure: ${groups.length} groups in ${((performance.now() - t0) / 1000).toFixed(0)} s (results in ${out})\n`);
process.exit(code);
