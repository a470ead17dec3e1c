/**
 * `rosetta A B` and `rosetta trace` as a user runs them (built CLI), for the gaps a QA pass found: a bad
 * --threshold quotes what was given (exit 2), `trace -q` is silent on success, two unrelated networks are one
 * error line (exit 2), and a metadata-only defect (rms eps) against a saved llama.cpp trace fails under
 * --assert-match naming the GGUF key. Real llama.cpp, generated fixtures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runCli } from "../helpers/cli.js";
import { tryBridge } from "../helpers/bridge.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-cli-gaps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let llama = "";
let qwen = "";
beforeAll(async () => {
  const { getFixture } = await import("../fixtures/lib/index.js");
  llama = await getFixture("llama", "F32");
  qwen = await getFixture("qwen2", "F32");
});

const oneLine = (s: string) => s.trim().split("\n").length === 1;

describe("rosetta A B: user errors are one line, exit 2", () => {
  it("--threshold abc says what was given", () => {
    const r = runCli([llama, llama, "--tokens", "1,2", "--threshold", "abc"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--threshold must be a positive number, e\.g\. 1e-3 \(got 'abc'\)/);
    expect(r.stderr).not.toMatch(/NaN/);
    expect(oneLine(r.stderr)).toBe(true);
  });

  it("llama vs qwen2 fixtures of one shape: compared (architecture differs is a finding), not refused", () => {
    const r = runCli([llama, qwen, "--tokens", "1,2", "--assert-match"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/architecture differs/i);
  });
});

describe.skipIf(!tryBridge("default"))("trace -q, and a metadata defect against a saved llama.cpp trace", () => {
  it("rosetta trace -q writes the trace and prints nothing; without -q it says where", () => {
    const q = runCli(["trace", llama, "--engine", "llama.cpp", "--tokens", "1,2,3", "--out", path.join(dir, "q"), "-q"]);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).toBe("");
    const v = runCli(["trace", llama, "--engine", "rosetta", "--tokens", "1,2,3", "--out", path.join(dir, "v")]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toContain(`rosetta: wrote ${path.join(dir, "v.json")}`);
  });

  it("rms eps 1e-5 (file says 1e-6) vs the saved trace: FAILED under --assert-match, key and values named", () => {
    const bad = path.join(dir, "eps.gguf");
    expect(runCli(["convert", llama, bad, "--inject", "rms-eps=1e-5", "-q"]).code).toBe(0);
    const ref = path.join(dir, "ref");
    expect(runCli(["trace", llama, "--engine", "llama.cpp", "-p", "Once upon a time", "--tensors", "--out", ref, "-q"]).code).toBe(0);
    const r = runCli([bad, `${ref}.json`, "--assert-match", "-q"]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain("[ROSETTA] Config: DIFFERS: rmsEps (llama.attention.layer_norm_rms_epsilon): A 0.00001, B 0.000001");
    expect(r.stdout).toMatch(/FAILED: metadata mismatch/);
    const ok = runCli([llama, `${ref}.json`, "--assert-match", "-q"]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/Config: 16 field\(s\) agree/);
  });
});
