/**
 * `npm run bench:ab-builds -- BUILD_A BUILD_B MODEL [prefill|decode] [N] [ROUNDS] [THREADS]`: the same
 * forward pass on two native builds (two build folders, each with Release/rosetta.node, as
 * `ROSETTA_BUILD_DIR=DIR npm run build:native` makes them), for changes to kernels/ that move a whole
 * model's time rather than one matmul's (bench:matmul; changes to src/: bench:ab-forward). Each round
 * starts one process per build (the addon is process-wide), A and B in an order that flips every round;
 * a process opens MODEL and runs prefill of N tokens (a fresh state each time) or N decode steps after a
 * 7-token prompt, 5 times, and reports its median. Prints each build's median over the rounds and the
 * median of the rounds' own ratios (A / B, > 1: B is faster): this VM's speed flips between modes every
 * few seconds, so only the alternation and the per-round ratio are worth reading. A benchmark, never a test.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const USAGE = "usage: npm run bench:ab-builds -- BUILD_A BUILD_B MODEL [prefill|decode] [N] [ROUNDS] [THREADS]";
const REPS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function child(model: string, kind: string, n: number, threads: number): Promise<void> {
  const { Engine } = await import("../src/model/engine.js");
  const { forward } = await import("../src/model/forward.js");
  const e = await Engine.open(model, { numerics: "ggml", threads });
  const prompt = (k: number) => Array.from({ length: k }, (_, i) => 1 + ((i * 37) % 500));
  const times: number[] = [];
  for (let r = 0; r <= REPS; r++) {  // the first run pages the weights in and is not counted
    const st = e.newState(n + 16);
    let t0 = performance.now();
    if (kind === "prefill") forward(e.model, prompt(n), st, { logits: "last" });
    else {
      forward(e.model, prompt(7), st, { logits: "last" });
      t0 = performance.now();
      for (let i = 0; i < n; i++) forward(e.model, [100 + i], st, { logits: "last" });
    }
    if (r > 0) times.push(performance.now() - t0);
  }
  e.close();
  process.stdout.write(`${median(times)}\n`);
}

function main(): void {
  const [a, b, model, kind = "prefill", nArg = "64", roundsArg = "8", threadsArg = "1"] = process.argv.slice(2);
  const n = Number(nArg), rounds = Number(roundsArg), threads = Number(threadsArg);
  if (!a || !b || !model || (kind !== "prefill" && kind !== "decode") || !(n >= 1) || !(rounds >= 1) || !(threads >= 1)) {
    console.error(USAGE);
    process.exit(2);
  }
  for (const dir of [a, b]) {
    if (!existsSync(path.join(dir, "Release", "rosetta.node"))) {
      console.error(`bench:ab-builds: ${dir}/Release/rosetta.node is missing: build it with ROSETTA_BUILD_DIR=${dir} npm run build:native`);
      process.exit(2);
    }
  }
  if (!existsSync(model)) {
    console.error(`bench:ab-builds: ${model}: no such file`);
    process.exit(2);
  }
  const self = fileURLToPath(import.meta.url);
  const run = (dir: string) =>
    Number(execFileSync(process.execPath, [self, "--child", model, kind, String(n), String(threads)], {
      env: { ...process.env, ROSETTA_BUILD_DIR: path.resolve(dir) },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim());
  const ta: number[] = [], tb: number[] = [], ratio: number[] = [];
  console.log(`ab-builds: ${path.basename(model)}, ${kind} ${n}, ${threads} thread(s), ${rounds} rounds of one process per build (median of ${REPS} runs each)`);
  for (let i = 0; i < rounds; i++) {
    let x: number, y: number;
    if (i % 2 === 0) (x = run(a)), (y = run(b));
    else (y = run(b)), (x = run(a));
    ta.push(x), tb.push(y), ratio.push(x / y);
    console.log(`round ${i + 1}: A ${x.toFixed(1)} ms, B ${y.toFixed(1)} ms, A/B ${(x / y).toFixed(3)}`);
  }
  console.log(`A ${a}: median ${median(ta).toFixed(1)} ms; B ${b}: median ${median(tb).toFixed(1)} ms; median ratio A/B ${median(ratio).toFixed(3)} (> 1: B faster)`);
}

if (process.argv[2] === "--child") {
  const [, , , model, kind, n, threads] = process.argv;
  child(model, kind, Number(n), Number(threads)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main();
}
