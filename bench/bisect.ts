/**
 * `npm run bench:bisect`: how long one `take` of `rosetta bisect` costs on a real-size pair. The pair is
 * bench:compare's synthetic qwen2 model (Qwen2.5-1.5B dimensions, 28 layers, Q4_K_M;
 * bench/compare-model.ts, cached in tests/fixtures/generated/) and a GGUF copy of it with layer 20's
 * ffn_gate and ffn_up exchanged (`swap-gate-up@20`). The session is opened once in-process (load, both
 * runs, comparison, the comparison's own experiments: timed as "open"); then the transplant of the two
 * tensors, which reruns layers 20..27 from A's captured input to layer 20, is timed BENCH_REPS times
 * (default 5) through the session (`reset`, `take blk.20.ffn_gate blk.20.ffn_up`), and must make every
 * point match. BENCH_MODEL=FILE uses that GGUF instead of the cached one. A benchmark, never a test.
 */
import { existsSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";

import { injectDefect, parseDefect } from "../src/convert/defects.js";
import { readGgufIr } from "../src/convert/ir.js";
import { writeIrGguf } from "../src/convert/to-apr.js";
import { BisectSession } from "../src/pipeline/bisect.js";
import { openComparison } from "../src/pipeline/run-comparison.js";
import { benchModelPath, getBenchModel } from "./compare-model.js";

const REPS = Number(process.env.BENCH_REPS ?? 5);
const LAYER = 20;
const DEFECT = `swap-gate-up@${LAYER}`;
const PROMPT = "Once upon a time";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const log = (s: string) => console.log(`[bench:bisect] ${s}`);
  const gguf = process.env.BENCH_MODEL ?? (await getBenchModel(log));
  // the defect copy is written beside the cached model of this checkout (never beside BENCH_MODEL)
  const bad = benchModelPath().replace(/\.gguf$/, `-${DEFECT.replace(/[^a-z0-9]/gi, "_")}.gguf`);
  if (!existsSync(bad)) {
    log(`writing ${bad} (${DEFECT})`);
    const ir = await readGgufIr(gguf);
    injectDefect(ir, parseDefect(DEFECT), "gguf");
    writeIrGguf(ir, bad);
  }
  let t = performance.now();
  const s = await openComparison({ a: { path: bad }, b: { path: gguf }, prompt: PROMPT });
  const open = performance.now() - t;
  let text = "";
  const session = new BisectSession(s, (x) => void (text += x));
  try {
    session.overview();
    log(`open (load, both runs, compare, the comparison's experiments): ${(open / 1000).toFixed(2)} s`);
    process.stdout.write(text.split("\n").filter((l) => l).map((l) => `    ${l}\n`).join(""));
    if (!session.lab) throw new Error("no lab: the pair did not diverge or cannot be rerun");
    const keys = [`blk.${LAYER}.ffn_gate`, `blk.${LAYER}.ffn_up`];
    const times: number[] = [];
    for (let i = 0; i < REPS; i++) {
      await session.exec("reset");
      text = "";
      t = performance.now();
      await session.exec(`take ${keys.join(" ")}`);
      const ms = performance.now() - t;
      times.push(ms);
      const line = text.split("\n").find((l) => l.startsWith("first divergence before"));
      log(`take ${i + 1}: ${ms.toFixed(0)} ms; ${line}; ${session.matches ? "every point matches" : "STILL DIVERGES"}`);
      if (!session.matches) throw new Error(`the transplant of ${keys.join(", ")} did not make every point match:\n${text}`);
    }
    log(`median of ${REPS}: ${median(times).toFixed(0)} ms per take of the pair at layer ${LAYER} of 28 (layers ${LAYER}..27 rerun); cores ${os.availableParallelism()}`);
    // the figure: one tensor at layer 20 (target under 1 s); the pair still diverges, as it should
    const one: number[] = [];
    for (let i = 0; i < REPS; i++) {
      await session.exec("reset");
      t = performance.now();
      await session.exec(`take ${keys[0]}`);
      one.push(performance.now() - t);
    }
    log(`single-tensor take (${keys[0]}): median of ${REPS}: ${median(one).toFixed(0)} ms (target < 1000 ms)`);
    // the whole automatic search (target under 30 s)
    await session.exec("reset");
    t = performance.now();
    const auto = await session.auto();
    const autoMs = performance.now() - t;
    log(`auto: ${(autoMs / 1000).toFixed(2)} s, ${auto.reruns} rerun(s), minimal set [${(auto.minimal ?? []).join(", ")}] (target < 30 s)`);
    if ((auto.minimal ?? []).join() !== keys.join()) throw new Error(`auto found [${auto.minimal}], not the injected ${keys}`);
  } finally {
    session.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
