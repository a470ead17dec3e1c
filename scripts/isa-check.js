#!/usr/bin/env node
// `npm run check:isa`: builds bench/isa-check.cc against the kernel library of the last native build
// (build/librosetta_kernels.a) into build/isa-check, a static binary, and runs it: every ISA path this
// CPU has against the scalar reference, bit for bit (see the file). Copy build/isa-check to another
// machine to check the paths there.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const build = path.resolve(root, process.env.ROSETTA_BUILD_DIR ?? "build");
const lib = path.join(build, "librosetta_kernels.a");
if (!existsSync(lib)) {
  console.error(`check:isa: ${lib} is missing: run \`npm run build:native\` first`);
  process.exit(2);
}
const exe = path.join(build, "isa-check");
const cc = spawnSync("g++", ["-O2", "-std=c++17", "-static", `-I${path.join(root, "kernels/include")}`, path.join(root, "bench/isa-check.cc"), lib, "-lpthread", "-o", exe], { stdio: "inherit" });
if (cc.status !== 0) process.exit(cc.status ?? 1);
const r = spawnSync(exe, [], { stdio: "inherit" });
process.exit(r.status ?? 1);
