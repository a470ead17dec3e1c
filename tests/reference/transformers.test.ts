/**
 * The transformers engine (src/reference/transformers.ts, python/rosetta_trace/hf_engine.py) and the
 * arbiter (src/compare/arbiter.ts), on real files:
 * - a real HF checkpoint made from stories260K with transformers' own GGUF loading and save_pretrained
 *   (python -m rosetta_trace.hf_checkpoint, no download), run by transformers, against the GGUF on rosetta and on llama.cpp:
 *   the three engines' traces compared pairwise match at every canonical point (q_rope, k_rope and
 *   kq_softmax included), worst energy NMSE under the documented band (docs/transformers-engine.md);
 * - the synthetic qwen2/qwen3 fixtures through transformers' GGUF loading against rosetta (no Q/K
 *   permutation for NEOX models);
 * - the arbiter names the side that left it (a defect injected into A) and which side is closer per point;
 * - the trace records dtype and the torch/transformers/Python versions;
 * - without the Python part: one line, exit 2 (always tested, with ROSETTA_PYTHON pointing nowhere).
 * Needs `npm run python:setup` with the torch stack; skipped with a message without it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { diffMetrics } from "../../src/bindings/kernels.js";
import { compareTraces, type CompareSide } from "../../src/compare/compare.js";
import { worstNmse } from "../../src/compare/metrics.js";
import type { ComparisonResult } from "../../src/compare/result.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { runTransformersTrace, transformersAvailable, transformersPython } from "../../src/reference/transformers.js";
import { writeTrace } from "../../src/trace/io.js";
import type { F32Tensor } from "../../src/trace/safetensors.js";
import type { Trace } from "../../src/trace/types.js";
import { getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";
import { runCli } from "../helpers/cli.js";
import { HAVE_SHARED, REPO_ROOT, STORIES } from "../helpers/shared.js";

const avail = transformersAvailable();
if (!avail.ok) process.stderr.write(`[tests] transformers engine tests skipped: ${avail.why}\n`);
const bridge = avail.ok && HAVE_SHARED ? tryBridge() : null;

/**
 * The bound asserted on every pair of the three engines (F32 weights, float32 activations): measured
 * worst energy NMSE 3.7e-12 (transformers vs rosetta ggml / llama.cpp, stories260K, 4 tokens + 2 decode
 * steps); 1e-9 is the reparametrization band's bound (src/compare/expected.ts REPARAM_BAND), far below
 * any defect (docs/transformers-engine.md, "Bands").
 */
const BAND = 1e-9;
const TOKENS = [1, 400, 300, 200, 17, 99];
const GEN = 2;

type Run = { trace: Trace; tensors: Map<string, F32Tensor> };
const side = (r: Run, source: string): CompareSide => ({ trace: r.trace, source, tensor: (p) => (p.tensor ? (r.tensors.get(p.tensor)?.data ?? null) : null) });

function worst(r: ComparisonResult): number {
  let w = 0;
  for (const p of r.points) w = Math.max(w, worstNmse(p.all, p.last) ?? Infinity);
  return w;
}

describe("transformers engine without the Python part", () => {
  const env = { ROSETTA_PYTHON: "/nonexistent/rosetta-python/bin/python" };
  let model = "";
  beforeAll(async () => {
    model = await getFixture("llama", "F32");
  });

  it("rosetta trace --engine transformers: one line naming the setup command, exit 2", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-tf-none-"));
    try {
      const r = runCli(["trace", model, "--engine", "transformers", "--tokens", "1,2,3", "--out", path.join(dir, "t")], env);
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/transformers engine needs the Python part .*npm run python:setup/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rosetta A B --engine-a transformers and --arbiter transformers: exit 2, one line; rosetta alone still runs", () => {
    for (const extra of [["--engine-a", "transformers"], ["--arbiter", "transformers"]]) {
      const r = runCli([model, model, "--tokens", "1,2,3", "--quiet", ...extra], env);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/npm run python:setup/);
    }
    const ok = runCli([model, model, "--tokens", "1,2,3", "--quiet", "--assert-match"], env);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("a Python without the packages (here: no numpy, no torch): one line naming the setup command, exit 2", () => {
    const py = spawnSync("python3", ["-c", "import sys; print(sys.executable); import numpy, torch"], { encoding: "utf8" });
    if (py.status === 0 || py.error || !py.stdout.trim()) return; // this machine's python3 has them (or is absent): nothing to show
    const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-tf-nopkg-"));
    try {
      const r = runCli(["trace", model, "--engine", "transformers", "--tokens", "1,2,3", "--out", path.join(dir, "t")], { ROSETTA_PYTHON: py.stdout.trim() });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/transformers engine (cannot start|needs torch).*npm run python:setup/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bad --arbiter values are one line, exit 2", () => {
    const r = runCli([model, model, "--tokens", "1,2", "--arbiter", "no-such-engine-or-file"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--arbiter no-such-engine-or-file: not one of transformers, rosetta-exact, llama\.cpp/);
    const m = runCli([model, model, "--tokens", "1,2", "--arbiter-model", model]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/give --arbiter too/);
  });
});

describe.skipIf(!avail.ok || !HAVE_SHARED)("transformers engine on stories260K: HF folder vs GGUF on three engines", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-tf-"));
  const hf = path.join(dir, "hf-stories260K");
  let tf: Run, ros: Run;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    const r = spawnSync(transformersPython(), ["-m", "rosetta_trace.hf_checkpoint", STORIES, hf], { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } });
    if (r.status !== 0) throw new Error(`hf_checkpoint: ${r.stderr}`);
    tf = runTransformersTrace({ model: hf, tokens: TOKENS, gen: GEN, full: ["*"] });
    ros = await runRosettaTrace({ model: STORIES, tokens: TOKENS, gen: GEN, forced: tf.trace.input.generated, full: ["*"], kq: true });
  }, 600_000);

  it("the HF folder is a real checkpoint: config.json and model.safetensors", () => {
    expect(existsSync(path.join(hf, "config.json"))).toBe(true);
    expect(existsSync(path.join(hf, "model.safetensors"))).toBe(true);
  });

  it("the trace records every canonical point, the dtype and the torch/transformers/Python versions", async () => {
    const s = tf.trace.engine.settings;
    expect(tf.trace.engine.name).toBe("transformers");
    expect(s.dtype).toBe("float32");
    expect(s.device).toBe("cpu");
    for (const k of ["torch", "transformers", "python"]) expect(String(s[k])).toMatch(/^\d+\.\d+/);
    expect(String(s.loadedFrom)).toBe("hf-folder");
    const kinds = new Set(tf.trace.points.filter((p) => p.step === 0 && p.layer === 0).map((p) => p.point));
    for (const k of ["attn_norm", "q", "k", "v", "q_rope", "k_rope", "kq_softmax", "attn", "attn_out", "ffn_inp", "ffn_norm", "ffn_gate", "ffn_up", "ffn_act", "ffn_out", "l_out"]) expect(kinds.has(k as never), k).toBe(true);
    // 1 + 5 layers x 16 + 2 points per step, prompt + GEN decode steps, every one with a full tensor
    expect(tf.trace.points).toHaveLength(83 * (GEN + 1));
    expect(tf.trace.points.every((p) => p.tensor && tf.tensors.has(p.tensor))).toBe(true);
    const file = writeTrace(path.join(dir, "tf"), tf.trace, tf.tensors);
    const v = runCli(["validate-trace", file]);
    expect(v.code, v.stderr).toBe(0);
  });

  it("transformers (HF folder) vs rosetta (GGUF): every point matches within the band", async () => {
    const r = await compareTraces(side(tf, "transformers:hf"), side(ros, "rosetta:gguf"), { diff: diffMetrics });
    expect(r.verdict).toBe("MATCH");
    expect(r.counts.match).toBe(83 * (GEN + 1));
    expect(worst(r)).toBeLessThanOrEqual(BAND);
  });

  it.skipIf(!bridge)("llama.cpp joins: the three engines' traces compared pairwise all match within the band", async () => {
    const { runLlamaCppTrace } = await import("../../src/reference/llamacpp.js");
    const ll = await runLlamaCppTrace({ model: STORIES, tokens: TOKENS, gen: GEN, forced: tf.trace.input.generated, full: ["*"] });
    const pairs: [Run, Run, string][] = [[tf, ll, "transformers vs llama.cpp"], [ros, ll, "rosetta vs llama.cpp"], [tf, ros, "transformers vs rosetta"]];
    for (const [x, y, what] of pairs) {
      const r = await compareTraces(side(x, "x"), side(y, "y"), { diff: diffMetrics });
      expect(r.verdict, what).toBe("MATCH");
      expect(r.counts.match, what).toBe(83 * (GEN + 1));
      expect(worst(r), what).toBeLessThanOrEqual(BAND);
    }
  }, 120_000);

  it("the arbiter names the side that left it: A with ffn_gate/ffn_up swapped in layer 1 against the GGUF, transformers' trace as arbiter", async () => {
    const bad = path.join(dir, "swap.gguf");
    const c = runCli(["convert", STORIES, bad, "--inject", "swap-gate-up@1"]);
    expect(c.code, c.stderr).toBe(0);
    const arb = writeTrace(path.join(dir, "arb"), tf.trace, tf.tensors);
    const r = await runComparison({ a: { path: bad }, b: { path: STORIES }, tokens: TOKENS, experiments: false, arbiter: { path: arb } });
    expect(r.verdict).toBe("DIVERGED");
    const x = r.arbiter!;
    expect(x.engine).toBe("transformers");
    expect(x.firstDivergenceB).toBeNull();
    expect(x.firstDivergenceA?.key).toBe("blk.1.ffn_gate");
    expect(x.verdict).toMatch(/B agrees with the arbiter everywhere; A leaves it at blk\.1\.ffn_gate/);
    // before the defect both agree with the arbiter; from it on B is closer at every point
    const at = (k: string) => x.points.find((p) => p.key === k && p.step === 0)!;
    expect(at("blk.1.ffn_gate").closer).toBe("B");
    expect(at("logits").closer).toBe("B");
    expect(at("blk.0.l_out").statusA).toBe("match");
    expect(at("blk.0.l_out").statusB).toBe("match");
    expect(x.points.filter((p) => p.step === 0)).toHaveLength(83);
  }, 120_000);

  it("CLI: transformers on the GGUF (its own GGUF loading) vs the HF folder, arbiter rosetta-exact: text and JSON say per point which side is closer", () => {
    const json = path.join(dir, "report.json");
    const r = runCli([STORIES, hf, "--engine-a", "transformers", "--engine-b", "transformers", "--tokens", TOKENS.join(","), "--arbiter", "rosetta-exact", "--arbiter-model", STORIES, "--assert-match", "--json", json, "--quiet", "-v"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/=== Arbiter ===  .*stories260K\.gguf \(rosetta, exact numerics\): closer to it A at \d+ point\(s\), B at \d+, tie \d+/);
    expect(r.stdout).toMatch(/blk\.0\.q_rope +\S+ \(match\) +\S+ \(match\) +(A|B|tie)/);
    // the GGUF through transformers' loader and the saved HF folder hold the same values: bit-identical runs
    expect(r.stdout).toMatch(/worst nmse 0\b/);
  }, 300_000);
});

describe.skipIf(!avail.ok)("transformers engine on HF folders made from the synthetic qwen2/qwen3 fixtures", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-tf-qwen-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const arch of ["qwen2", "qwen3"] as const) {
    it(`${arch}: transformers (HF folder) vs rosetta (GGUF) match at every point (NEOX: q/k not permuted)`, async () => {
      const model = await getFixture(arch, "F32");
      const hf = path.join(dir, arch);
      const mk = spawnSync(transformersPython(), ["-m", "rosetta_trace.hf_checkpoint", model, hf], { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } });
      expect(mk.status, mk.stderr).toBe(0);
      const t = runTransformersTrace({ model: hf, tokens: [1, 5, 9, 13, 2], full: ["*"] });
      expect(String(t.trace.engine.settings.qkLayout)).toMatch(/^hf/);
      expect((t.trace.model.config as Record<string, unknown>).ropeLayout).toBe("neox");
      expect((t.trace.model.config as Record<string, unknown>).qkNorm).toBe(arch === "qwen3");
      const ros = await runRosettaTrace({ model, tokens: [1, 5, 9, 13, 2], full: ["*"], kq: true });
      const r = await compareTraces(side(t, "transformers"), side(ros, "rosetta"), { diff: diffMetrics });
      expect(r.verdict).toBe("MATCH");
      expect(r.counts.match).toBe(35);
      expect(worst(r)).toBeLessThanOrEqual(BAND);
    }, 300_000);
  }
});
