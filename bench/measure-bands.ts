/**
 * `npm run bands:measure`: the measurements behind every band in src/compare/tolerances.ts
 * (docs/tolerances.md records the figures). For each pair it runs `rosetta A B` in-process on the
 * synthetic fixtures (llama, qwen2, qwen3; tests/fixtures/generated, real llama.cpp quantizer) over a few
 * prompts with 2 decode steps, and prints the worst energy NMSE over every capture point, all tokens and
 * last token:
 *
 *   noise:llama.cpp       the same file run twice by llama.cpp (the reference's own run-to-run noise)
 *   noise:rosetta         the same file run twice by rosetta (ggml)
 *   modes:<T>             rosetta ggml vs rosetta exact on a type-T model (the two numerics modes)
 *   engine:<T>:ggml|exact rosetta (mode) vs llama.cpp on a type-T model
 *   quant:<T>:<engine>    a type-T model vs the F32 model on the same engine (quantization drift)
 *
 *   weight:<T>            the lowest dequantized-weight SQNR of a type-T tensor against its F32 original
 *
 * Per pair the worst prompt, the median prompt and the prompt count are printed; `--json FILE` keeps them.
 * Pairs that hit the known ggml-mode divergence on quantized models (docs/parity.md) are the worst prompt
 * of engine:<T>:ggml; the median shows the bit-close mode.
 * Env: BANDS_ARCHS (default llama,qwen2,qwen3), BANDS_TYPES (default all fixture types and BF16), BANDS_PROMPTS (5).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";

import { pathToFileURL } from "node:url";

import { runComparison, type RunCompareOptions, type SideSpec } from "../src/pipeline/run-comparison.js";
import { worstNmse } from "../src/compare/metrics.js";
import { diffWeights } from "../src/compare/weight-diff.js";
import { loadModel } from "../src/formats/index.js";
import { configureLogging } from "../src/util/log.js";
import { ALL_TYPES, getFixture, type FixtureArch } from "../tests/fixtures/lib/index.js";

export const PROMPTS = [
  "Once upon a time there was a little girl named Lily",
  "Numbers like 1, 2, 3 and 42 appear too",
  "The ball was shiny and round, and Max loved to run",
  "One day she saw a big red ball under a tree",
  "Her mother said: be careful, the grass is wet",
];

export interface PairResult {
  pair: string;
  arch: string;
  prompts: number;
  worst: number;
  median: number;
  worstAt: string;
  perPrompt: number[];
}

/** Worst NMSE over the compared points (points on different generated tokens are never compared). */
export async function worstOf(a: SideSpec, b: SideSpec, prompt: string, extra: Partial<RunCompareOptions> = {}): Promise<{ nmse: number; at: string }> {
  const r = await runComparison({ a, b, prompt, gen: 2, weights: false, full: ["*"], ...extra });
  let nmse = 0;
  let at = "-";
  let compared = 0;
  for (const p of r.points) {
    if (p.status === "sample-mismatch" || p.status === "only-a" || p.status === "only-b") continue;
    compared++;
    const w = p.status === "nonfinite" ? Infinity : (worstNmse(p.all, p.last) ?? Infinity);
    if (w > nmse) [nmse, at] = [w, `${p.key}@${p.step}`];
  }
  if (compared === 0) return { nmse: NaN, at: `nothing compared: ${r.diagnosis?.evidence[0] ?? ""}` };
  return { nmse, at };
}

/** Lowest weight SQNR (dB) per tensor type of `file` against the F32 original (the weight floors). */
async function weightSqnr(file: string, f32: string, into: Map<string, { db: number; at: string }>): Promise<void> {
  const [a, b] = [await loadModel(file, { logLayout: false }), await loadModel(f32, { logLayout: false })];
  for (const t of diffWeights(a, b).tensors) {
    if (!t.typeA || t.typeA === "F32" || t.sqnrDb === null) continue;
    const cur = into.get(t.typeA);
    if (!cur || t.sqnrDb < cur.db) into.set(t.typeA, { db: t.sqnrDb, at: `${path.basename(file)} ${t.key}` });
  }
}

async function measure(pair: string, arch: string, a: SideSpec, b: SideSpec, nPrompts: number): Promise<PairResult> {
  const per: number[] = [];
  let worst = -1;
  let worstAt = "";
  for (const prompt of PROMPTS.slice(0, nPrompts)) {
    const r = await worstOf(a, b, prompt);
    per.push(r.nmse);
    if (r.nmse > worst) [worst, worstAt] = [r.nmse, `"${prompt.slice(0, 16)}..." ${r.at}`];
  }
  const sorted = per.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y);
  return { pair, arch, prompts: sorted.length, worst, median: sorted[Math.floor((sorted.length - 1) / 2)], worstAt, perPrompt: per };
}

const fmt = (x: number) => (Number.isNaN(x) ? "n/a" : x === 0 ? "0" : x.toExponential(2));

async function main(): Promise<void> {
  configureLogging({ quiet: true });
  const archs = (process.env.BANDS_ARCHS ?? "llama,qwen2,qwen3").split(",") as FixtureArch[];
  // BF16 is not in ALL_TYPES (the other fixture suites skip it) but getFixture makes it (llama.cpp's quantizer).
  const types = (process.env.BANDS_TYPES ?? [...ALL_TYPES, "BF16"].join(",")).split(",");
  const n = Number(process.env.BANDS_PROMPTS ?? PROMPTS.length);
  const jsonAt = process.argv.indexOf("--json");
  const out: PairResult[] = [];
  const floors = new Map<string, { db: number; at: string }>();
  const t0 = Date.now();
  const print = (r: PairResult) => {
    out.push(r);
    console.log(`${r.pair.padEnd(24)} ${r.arch.padEnd(6)} worst ${fmt(r.worst).padEnd(9)} median ${fmt(r.median).padEnd(9)} (${r.prompts} prompts; worst at ${r.worstAt})`);
  };
  for (const arch of archs) {
    const f32 = await getFixture(arch, "F32");
    print(await measure("noise:llama.cpp", arch, { path: f32, engine: "llama.cpp" }, { path: f32, engine: "llama.cpp" }, n));
    print(await measure("noise:rosetta", arch, { path: f32 }, { path: f32 }, n));
    for (const type of types) {
      const file = await getFixture(arch, type);
      print(await measure(`modes:${type}`, arch, { path: file, numerics: "exact" }, { path: file, numerics: "ggml" }, n));
      print(await measure(`engine:${type}:ggml`, arch, { path: file, numerics: "ggml" }, { path: file, engine: "llama.cpp" }, n));
      print(await measure(`engine:${type}:exact`, arch, { path: file, numerics: "exact" }, { path: file, engine: "llama.cpp" }, n));
      if (type === "F32") continue;
      print(await measure(`quant:${type}:llama.cpp`, arch, { path: file, engine: "llama.cpp" }, { path: f32, engine: "llama.cpp" }, n));
      print(await measure(`quant:${type}:rosetta`, arch, { path: file }, { path: f32 }, n));
      await weightSqnr(file, f32, floors);
    }
  }
  for (const [t, v] of [...floors].sort()) console.log(`weight:${t.padEnd(17)} lowest SQNR ${v.db.toFixed(1)} dB (${v.at})`);
  console.log(`measured ${out.length} pairs in ${((Date.now() - t0) / 1000).toFixed(0)} s on ${new Date().toISOString().slice(0, 10)}`);
  if (jsonAt > 0 && process.argv[jsonAt + 1]) writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ pairs: out, weightSqnrDb: Object.fromEntries(floors) }, null, 1));
}

// run only as the script (bench/measure-conditions.ts imports worstOf and PROMPTS)
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  main().catch((e) => {
    console.error(e);
    process.exitCode = 3;
  });
