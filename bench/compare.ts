/**
 * `npm run bench:compare`: the issue's timing target, the whole user command `rosetta model.apr model.gguf
 * --prompt P` (a 4-token prompt; process start, loading, weight diff, both runs, comparison, isolation,
 * experiments and diagnosis included) on synthetic qwen2 pairs (bench/compare-model.ts, cached in
 * tests/fixtures/generated/): a Q4_K_M model and an APR copy of it carrying a layout defect
 * (`transpose:attn_q@0`, written by the streaming converter), for each shape in BENCH_SHAPES (default
 * "1.5b,7b"): Qwen2.5-1.5B dimensions, 28 layers (~0.8 GB a file), and Qwen2.5-7B dimensions, 28 layers,
 * 151,936-token vocabulary (~4.4 GB a file; generating it takes 10-20 minutes the first time).
 *
 * Each shape runs BENCH_REPS times (default 5); every run prints its wall time, the phases from the JSON
 * report and the peak memory of the rosetta process (polled from /proc/PID/status every 20 ms: total RSS,
 * anonymous RSS, file-backed RSS; the mapped model files are file-backed and shared with the page cache),
 * then the medians. It checks the diagnosis and that the experiments found an explaining set
 * (BENCH_DEFECT picks another injected defect, e.g. swap-gate-up@20). Target: median < 10 s on 2 cores,
 * experiments included. A benchmark, never a test.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { injectDefect, parseDefect } from "../src/convert/defects.js";
import { readGgufIr } from "../src/convert/ir.js";
import { writeIrApr } from "../src/convert/to-apr.js";
import { getBenchModel, type BenchShape } from "./compare-model.js";

const REPS = Number(process.env.BENCH_REPS ?? 5);
const DEFECT = process.env.BENCH_DEFECT ?? "transpose:attn_q@0";
const PROMPT = "Once upon a time";
const SHAPES = (process.env.BENCH_SHAPES ?? "1.5b,7b").split(",").map((x) => x.trim()) as BenchShape[];

async function defectCopy(gguf: string): Promise<string> {
  const apr = gguf.replace(/\.gguf$/, `-${DEFECT.replace(/[^a-z0-9]/gi, "_")}.apr`);
  if (existsSync(apr)) return apr;
  const ir = await readGgufIr(gguf);
  injectDefect(ir, parseDefect(DEFECT), "apr");
  await writeIrApr(ir, apr);
  return apr;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Peak { rss: number; anon: number; file: number }

/** Runs the command, polling /proc/PID/status for the peak RSS (total, anonymous, file-backed), in kB. */
function runPolled(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peak: Peak }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "", stderr = "";
    p.stdout.on("data", (c) => (stdout += c));
    p.stderr.on("data", (c) => (stderr += c));
    const peak: Peak = { rss: 0, anon: 0, file: 0 };
    const poll = setInterval(() => {
      try {
        const st = readFileSync(`/proc/${p.pid}/status`, "utf8");
        const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(st)?.[1] ?? 0);
        peak.rss = Math.max(peak.rss, kb("VmHWM"));
        peak.anon = Math.max(peak.anon, kb("RssAnon"));
        peak.file = Math.max(peak.file, kb("RssFile"));
      } catch {
        // exited between polls
      }
    }, 20);
    p.on("error", reject);
    p.on("close", (code) => (clearInterval(poll), resolve({ code, stdout, stderr, peak })));
  });
}

const gb = (kb: number) => (kb / 1024 / 1024).toFixed(2);

async function benchShape(shape: BenchShape, log: (s: string) => void): Promise<void> {
  const gguf = await getBenchModel(log, shape);
  let t = performance.now();
  const apr = await defectCopy(gguf);
  log(`[${shape}] B ${gguf} (${statMb(gguf)} MB), A ${apr} (${statMb(apr)} MB, ${DEFECT}; ${((performance.now() - t) / 1000).toFixed(1)} s to have it)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-bench-compare-"));
  // the CLI compiled beside this file (bin/rosetta.js does the same over dist/)
  const main = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/cli/main.js")).href;
  const cli = ["--input-type=module", "-e", `import { main } from ${JSON.stringify(main)}; main(process.argv.slice(1)).then((c) => { process.exitCode = c; });`];
  const times: number[] = [];
  const peaks: Peak[] = [];
  try {
    for (let i = 0; i < REPS; i++) {
      const json = path.join(dir, `r${i}.json`);
      t = performance.now();
      const r = await runPolled([...cli, apr, gguf, "--prompt", PROMPT, "--json", json]);
      const ms = performance.now() - t;
      if (r.code !== 0) throw new Error(`rosetta exited ${r.code}: ${r.stderr}`);
      const rep = JSON.parse(readFileSync(json, "utf8"));
      times.push(ms);
      peaks.push(r.peak);
      const phases = Object.entries(rep.timings ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
      const sampled = (rep.weights?.tensors ?? []).filter((x: { status: string }) => x.status === "sampled-identical").length;
      log(
        `[${shape}] run ${i + 1}: ${(ms / 1000).toFixed(2)} s wall (in-process ms: ${phases}); peak RSS ${gb(r.peak.rss)} GB (anonymous ${gb(r.peak.anon)} GB, file-backed ${gb(r.peak.file)} GB); ` +
          `tokens [${rep.a.tokens.join(", ")}]; ${rep.verdict}: ${rep.diagnosis?.id} at ${rep.diagnosis?.where}; weights: ${sampled} tensor(s) sampled-identical; ` +
          `experiments: ${rep.experiments ? `${rep.experiments.reruns} rerun(s) in ${rep.experiments.ms} ms, minimal set [${(rep.experiments.minimal ?? []).join(", ")}]` : "none"}`,
      );
      if (i === 0) process.stdout.write(r.stdout.split("\n").filter((l) => /Summary|DIAGNOSIS|FAILED|PASSED/.test(l)).map((l) => `    ${l}\n`).join(""));
      if (DEFECT === "transpose:attn_q@0" && (rep.diagnosis?.id !== "layout-transposed" || rep.diagnosis?.where !== "blk.0.attn_q")) throw new Error(`wrong diagnosis: ${rep.diagnosis?.id} at ${rep.diagnosis?.where}`);
      if (!rep.experiments?.minimal?.length) throw new Error(`the experiments found no explaining set: ${JSON.stringify(rep.experiments)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = median(times) / 1000;
  const pk = (k: keyof Peak) => gb(median(peaks.map((p) => p[k])));
  log(`[${shape}] median of ${REPS}: ${m.toFixed(2)} s (target < 10 s on 2 cores: ${m < 10 ? "met" : "NOT met"}); median peak RSS ${pk("rss")} GB, anonymous ${pk("anon")} GB, file-backed ${pk("file")} GB; files ${statMb(gguf)} + ${statMb(apr)} MB; cores ${os.availableParallelism()}`);
}

async function main(): Promise<void> {
  const log = (s: string) => console.log(`[bench:compare] ${s}`);
  for (const shape of SHAPES) await benchShape(shape, log);
}

function statMb(f: string): string {
  return (statSync(f).size / 1e6).toFixed(0);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
