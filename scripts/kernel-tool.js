// Shared by the kernel tools (scripts/bench-matmul.js, scripts/isa-check.js): builds bench/<name>.cc
// against the kernel library of the last native build (build/librosetta_kernels.a; ROSETTA_BUILD_DIR
// picks another folder) into build/<name>, then runs it with `args` and exits with its status.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export function buildKernelTool(name, { staticLink = false } = {}) {
  const build = path.resolve(root, process.env.ROSETTA_BUILD_DIR ?? "build");
  const lib = path.join(build, "librosetta_kernels.a");
  if (!existsSync(lib)) {
    console.error(`${name}: ${lib} is missing: run \`npm run build:native\` first`);
    process.exit(2);
  }
  const exe = path.join(build, name);
  const flags = ["-O2", "-std=c++17", ...(staticLink ? ["-static"] : []), `-I${path.join(root, "kernels/include")}`];
  const cc = spawnSync("g++", [...flags, path.join(root, "bench", `${name}.cc`), lib, "-lpthread", "-o", exe], { stdio: "inherit" });
  if (cc.status !== 0) process.exit(cc.status ?? 1);
  return exe;
}

/** Runs the tool; exits the process on a failure. */
export function runKernelTool(exe, args) {
  const r = spawnSync(exe, args, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
