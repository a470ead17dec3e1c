#!/usr/bin/env node
// `npm run bench:matmul [-- TYPE ROWS COLS TOKENS THREADS [REPS]]`: builds bench/matmul.cc against the
// kernel library of the last native build (build/librosetta_kernels.a, `npm install` or `npm run
// build:native` makes it) and runs it; with no arguments, the shapes docs/engine.md quotes (a 8960 x 1536
// matrix, as Qwen2.5-1.5B's ffn_up, times 64 tokens and times 1, in Q4_K, Q6_K and Q8_0, 1 and 2 threads).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const build = path.resolve(root, process.env.ROSETTA_BUILD_DIR ?? "build");
const lib = path.join(build, "librosetta_kernels.a");
if (!existsSync(lib)) {
  console.error(`bench:matmul: ${lib} is missing: run \`npm run build:native\` first`);
  process.exit(2);
}
const exe = path.join(build, "bench-matmul");
mkdirSync(build, { recursive: true });
const cc = spawnSync("g++", ["-O2", "-std=c++17", `-I${path.join(root, "kernels/include")}`, path.join(root, "bench/matmul.cc"), lib, "-lpthread", "-o", exe], { stdio: "inherit" });
if (cc.status !== 0) process.exit(cc.status ?? 1);
const args = process.argv.slice(2);
const runs = args.length ? [args] : ["q4_K", "q6_K", "q8_0"].flatMap((t) => ["64", "1"].flatMap((tok) => ["1", "2"].map((th) => [t, "8960", "1536", tok, th])));
for (const a of runs) {
  const r = spawnSync(exe, a, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
