/**
 * `npm run bench:compare`: the issue's timing target. On a synthetic qwen2 model with Qwen2.5-1.5B
 * dimensions and all 28 layers in Q4_K_M (bench/compare-model.ts, ~0.8 GB, cached in
 * tests/fixtures/generated/) and an APR copy of it carrying a layout defect (`transpose:attn_q@0`), it
 * times the whole user command `rosetta model.apr model.gguf --prompt P` (a 4-token prompt; process
 * start, loading, both runs, weight diff, comparison, isolation and diagnosis included) BENCH_REPS times
 * (default 5), prints every run, the median and the phase timings from the JSON report, and checks the
 * diagnosis and that the experiments found an explaining set (BENCH_DEFECT picks another injected defect,
 * e.g. swap-gate-up@20). Target: median < 10 s on 2 cores, experiments included. A benchmark, never a test.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { injectDefect, parseDefect } from "../src/convert/defects.js";
import { readGgufIr } from "../src/convert/ir.js";
import { writeIrApr } from "../src/convert/to-apr.js";
import { getBenchModel } from "./compare-model.js";

const REPS = Number(process.env.BENCH_REPS ?? 5);
const DEFECT = process.env.BENCH_DEFECT ?? "transpose:attn_q@0";
const PROMPT = "Once upon a time";

async function defectCopy(gguf: string): Promise<string> {
  const apr = gguf.replace(/\.gguf$/, `-${DEFECT.replace(/[^a-z0-9]/gi, "_")}.apr`);
  if (existsSync(apr)) return apr;
  const ir = await readGgufIr(gguf);
  injectDefect(ir, parseDefect(DEFECT), "apr");
  await writeIrApr(ir, apr);
  return apr;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const log = (s: string) => console.log(`[bench:compare] ${s}`);
  const gguf = await getBenchModel(log);
  const apr = await defectCopy(gguf);
  log(`B ${gguf} (${statMb(gguf)} MB), A ${apr} (${statMb(apr)} MB, ${DEFECT})`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-bench-compare-"));
  // the CLI compiled beside this file (bin/rosetta.js does the same over dist/)
  const main = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/cli/main.js")).href;
  const cli = ["--input-type=module", "-e", `import { main } from ${JSON.stringify(main)}; main(process.argv.slice(1)).then((c) => { process.exitCode = c; });`];
  const times: number[] = [];
  try {
    for (let i = 0; i < REPS; i++) {
      const json = path.join(dir, `r${i}.json`);
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [...cli, apr, gguf, "--prompt", PROMPT, "--json", json], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 64 << 20 });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`rosetta exited ${r.status}: ${r.stderr}`);
      const rep = JSON.parse(readFileSync(json, "utf8"));
      times.push(ms);
      const phases = Object.entries(rep.timings ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
      log(`run ${i + 1}: ${(ms / 1000).toFixed(2)} s wall (in-process ms: ${phases}); tokens [${rep.a.tokens.join(", ")}]; ${rep.verdict}: ${rep.diagnosis?.id} at ${rep.diagnosis?.where}; experiments: ${rep.experiments ? `${rep.experiments.reruns} rerun(s) in ${rep.experiments.ms} ms, minimal set [${(rep.experiments.minimal ?? []).join(", ")}]` : "none"}`);
      if (i === 0) process.stdout.write(r.stdout.split("\n").filter((l) => /Summary|DIAGNOSIS|FAILED|PASSED/.test(l)).map((l) => `    ${l}\n`).join(""));
      if (DEFECT === "transpose:attn_q@0" && (rep.diagnosis?.id !== "layout-transposed" || rep.diagnosis?.where !== "blk.0.attn_q")) throw new Error(`wrong diagnosis: ${rep.diagnosis?.id} at ${rep.diagnosis?.where}`);
      if (!rep.experiments?.minimal?.length) throw new Error(`the experiments found no explaining set: ${JSON.stringify(rep.experiments)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = median(times) / 1000;
  log(`median of ${REPS}: ${m.toFixed(2)} s (target < 10 s on 2 cores: ${m < 10 ? "met" : "NOT met"}); cores ${os.availableParallelism()}`);
}

function statMb(f: string): string {
  return (statSync(f).size / 1e6).toFixed(0);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
