/**
 * Run conditions of a llama.cpp side (docs/conditions.md): the Vulkan backend (llvmpipe on a machine without
 * a GPU: GGML_VK_VISIBLE_DEVICES=0), partial offload, micro-batches, flash attention and KV cache types,
 * the untraced-vs-traced check, the sweep that finds the condition that diverges, and arbitration.
 * Vulkan tests skip with a message when there is no Vulkan device (package, loader or driver missing).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { conditionsBand, selectBand } from "../../src/compare/tolerances.js";
import type { ComparisonResult } from "../../src/compare/result.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { runSweep } from "../../src/pipeline/sweep.js";
import { describeConditions, describeCpuPath, parseConditionsSpec, REFERENCE_CPU_VARIANT } from "../../src/reference/conditions.js";
import { compareLogits, gpuAvailable, runLlamaCppTrace } from "../../src/reference/llamacpp.js";
import { writeTrace } from "../../src/trace/io.js";
import { InputError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";
import { runCli } from "../helpers/cli.js";
import { HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";

process.env.GGML_VK_VISIBLE_DEVICES ??= "0";
const bridge = tryBridge("default");
const vk = bridge ? gpuAvailable("vulkan") : { ok: false as const, why: "no llama.cpp bridge" };
if (bridge && !vk.ok) process.stderr.write(`[tests] Vulkan tests skipped: ${vk.why}\n`);

const LONG = "Once upon a time there was a little girl named Lily. She loved to play outside in the park with her friends. One day she saw a big red ball under a tree and ran to get it. Her mother said: be careful, the grass is wet";

/** The worst energy NMSE over the compared points (all and last token). */
function worst(r: ComparisonResult): { nmse: number; at: string } {
  let nmse = 0, at = "-";
  for (const p of r.points) {
    for (const s of [p.all, p.last]) if (s?.nmse != null && s.nmse > nmse) [nmse, at] = [s.nmse, `${p.key}@${p.step}`];
  }
  return { nmse, at };
}

describe("run conditions: parsing, bands, logits check, arbitration (no native)", () => {
  it("parses the compact spelling and names only what differs from the reference path", () => {
    const c = parseConditionsSpec("device=vulkan ngl=3 fa=on kv=q8_0 ubatch=4");
    expect(c).toEqual({ device: "vulkan", gpuLayers: 3, flashAttn: true, kvType: "q8_0", ubatch: 4 });
    expect(describeConditions(c)).toBe("vulkan ngl=3 fa kv=q8_0 ub=4");
    expect(describeConditions(parseConditionsSpec("fa=off kv=f32"))).toBe("");
    expect(() => parseConditionsSpec("kv=q9")).toThrow(InputError);
    expect(() => parseConditionsSpec("fa=maybe")).toThrow(/on or off/);
    expect(() => parseConditionsSpec("gpu-layers=2")).toThrow(/needs a GPU --device/);
    expect(() => parseConditionsSpec("device=metal!")).toThrow(/cpu, vulkan or vulkan:N/);
  });
  it("llama.cpp against itself under other conditions takes the conditions band of the weight type", () => {
    const b = selectBand({ typeA: "Q4_K", typeB: "Q4_K", engineA: "llama.cpp", engineB: "llama.cpp", modeA: "conditions(vulkan ngl=all)" });
    expect(b).toEqual(conditionsBand("Q4_K"));
    expect(selectBand({ typeA: "F32", typeB: "F32", engineA: "llama.cpp", engineB: "llama.cpp" })).toBeNull();
  });
  it("rosetta against a llama.cpp side off the reference path: the conditions band, or the engine band if wider", () => {
    const off = (typeA: string, modeA: string) => selectBand({ typeA, typeB: typeA, engineA: "rosetta", modeA, engineB: "llama.cpp", modeB: "conditions(cpu=sapphirerapids repack)" });
    expect(off("Q8_0", "ggml")).toEqual(conditionsBand("Q8_0")); // not the bit-identity band
    expect(off("Q8_0", "ggml")!.nmse).toBeGreaterThan(selectBand({ typeA: "Q8_0", typeB: "Q8_0", engineA: "rosetta", modeA: "ggml", engineB: "llama.cpp" })!.nmse);
    expect(off("F32", "ggml")).toEqual(conditionsBand("F32"));
    expect(off("Q4_K", "exact")!.id).toBe("engine:quant-exact"); // exact mode's band is the wider one
    // the reference path itself keeps bit-identity's band
    expect(selectBand({ typeA: "Q8_0", typeB: "Q8_0", engineA: "rosetta", modeA: "ggml", engineB: "llama.cpp" })!.id).toBe("engine:quant-ggml");
  });
  it("random pairs (seed logged): a side off the reference path never gets a band tighter than its conditions band or the pair's engine band", () => {
    const seed = Number(process.env.ROSETTA_SEED ?? 20261206);
    let x = seed >>> 0;
    const rnd = (n: number) => ((x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) % n);
    const types = ["F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q4_0", "Q3_K", "Q2_K", "IQ4_XS", "UNKNOWN"];
    const modes = [undefined, "ggml", "exact", "float32"];
    const conds = ["conditions(repack)", "conditions(cpu=zen4)", "conditions(vulkan ngl=all fa)", "conditions(cpu=sapphirerapids repack kv=f16)"];
    for (let i = 0; i < 500; i++) {
      const t = types[rnd(types.length)];
      const other = { typeA: t, typeB: t, engineA: ["rosetta", "transformers", "llama.cpp"][rnd(3)], modeA: modes[rnd(modes.length)], engineB: "llama.cpp" };
      const base = selectBand({ ...other });
      const off = selectBand({ ...other, modeB: conds[rnd(conds.length)] });
      const why = `seed ${seed} draw ${i}: ${JSON.stringify(other)}`;
      expect(off, why).not.toBeNull();
      expect(off!.nmse, why).toBeGreaterThanOrEqual(conditionsBand(t === "UNKNOWN" ? "UNKNOWN" : t).nmse);
      if (base) expect(off!.nmse, why).toBeGreaterThanOrEqual(base.nmse);
      expect(off!.id, why).not.toBe("engine:quant-ggml");
    }
  });
  it("the CPU path: another variant than the reference's, or repacked weights, is a condition", () => {
    expect(describeCpuPath(REFERENCE_CPU_VARIANT, false)).toBe("");
    expect(describeCpuPath(REFERENCE_CPU_VARIANT, true)).toBe("repack");
    expect(describeCpuPath("sapphirerapids", true)).toBe("cpu=sapphirerapids repack");
    expect(describeCpuPath("zen4", false)).toBe("cpu=zen4");
  });
  it("the logits check: equal, or the max difference and NMSE (hand-computed)", () => {
    const x = new Float32Array([1, 2, 3, 4]);
    expect(compareLogits(x, x.slice(), 2)).toEqual({ equal: true, maxAbsDiff: 0, nmse: 0, positions: 2 });
    const c = compareLogits(new Float32Array([1, 2, 3, 4.5]), x, 2);
    expect(c.equal).toBe(false);
    expect(c.maxAbsDiff).toBe(0.5);
    expect(c.nmse).toBeCloseTo(0.25 / 30, 12);
    expect(compareLogits(new Float32Array([NaN, 2, 3, 4]), x, 2).equal).toBe(false);
  });
});

describe.skipIf(!bridge)("run conditions on the CPU", () => {
  it("micro-batches: every point gathered over the ubatches, same values as one ubatch (F32 fixture)", async () => {
    const file = await getFixture("qwen2", "F32");
    const one = await runLlamaCppTrace({ model: file, prompt: LONG, full: ["*"], untracedCheck: true });
    const ub = await runLlamaCppTrace({ model: file, prompt: LONG, full: ["*"], conditions: { ubatch: 7 }, untracedCheck: true });
    expect(ub.raw.nUbatch).toBe(7);
    expect(ub.raw.errors).toEqual([]);
    expect(ub.trace.points.map((p) => p.key)).toEqual(one.trace.points.map((p) => p.key));
    for (const p of ub.trace.points) expect(p.tokens).toBe(one.trace.input.tokens.length);
    expect(ub.trace.engine.settings.conditions).toBe("ub=7");
    expect(compareLogits(ub.raw.logits, one.raw.logits, one.raw.model.nVocab).nmse).toBeLessThan(1e-10);
    // does tracing change the run? both sides say
    expect(one.tracing?.equal).toBe(true);
    expect(ub.tracing?.equal).toBe(true);
  }, 60_000);
  it("repacked weights leave the reference path: the trace records the condition and the comparison takes its band", async () => {
    const file = await getFixture("qwen2", "Q8_0");
    const r = await runLlamaCppTrace({ model: file, prompt: "Hello there", useExtraBufts: true });
    const want = describeCpuPath(bridge!.backend.loaded, true);
    expect(want).toMatch(/(^| )repack$/);
    expect(r.trace.engine.settings.useExtraBufts).toBe(true);
    expect(r.trace.engine.settings.numerics).toBe(`conditions(${want})`);
    expect(r.trace.engine.settings.conditions).toBe(want);
    // without repacking on the reference variant: no condition, the bit-identity band
    const ref = await runLlamaCppTrace({ model: file, prompt: "Hello there" });
    expect(ref.trace.engine.settings.numerics).toBe(bridge!.backend.loaded === REFERENCE_CPU_VARIANT ? undefined : `conditions(cpu=${bridge!.backend.loaded})`);
    const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-repack-"));
    try {
      const saved = path.join(dir, "repack");
      writeTrace(saved, r.trace);
      const c = await runComparison({ a: { path: file }, b: { path: `${saved}.json` }, tokens: r.trace.input.tokens, weights: false, experiments: false });
      expect(c.band?.id).toBe(conditionsBand("Q8_0").id);
      expect(c.verdict).not.toBe("DIVERGED");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
  it("llama.cpp refuses a quantized V cache without flash attention: one line, exit 2 from the CLI", async () => {
    const file = await getFixture("qwen2", "F32");
    const r = runCli([file, file, "--engine-a", "llama.cpp", "--conditions-a", "kv=q8_0", "--engine-b", "llama.cpp", "-p", "Hello", "--quiet"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/quantized V cache requires flash_attn/);
    const r2 = runCli([file, file, "--device-a", "vulkan", "-p", "Hello"]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/give --engine-a llama.cpp/);
  }, 60_000);
  it("sweep: a quantized KV cache on a long prompt is the condition that diverges, traced to its first divergent point", async () => {
    const file = await getFixture("qwen2", "F32");
    const s = await runSweep({ model: file, prompt: LONG, grid: { devices: ["cpu"], flashAttn: [false, true], kvTypes: ["f32", "f16", "q4_0"], ubatches: [0] } });
    expect(s.tokens.length).toBeGreaterThan(50);
    const row = (label: string) => s.rows.find((r) => r.label === label)!;
    expect(row("cpu (reference path)").nmse).toBe(0);
    expect(row("fa").status).toBe("match");
    expect(row("kv=f16").status).toBe("match");
    // a quantized V cache needs flash attention: not run, never "matched"
    expect(row("kv=q4_0").status).toBe("refused");
    expect(row("fa kv=q4_0").status).toBe("diverged");
    expect(row("fa kv=q4_0").nmse).toBeGreaterThan(row("fa kv=q4_0").bound);
    expect(s.smallest.map((r) => r.label)).toEqual(["fa kv=q4_0"]);
    // the first point that reads the quantized cache is the attention output of layer 0
    expect(s.traced?.firstDivergence).toBe("blk.0.attn@0");
    // every llama.cpp run of the sweep was also run untraced: tracing did not change these CPU runs
    for (const r of s.rows.filter((x) => x.status !== "refused")) expect(r.tracing?.equal, r.label).toBe(true);
    // the arbiter: rosetta's exact numerics say the CPU reference path (B) is closer to the truth
    expect(s.traced?.comparison.arbiter?.closer).toBe("B");
    expect(s.traced?.comparison.arbiter?.verdict).toMatch(/B agrees with the arbiter everywhere; A leaves it at blk\.0\.attn/);
  }, 120_000);
});

describe.skipIf(!bridge || !vk.ok)("Vulkan (llvmpipe in CI) against the CPU", () => {
  it("records backend, device, driver and offload split; reads every point back from the device", async () => {
    const r = await runLlamaCppTrace({ model: await getFixture("qwen3", "F32"), prompt: "Once upon a time", conditions: { device: "vulkan", gpuLayers: 1 }, untracedCheck: true });
    const d = r.trace.engine.settings.device as Record<string, unknown>;
    expect(d.backend).toBe("Vulkan");
    expect(d.name).toBe("Vulkan0");
    expect(String(d.description).length).toBeGreaterThan(0);
    expect(String(d.driver)).toMatch(/^ggml_vulkan: 0 = /);
    expect(d.offload).toMatch(/offloaded 1\/3 layers to GPU/);
    expect(r.trace.engine.settings.numerics).toBe("conditions(vulkan ngl=1)");
    expect(r.raw.errors).toEqual([]);
    expect(r.trace.points.length).toBeGreaterThan(30);
    expect(r.tracing).toBeDefined();
  }, 120_000);

  const models: [string, () => Promise<string>][] = [
    ...(HAVE_SHARED ? ([["stories260K", async () => STORIES], ["TinyLLama Q4_0", async () => TINYLLAMA]] as [string, () => Promise<string>][]) : []),
    ...(["qwen2", "qwen3"] as const).flatMap((arch) => (["F32", "F16", "Q8_0", "Q4_K_M"] as const).map((t) => [`${arch} ${t}`, () => getFixture(arch, t)] as [string, () => Promise<string>])),
  ];
  it.each(models)("%s: every point within the measured conditions band; both sides also run untraced", async (_name, file) => {
    const f = await file();
    const r = await runComparison({ a: { path: f, engine: "llama.cpp", conditions: { device: "vulkan" } }, b: { path: f, engine: "llama.cpp" }, prompt: LONG.slice(0, 120), gen: 2, weights: false, experiments: false });
    const w = worst(r);
    expect(r.verdict, `worst ${w.nmse} at ${w.at}`).not.toBe("DIVERGED");
    expect(r.points.filter((p) => p.status === "match" || p.status === "drift").length).toBeGreaterThan(40);
    expect(w.nmse).toBeLessThanOrEqual(conditionsBand(r.a.fileType).nmse);
    expect(w.nmse).toBeGreaterThan(0); // the backends do not compute alike
    expect(r.notes?.filter((n) => /traced logits/.test(n))).toHaveLength(2);
    // does tracing change the run? the CPU side: never (bit-identical); the Vulkan side: on llvmpipe F16
    // weights it does, by a few ulps (measured max |diff| 7.2e-7, NMSE 1.2e-15), and the report says so
    const [ta, tb] = [r.a, r.b].map((s) => s.settings.tracing as { equal: boolean; nmse: number; maxAbsDiff: number });
    expect(tb.equal).toBe(true);
    if (!ta.equal) {
      expect(ta.nmse).toBeLessThan(1e-12);
      expect(r.notes!.some((n) => n.startsWith(r.a.source) && /traced logits differ from the untraced run's: max \|diff\| /.test(n))).toBe(true);
    }
  }, 120_000);
});
