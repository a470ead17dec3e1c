/**
 * Time-boxed fuzzing of the TypeScript readers (fuzz/ts/targets.ts) with V8 block coverage:
 *
 *   node dist/fuzz/ts/run.js [--seconds S] [--target NAME]... [--seed N]
 *
 * Per target it prints the inputs executed, how many loaded and how many were refused, and the coverage
 * of the reader's sources (blocks of code run at least once, as V8's precise coverage counts them).
 * A finding (fast-check shrinks it first) is written to build-fuzz/findings/<target>-<seed>.bin and the
 * run exits 1; turn it into a regression test (tests/fuzz/regressions.test.ts) before fixing it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

import fc from "fast-check";

interface Range { startOffset: number; endOffset: number; count: number }
interface ScriptCoverage { url: string; functions: { functionName: string; ranges: Range[] }[] }

function args(): { seconds: number; targets: string[]; seed: number } {
  const a = process.argv.slice(2);
  const out = { seconds: 15, targets: [] as string[], seed: Date.now() % 2 ** 31 };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "--seconds") out.seconds = Number(a[++i]);
    else if (a[i] === "--target") out.targets.push(a[++i]);
    else if (a[i] === "--seed") out.seed = Number(a[++i]);
    else {
      console.error(`fuzz: unknown argument ${a[i]} (usage: --seconds S, --target NAME, --seed N)`);
      process.exit(2);
    }
  }
  if (!(out.seconds > 0)) {
    console.error("fuzz: --seconds must be a positive number");
    process.exit(2);
  }
  return out;
}

/** Covered and total bytes of a script's code by block, and functions run / known. */
function blockCoverage(s: ScriptCoverage): { covered: number; total: number; fnRun: number; fnTotal: number } {
  const ranges = s.functions.flatMap((f) => f.ranges).sort((x, y) => x.startOffset - y.startOffset || y.endOffset - x.endOffset);
  const end = Math.max(0, ...ranges.map((r) => r.endOffset));
  const counts = new Int32Array(end).fill(-1);
  for (const r of ranges) counts.fill(r.count > 0 ? 1 : 0, r.startOffset, r.endOffset); // inner ranges come later
  let covered = 0, total = 0;
  for (const c of counts) if (c >= 0) { total++; if (c > 0) covered++; }
  const fns = s.functions.filter((f) => f.functionName !== "");
  return { covered, total, fnRun: fns.filter((f) => f.ranges[0].count > 0).length, fnTotal: fns.length };
}

async function main(): Promise<void> {
  const opt = args();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
  const { TARGETS, runCase, repoRoot } = await import("./targets.js");
  const { configureLogging } = await import("../../src/util/log.js");
  configureLogging({ quiet: true });
  const chosen = opt.targets.length ? TARGETS.filter((t) => opt.targets.includes(t.name)) : TARGETS;
  for (const n of opt.targets) if (!TARGETS.some((t) => t.name === n)) {
    console.error(`fuzz: no target ${n} (targets: ${TARGETS.map((t) => t.name).join(", ")})`);
    process.exit(2);
  }
  const root = repoRoot();
  const distRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
  const scratch = mkdtempSync(path.join(os.tmpdir(), "rosetta-fuzz-ts-"));
  let failed = false;
  console.log(`== fuzz (fast-check ${fc.__version}, seed ${opt.seed}, ${opt.seconds} s per target)`);
  try {
    for (const t of chosen) {
      await session.post("Profiler.takePreciseCoverage"); // resets the counts: each target's own coverage
      const tally = { runs: 0, ok: 0, rejected: 0 };
      const file = path.join(scratch, `${t.name}.bin`);
      const t0 = Date.now();
      const prop = fc.asyncProperty(t.input, async (input) => {
        tally.runs++;
        tally[await runCase(t, input, file)]++;
      });
      const r = await fc.check(prop, { seed: opt.seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: opt.seconds * 1000, markInterruptAsFailure: false });
      const cov = (await session.post("Profiler.takePreciseCoverage")) as unknown as { result: ScriptCoverage[] };
      const parts: string[] = [];
      let covered = 0, total = 0;
      for (const src of t.sources) {
        const url = pathToFileURL(path.join(distRoot, src.replace(/\.ts$/, ".js"))).href;
        const s = cov.result.find((x) => x.url === url);
        if (!s) { parts.push(`${path.basename(src)} not loaded`); continue; }
        const c = blockCoverage(s);
        covered += c.covered;
        total += c.total;
        parts.push(`${path.basename(src)} ${((100 * c.covered) / Math.max(1, c.total)).toFixed(0)}% (${c.fnRun}/${c.fnTotal} fns)`);
      }
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(`${t.name}: ${tally.runs} inputs in ${secs} s (${tally.ok} loaded, ${tally.rejected} refused); coverage ${((100 * covered) / Math.max(1, total)).toFixed(1)}% of code bytes: ${parts.join(", ")}`);
      if (r.failed) {
        failed = true;
        const dir = path.join(root, "build-fuzz", "findings");
        mkdirSync(dir, { recursive: true });
        const out = path.join(dir, `${t.name}-${opt.seed}.bin`);
        const ce = r.counterexample?.[0] as Buffer | undefined;
        if (ce) writeFileSync(out, ce);
        console.log(`${t.name}: FINDING (${ce ? `input in ${path.relative(root, out)}` : "no input"}): ${String(r.errorInstance ?? "").split("\n").slice(0, 4).join(" | ")}`);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

await main();
