/**
 * `rosetta A B`, `rosetta diff-weights` and `rosetta demo` as a user runs them (built CLI): exit codes,
 * text summary, --json and --junit files.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { runCli } from "../helpers/cli.js";
import { HAVE_SHARED, STORIES } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-cli-compare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("rosetta demo", () => {
  it("diagnoses the layout defect in a generated pair, quickly, with no files", () => {
    const t0 = Date.now();
    const json = path.join(dir, "demo.json");
    const junit = path.join(dir, "demo.xml");
    const r = runCli(["demo", "--json", json, "--junit", junit]);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.stdout).toMatch(/FAILED: layout transposed at Layer 0 q/);
    expect(r.stdout).toMatch(/Recommendation: transpose at load/);
    expect(r.stdout).not.toMatch(/\x1b\[/); // NO_COLOR
    const j = JSON.parse(readFileSync(json, "utf8"));
    expect(j.schema).toBe("rosetta-comparison");
    expect(j.version).toBe(1);
    expect(j.diagnosis.id).toBe("layout-transposed");
    const x = readFileSync(junit, "utf8");
    expect(x).toMatch(/<testcase classname="rosetta.layer.0" name="blk.0.q step 0"><failure type="divergence"/);
  });
});

describe("rosetta A B: usage errors exit 2", () => {
  it("a missing file", () => {
    const r = runCli(["/nonexistent/a.gguf", "/nonexistent/b.gguf", "-p", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot open file/);
  });
  it("a bad --threshold", () => {
    const r = runCli([STORIES, STORIES, "-p", "x", "--threshold", "-1"]);
    expect(r.code).toBe(2);
  });
  it("no side given", () => {
    expect(runCli([]).code).toBe(2);
  });
});

describe.skipIf(!HAVE_SHARED)("rosetta A B on stories260K", () => {
  it("the same model against itself matches: exit 0 under --assert-match", () => {
    const r = runCli([STORIES, STORIES, "-p", "Once upon a time", "--gen", "2", "--assert-match"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASSED: every compared point matches/);
  });

  it("a transposed weight fails under --assert-match (exit 1) and diff-weights names it", () => {
    const bad = path.join(dir, "t.gguf");
    expect(runCli(["convert", STORIES, bad, "--inject", "transpose:attn_q@1"]).code).toBe(0);
    const r = runCli([bad, STORIES, "-p", "Once upon a time", "--assert-match"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED: layout transposed at Layer 1 q/);
    const w = runCli(["diff-weights", bad, STORIES, "--assert-match"]);
    expect(w.code).toBe(1);
    expect(w.stdout).toMatch(/LAYOUT TRANSPOSED at blk.1.attn_q/);
    expect(runCli(["diff-weights", STORIES, STORIES, "--assert-match"]).code).toBe(0);
  });

  it("a saved trace (written by `rosetta trace --engine llama.cpp`) compares against a model run", () => {
    const base = path.join(dir, "s");
    const t = runCli(["trace", STORIES, "--engine", "llama.cpp", "--prompt", "Once upon a time", "--gen", "1", "--tensors", "--out", base]);
    expect(t.code, t.stderr).toBe(0);
    const r = runCli([`${base}.json`, STORIES, "--assert-match"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASSED/);
    expect(r.stdout).toMatch(/Generated: A \[\d+\]  B \[\d+\]/);
  });

  it("lm-head-wrong is refused on stories260K: its output.weight is already a byte copy of token_embd", () => {
    const r = runCli(["convert", STORIES, path.join(dir, "lm.gguf"), "--inject", "lm-head-wrong"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already equals token_embd.weight byte for byte/);
  });
});

describe("rosetta A B --engine-b llama.cpp (fixture)", () => {
  it("F32 fixture against real llama.cpp: exit 0 under --assert-match, compact report", async () => {
    const { getFixture } = await import("../fixtures/lib/index.js");
    const f = await getFixture("qwen2", "F32");
    const r = runCli([f, f, "--engine-b", "llama.cpp", "-p", "Once upon a time there was a little girl named Lily", "--gen", "2", "--assert-match"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/B: .*\(llama\.cpp/);
    expect(r.stdout).toMatch(/Reference noise \(measured\): run to run NMSE 0/);
    expect(r.stdout).toMatch(/PASSED: every compared point matches/);
    expect(r.stdout.split("\n").length).toBeLessThan(20); // compact: passing layers merged
  });
});
