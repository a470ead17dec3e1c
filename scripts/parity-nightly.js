#!/usr/bin/env node
// `npm run parity:nightly [-- --shard K/N] [-- --out DIR] [-- --gate ggml|exact|all]`: the nightly parity
// run over every model in tests/fixtures/parity-manifest.json, with weights pre-staged on disk (no network).
// Synthetic fixtures are (re)made locally by the real llama.cpp quantizer first; the manifest's sha256 pins
// then prove they are the recorded ones. Both numerics modes run (the manifest's list); ggml, the default
// mode, decides the exit code and exact mode is reported beside it (`--gate` changes that). Writes
// parity-<shard>.json (for `rosetta parity merge`) and JUnit XML to --out.
// Exit code: that of `rosetta parity` (0 pass, 1 fail, 2 pin mismatch or bad input).
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { opt, root } from "./lib/args.js";

const shard = opt("--shard");
const out = path.resolve(opt("--out") ?? "parity-results");
const manifest = opt("--manifest") ?? path.join(root, "tests/fixtures/parity-manifest.json");
mkdirSync(out, { recursive: true });

const run = (cmd, argv, env = {}) => spawnSync(cmd, argv, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } }).status ?? 3;

if (run(process.execPath, [path.join(root, "node_modules/vitest/vitest.mjs"), "run", "tests/parity/stage.test.ts"], { PARITY_STAGE: "1" }) !== 0) {
  process.stderr.write("parity:nightly: staging the synthetic fixtures failed\n");
  process.exit(2);
}
const tag = shard ? shard.replace("/", "-of-") : "all";
const cli = [path.join(root, "bin/rosetta.js"), "parity", "--manifest", manifest, "--isa", "all",
  "--json", path.join(out, `parity-${tag}.json`), "--junit", path.join(out, `parity-${tag}.xml`)];
if (shard) cli.push("--shard", shard);
if (opt("--gate")) cli.push("--gate", opt("--gate"));
process.exit(run(process.execPath, cli));
