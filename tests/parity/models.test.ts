/**
 * The must-show of the parity harness on real llama.cpp and the real engine (no mocks): the suite passes in
 * the default numerics mode (ggml, gated) on synthetic qwen2 and qwen3 fixtures in F32, Q8_0 and Q4_K_M and
 * on both shared models, on every ISA path this CPU has; an AVX-512 column on a CPU without it reads
 * "unavailable on this CPU", never PASS. Exact mode runs side by side and is reported, not gated.
 * CI variant: all 10 prompts (every bucket), 8 generated tokens each; the full 10x(50|200) run over the
 * same models is `npm run parity:measure` (docs/parity.md).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { cpuFeatures } from "../../src/bindings/kernels.js";
import { getFixture, QUANT_TYPES } from "../fixtures/lib/index.js";
import { runCli } from "../helpers/cli.js";
import { HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";
import { stageFixture } from "./stage.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-parity-m-"));
const HAVE_AVX512 = cpuFeatures().isas.includes("avx512");
const ISAS = HAVE_AVX512 ? 3 : 2;
const TOKENS = 8;

interface Result {
  model: string;
  quant: string;
  numerics: string;
  isa: string;
  passed: boolean;
  positions: number;
  maxTopDelta: number;
  kl: { max: number };
}
interface Run {
  passed: boolean;
  gate: string[];
  isa: { requested: string; ran: string | null; status: string }[];
  results: Result[];
  skipped: { case: string; reason: string }[];
}

function parity(models: string[]): { run: Run; stdout: string; code: number } {
  const json = path.join(tmp, `r${Math.random().toString(36).slice(2)}.json`);
  const r = runCli(["parity", ...models, "--isa", "all", "--numerics", "both", "--tokens", String(TOKENS), "--json", json]);
  expect(r.stderr).not.toMatch(/internal error/);
  return { run: JSON.parse(readFileSync(json, "utf8")), stdout: r.stdout, code: r.code };
}

function expectIsaColumns(run: Run, stdout: string): void {
  const cols = Object.fromEntries(run.isa.map((c) => [c.requested, c]));
  expect(cols.scalar).toMatchObject({ status: "ran", ran: "scalar" });
  expect(cols.avx2).toMatchObject({ status: "ran", ran: "avx2" });
  if (HAVE_AVX512) expect(cols.avx512).toMatchObject({ status: "ran", ran: "avx512" });
  else {
    expect(cols.avx512).toMatchObject({ status: "unavailable on this CPU", ran: null });
    expect(run.results.some((r) => r.isa === "avx512")).toBe(false);
    expect(run.skipped.filter((s) => s.case.endsWith("/avx512")).every((s) => s.reason === "unavailable on this CPU")).toBe(true);
    expect(stdout).toMatch(/PARITY-NOT-RUN case=\S+\/avx512 reason="unavailable on this CPU"/);
    expect(stdout).toMatch(/avx512 \(ran: -\)/);
  }
}

/** Prints per (model, mode) what ran, so the side-by-side exact figures are visible in the test log. */
function report(label: string, run: Run): void {
  const by = new Map<string, Result[]>();
  for (const r of run.results) by.set(`${r.model} ${r.numerics}`, [...(by.get(`${r.model} ${r.numerics}`) ?? []), r]);
  for (const [k, rs] of by) {
    const d = Math.max(...rs.map((r) => r.maxTopDelta));
    const kl = Math.max(...rs.map((r) => r.kl.max));
    const gate = run.gate.includes(rs[0].numerics) ? "gated" : "reported";
    process.stdout.write(`[parity] ${label} ${k} (${gate}): ${rs.filter((r) => r.passed).length}/${rs.length} passed over ${[...new Set(rs.map((r) => r.isa))].join("+")}, max delta ${d}, max kl ${kl}\n`);
  }
}

/** The must-show assertions: ggml passes everywhere it ran; exact-mode failures are only the documented kind. */
function expectMustShow(run: Run, stdout: string, code: number, models: number): void {
  expectIsaColumns(run, stdout);
  expect(run.gate).toEqual(["ggml"]);
  const ggml = run.results.filter((r) => r.numerics === "ggml");
  expect(ggml).toHaveLength(models * 10 * ISAS);
  expect(ggml.filter((r) => !r.passed).map((r) => `${r.model} ${r.isa}`)).toEqual([]);
  expect(ggml.every((r) => r.positions === TOKENS)).toBe(true);
  expect(run.results.filter((r) => r.numerics === "exact")).toHaveLength(models * 10 * ISAS);
  expect(stdout).toMatch(new RegExp(`parity: ${models * 10 * ISAS}/${models * 10 * ISAS} prompts passed \\(ggml\\)`));
  expect(stdout.split("\n").filter((l) => l.startsWith("PARITY-FAIL"))).toEqual([]);
  // Exact mode does not emulate llama.cpp's activation rounding; its measured failures are three-way ties
  // (reference token at rosetta's rank 3+ within the gap), which the rule (only rank 2 is a near-tie) fails.
  for (const l of stdout.split("\n").filter((x) => x.startsWith("PARITY-UNGATED")))
    expect(l).toMatch(/numerics=exact .* reason="top1 \d+ != \d+ \(reference token at rosetta rank [3-5], gap \S+ <= near-tie \S+\)"$/);
  expect(code).toBe(0);
  expect(run.passed).toBe(true);
}

describe("parity on synthetic qwen2 and qwen3 fixtures (F32, Q8_0, Q4_K_M)", () => {
  it("passes in ggml mode on every ISA path this CPU has; exact mode reported side by side", async () => {
    const models = [];
    for (const a of ["qwen2", "qwen3"] as const) for (const t of ["F32", "Q8_0", "Q4_K_M"]) models.push(await stageFixture(a, t));
    const t0 = performance.now();
    const { run, stdout, code } = parity(models);
    report("synthetic", run);
    process.stdout.write(`[parity] synthetic 6 models x 10 prompts x ${TOKENS} tokens, both modes, ${ISAS} ISA paths: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(new Set(run.results.map((r) => r.quant))).toEqual(new Set(["F32", "Q8_0", "Q4_K_M"]));
    expectMustShow(run, stdout, code, 6);
  }, 90_000);
});

// Every weight type the engine multiplies, each as a pure qwen2 fixture made by llama.cpp's own quantizer:
// in ggml mode the logits equal llama.cpp's (max top-k delta exactly 0) on every ISA path. IQ4_XS was off
// by 1-2 ulp in prompts until session 13: llama.cpp multiplies a batch of >= 8 tokens in its IQ panel
// order (iq_panel_order, kernels/include/rosetta/matmul.h), which no band would have caught.
describe("parity on every weight type (pure qwen2 fixtures)", () => {
  it("is bit-identical to llama.cpp in ggml mode on every ISA path this CPU has", async () => {
    const types = ["F16", "BF16", ...QUANT_TYPES.filter((t) => t !== "F16")];
    const models = [];
    for (const t of types) models.push(await getFixture("qwen2", t));
    const json = path.join(tmp, "every-type.json");
    const t0 = performance.now();
    const r = runCli(["parity", ...models, "--isa", "all", "--numerics", "ggml", "--tokens", "4", "--json", json]);
    process.stdout.write(`[parity] every type: ${types.length} models x 10 prompts x 4 tokens, ggml, ${ISAS} ISA paths: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(r.stderr).not.toMatch(/internal error/);
    const run: Run = JSON.parse(readFileSync(json, "utf8"));
    expectIsaColumns(run, r.stdout);
    expect(run.results).toHaveLength(types.length * 10 * ISAS);
    const off = run.results.filter((x) => !x.passed || x.maxTopDelta !== 0 || x.kl.max !== 0);
    expect(off.map((x) => `${x.model} ${x.isa} delta ${x.maxTopDelta}`)).toEqual([]);
    const quants = new Set(run.results.map((x) => x.quant));
    for (const q of ["IQ4_NL", "IQ4_XS", "BF16", "F16", "Q4_0", "Q8_0", "Q6_K"]) expect(quants.has(q)).toBe(true);
    expect(r.code).toBe(0);
  }, 180_000);
});

describe.skipIf(!HAVE_SHARED)("parity on the shared models (stories260K F32, TinyLLama-v0 Q4_0)", () => {
  it("passes in ggml mode on every ISA path this CPU has; exact mode reported side by side", () => {
    const t0 = performance.now();
    const { run, stdout, code } = parity([STORIES, TINYLLAMA]);
    report("shared", run);
    process.stdout.write(`[parity] shared 2 models x 10 prompts x ${TOKENS} tokens, both modes, ${ISAS} ISA paths: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    expectMustShow(run, stdout, code, 2);
  }, 60_000);
});
