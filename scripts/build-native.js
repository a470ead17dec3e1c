#!/usr/bin/env node
// Builds the native addons with cmake-js and the machine's cmake and g++ (run by `npm install`).
// Downloads nothing: N-API headers come from the node-api-headers npm package (binary.napi_versions).
// ROSETTA_BUILD_DIR picks another build folder (default: build/), e.g. for parallel work trees.
// ROSETTA_SANITIZE=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer (cmake/sanitize.cmake;
// `npm run build:asan` does it into build-asan/, `npm run test:asan` runs the native-heavy tests on it).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const out = path.resolve(root, process.env.ROSETTA_BUILD_DIR ?? "build");
const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
const args = [cmakeJs, "build", "--out", out, "--parallel", jobs, "--log-level", "warn"];
if (process.env.ROSETTA_SANITIZE === "1") args.push("--CDROSETTA_SANITIZE=ON");
const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
if (r.status !== 0) {
  console.error(
    `rosetta: the native build failed (exit ${r.status}). It needs cmake >= 3.18 and a C++17 compiler (g++ or clang) ` +
      `on PATH; rerun with \`npm run build:native\` to see the full output.`,
  );
  process.exit(r.status ?? 1);
}
