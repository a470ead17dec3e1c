/**
 * `rosetta parity` end to end on real llama.cpp and the real engine (no mocks): the timed 10x50 run on
 * stories260K, pins stopping a run with exit 2, merge, and a defect-injected model failing with the
 * greppable lines. Runs the built CLI (dist/), like a user.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { irToGguf, readGgufIr } from "../../src/convert/ir.js";
import { runCli } from "../helpers/cli.js";
import { HAVE_SHARED, REPO_ROOT, STORIES } from "../helpers/shared.js";
import { cpuFeatures } from "../../src/bindings/kernels.js";
import { stageFixture } from "./stage.js";

const HAVE_AVX512 = cpuFeatures().isas.includes("avx512");

const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-parity-"));

describe.skipIf(!HAVE_SHARED)("rosetta parity on stories260K", () => {
  it("passes 10 prompts x 50 tokens in under 30 s, and merge reproduces the verdict", () => {
    const json = path.join(tmp, "s.json");
    const junit = path.join(tmp, "s.xml");
    const t0 = performance.now();
    const r = runCli(["parity", STORIES, "--tokens", "50", "--json", json, "--junit", junit]);
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(`[parity] stories260K 10 prompts x 50 tokens: ${s.toFixed(2)} s wall (CLI: ${/time: (\S+ s)/.exec(r.stdout)?.[1]})\n`);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(s).toBeLessThan(30);
    expect(r.stdout).toMatch(/parity: 10\/10 prompts passed/);
    const run = JSON.parse(readFileSync(json, "utf8"));
    expect(run.results).toHaveLength(10);
    for (const p of run.results) {
      expect(p.positions).toBe(50);
      expect(p.top1Match).toBe(50);
      expect(p.kl.max).toBeLessThan(1e-9);
      expect(p.isa).toBe(run.isa[0].ran);
    }
    expect(readFileSync(junit, "utf8")).toMatch(/<testsuite name="parity\.stories260K\.gguf\.F32\.ggml\.\w+" tests="10" failures="0"/);
    const m = runCli(["parity", "merge", json]);
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(/parity: 10\/10 prompts passed/);
  }, 60_000);

  it("a manifest pin that does not match stops the run with exit 2 before any comparison", () => {
    const man = JSON.parse(readFileSync(path.join(REPO_ROOT, "tests/fixtures/parity-manifest.json"), "utf8"));
    man.models = man.models.filter((m: { name: string }) => m.name === "stories260K");
    man.models[0].path = STORIES;
    man.models[0].sha256 = "0".repeat(64);
    const file = path.join(tmp, "bad-manifest.json");
    writeFileSync(file, JSON.stringify(man));
    const out = path.join(tmp, "never.json");
    const r = runCli(["parity", "--manifest", file, "--tokens", "2", "--json", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pin mismatch: stories260K sha256: manifest has 0{64}, found 270cba1b/);
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("rosetta:"))).toHaveLength(1);
    // Nothing was compared: no per-prompt progress, no result lines, no results file.
    expect(r.stderr).not.toMatch(/PASS|FAIL/);
    expect(r.stdout).not.toMatch(/PARITY-|prompts passed/);
    expect(existsSync(out)).toBe(false);
    man.models[0].sha256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
    man.reference.llamaCpp.commit = "deadbeef";
    writeFileSync(file, JSON.stringify(man));
    const c = runCli(["parity", "--manifest", file, "--tokens", "2"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/llama\.cpp commit: manifest has deadbeef/);
  }, 60_000);

  it("records the ISA path that actually ran, per prompt", () => {
    const json = path.join(tmp, "isa.json");
    // No --isa: the kernels' own choice, here forced by ROSETTA_ISA, is read back and recorded.
    const r = runCli(["parity", STORIES, "--prompts", "0,1", "--tokens", "2", "--json", json], { ROSETTA_ISA: "scalar" });
    expect(r.code).toBe(0);
    const run = JSON.parse(readFileSync(json, "utf8"));
    expect(run.isa).toEqual([{ requested: "scalar", ran: "scalar", status: "ran" }]);
    expect(run.results.map((p: { isa: string }) => p.isa)).toEqual(["scalar", "scalar"]);
    expect(r.stdout).toMatch(/^stories260K\.gguf\s+F32\s+ggml\s+scalar\s+0\s/m);
  }, 60_000);

  it.skipIf(HAVE_AVX512)("--isa avx512 on a CPU without it is an explicit not-run, never a pass", () => {
    const json = path.join(tmp, "avx512.json");
    const r = runCli(["parity", STORIES, "--isa", "avx512", "--prompts", "0,1", "--tokens", "2", "--json", json]);
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n").filter((l) => /^PARITY-NOT-RUN case=stories260K\.gguf\/F32\/p[01]\/ggml\/avx512 reason="unavailable on this CPU"$/.test(l))).toHaveLength(2);
    expect(r.stdout).toMatch(/^parity: 0\/0 prompts passed, 0 near-ties, 2 not run -> FAIL$/m);
    expect(r.stdout).not.toMatch(/PASS/);
    const run = JSON.parse(readFileSync(json, "utf8"));
    expect(run).toMatchObject({ passed: false, results: [], isa: [{ requested: "avx512", ran: null, status: "unavailable on this CPU" }] });
  }, 60_000);

  it("bad flags are one line and exit 2", () => {
    for (const bad of [["--shard", "5/4"], ["--gate", "exact"], ["--isa", "neon"]]) {
      const r = runCli(["parity", STORIES, ...bad]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("rosetta:"))).toHaveLength(1);
    }
    const m = runCli(["parity", "measure", path.join(tmp, "missing.json")]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/cannot read .*missing\.json/);
  });
});

describe("rosetta parity on a defect-injected model", () => {
  // F32 and a quantized mix, both in the default (ggml) mode: the quantized one keeps its top-1 on these
  // prompts, so it is the delta/KL bands that must catch it.
  it.each([["qwen2", "F32"], ["qwen3", "Q4_K_M"]] as const)("%s %s: one greppable line per failing position and exit 1", async (arch, type) => {
    const good = await stageFixture(arch, type);
    const ir = await readGgufIr(good);
    injectDefect(ir, parseDefect("swap-gate-up@1"), "gguf");
    const name = `${arch}-${type}-swap-gate-up.gguf`;
    const bad = path.join(tmp, name);
    writeFileSync(bad, irToGguf(ir));
    const junit = path.join(tmp, `${name}.xml`);
    const r = runCli(["parity", bad, "--reference", good, "--tokens", "6", "--prompts", "0,4", "--junit", junit]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split("\n").filter((l) => /^PARITY-FAIL .* token_idx=\d/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(6);
    const head = `^PARITY-FAIL model=${name.replace(/\./g, "\\.")} quant=${type} numerics=ggml isa=\\w+ prompt_idx=[04] token_idx=\\d+ `;
    for (const l of lines)
      expect(l).toMatch(new RegExp(head + String.raw`top5_rosetta=\[(\d+:-?\d+\.\d{4},?){5}\] top5_llamacpp=\[(\d+:-?\d+\.\d{4},?){5}\] delta=\S+ kl=\S+ reason="[^"]*(delta|kl|top1|top5)`));
    expect(r.stdout).toMatch(/FAIL\n*\s*\nparity: 0\/2 prompts passed/);
    expect(readFileSync(junit, "utf8")).toMatch(/failures="2"/);
  }, 60_000);
});

describe("rosetta parity on an APR model (llama.cpp runs the GGUF it was converted from)", () => {
  it("passes a faithful conversion, refuses other weight types and a missing --reference (exit 2)", async () => {
    const good = await stageFixture("qwen2", "Q4_K_M");
    const apr = path.join(tmp, "qwen2-q4km.apr");
    expect(runCli(["convert", good, apr, "-q"]).code).toBe(0);
    const r = runCli(["parity", apr, "--reference", good, "--tokens", "6", "--prompts", "0,4"]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/parity: 2\/2 prompts passed/);
    expect(r.stdout).toMatch(/Q4_K_M/);

    const none = runCli(["parity", apr, "--tokens", "6", "--prompts", "0"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/an APR model needs --reference ORIGINAL\.gguf/);

    const f32 = await stageFixture("qwen2", "F32");
    const q8 = path.join(tmp, "qwen2-apr-q8.apr");
    expect(runCli(["convert", f32, q8, "--quantize", "apr-q8", "-q"]).code).toBe(0);
    const other = runCli(["parity", q8, "--reference", f32, "--tokens", "6", "--prompts", "0"]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/not the reference's types .*compare it layer by layer/);
  }, 60_000);
});
