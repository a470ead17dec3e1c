#!/usr/bin/env node
// Regenerates the committed reference traces (traces/*.json) from real llama.cpp: runs the staleness test
// in write mode (vitest runs the TypeScript directly). Review the diff before committing.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const vitest = path.join(root, "node_modules/vitest/vitest.mjs");
const r = spawnSync(process.execPath, [vitest, "run", "tests/reference/traces.test.ts"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, ROSETTA_REGEN_TRACES: "1" },
});
process.exit(r.status ?? 1);
