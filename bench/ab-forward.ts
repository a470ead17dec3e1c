/**
 * `npm run bench:ab-forward -- BASE MODEL [prefill|decode] [N] [ROUNDS] [THREADS]`: the TypeScript
 * forward pass of git revision BASE against the working tree's, in one process, on this tree's native
 * addon (so it measures changes to src/, not to kernels/: for those, `npm run bench:matmul` or two
 * builds). BASE is checked out into a temporary git worktree and compiled there; both engines open
 * MODEL; each round runs both sides, the order flipping every round: prefill N tokens (a fresh state)
 * or N decode steps after a 7-token prompt (default decode 16, 10 rounds, 2 threads). Prints each
 * side's median ms and the median of the rounds' own ratios (base / tree, > 1: the tree is faster):
 * this VM's speed flips between modes every few seconds, and sides run seconds apart in separate
 * processes see different modes. A benchmark, never a test.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import type { Engine as EngineClass } from "../src/model/engine.js";
import type { forward as forwardFn } from "../src/model/forward.js";

const USAGE = "usage: npm run bench:ab-forward -- BASE MODEL [prefill|decode] [N] [ROUNDS] [THREADS]";

interface Side { name: string; engine: EngineClass; forward: typeof forwardFn }

async function main(): Promise<void> {
  const [base, model, kind = "decode", nArg = "16", roundsArg = "10", threadsArg = "2"] = process.argv.slice(2);
  const n = Number(nArg), rounds = Number(roundsArg), threads = Number(threadsArg);
  if (!base || !model || (kind !== "prefill" && kind !== "decode") || !(n >= 1) || !(rounds >= 1) || !(threads >= 1)) {
    console.error(USAGE);
    process.exit(2);
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  // both sides load this tree's native addon
  process.env.ROSETTA_BUILD_DIR = path.resolve(root, process.env.ROSETTA_BUILD_DIR ?? "build");
  const wt = mkdtempSync(path.join(os.tmpdir(), "rosetta-ab-"));
  rmSync(wt, { recursive: true });
  execFileSync("git", ["worktree", "add", "--detach", wt, base], { cwd: root, stdio: "ignore" });
  try {
    symlinkSync(path.join(root, "node_modules"), path.join(wt, "node_modules"));
    console.log(`[ab-forward] compiling ${base} in ${wt}`);
    execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: wt, stdio: "inherit" });
    const sides: Side[] = [];
    for (const [name, dist] of [[base, path.join(wt, "dist")], ["tree", path.join(root, "dist")]]) {
      const { Engine } = (await import(pathToFileURL(path.join(dist, "src/model/engine.js")).href)) as typeof import("../src/model/engine.js");
      const { forward } = (await import(pathToFileURL(path.join(dist, "src/model/forward.js")).href)) as typeof import("../src/model/forward.js");
      sides.push({ name, engine: await Engine.open(model, { numerics: "ggml", threads }), forward });
    }
    const prompt = (len: number) => Array.from({ length: len }, (_, i) => 1 + ((i * 37) % 500));
    const once = ({ engine, forward }: Side): number => {
      const st = engine.newState(n + 16);
      if (kind === "prefill") {
        const t0 = performance.now();
        forward(engine.model, prompt(n), st, { logits: "last" });
        return performance.now() - t0;
      }
      forward(engine.model, prompt(7), st, { logits: "last" });
      const t0 = performance.now();
      for (let i = 0; i < n; i++) forward(engine.model, [100 + i], st, { logits: "last" });
      return performance.now() - t0;
    };
    once(sides[0]), once(sides[1]); // warm-up: page-in, first compilation
    const ms: number[][] = [[], []];
    for (let r = 0; r < rounds; r++) for (const i of r % 2 ? [1, 0] : [0, 1]) ms[i].push(once(sides[i]));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const ratio = median(ms[0].map((x, i) => x / ms[1][i]));
    console.log(
      `${path.basename(model)} ${kind} ${n}, ${threads} thread(s), ${rounds} rounds: ${base} ${median(ms[0]).toFixed(1)} ms, ` +
        `tree ${median(ms[1]).toFixed(1)} ms; median ratio ${base} / tree ${ratio.toFixed(3)}`,
    );
    for (const s of sides) s.engine.close();
  } finally {
    execFileSync("git", ["worktree", "remove", "--force", wt], { cwd: root, stdio: "ignore" });
  }
}

main().catch((e) => {
  console.error(`bench:ab-forward: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
});
