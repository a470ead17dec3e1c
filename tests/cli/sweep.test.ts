/**
 * `rosetta sweep` and the run-condition flags as a user runs them (built CLI): the table and JSON, exit codes
 * (1 under --assert-match when a condition diverges, 2 for bad flags and a missing Vulkan device).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";
import { runCli } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/shared.js";

const bridge = tryBridge("default");
const LONG = "Once upon a time there was a little girl named Lily. She loved to play outside in the park with her friends. One day she saw a big red ball";

describe.skipIf(!bridge)("rosetta sweep", () => {
  it("names the diverging condition in the table and JSON; --assert-match exits 1", async () => {
    const f = await getFixture("qwen3", "F32");
    const r = runCli(["sweep", f, "-p", LONG, "--devices", "cpu", "--flash-attn", "on", "--kv-types", "f32,q4_0", "--ubatch", "prompt", "--json", "-", "--assert-match"]);
    expect(r.code, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.rows.map((x: { label: string; status: string }) => `${x.label}:${x.status}`)).toEqual(["fa:match", "fa kv=q4_0:diverged"]);
    expect(j.smallest[0].label).toBe("fa kv=q4_0");
    expect(j.traced.firstDivergence).toMatch(/^blk\.0\.attn@0$/);
    expect(j.traced.comparison.arbiter.closer).toBe("B");
    // progress on stderr, one line per condition
    expect(r.stderr).toMatch(/\[sweep\] 2\/2 fa kv=q4_0: NMSE [\d.e+-]+ diverged/);
  }, 120_000);
  it("against rosetta's exact numerics (--reference exact): the table", async () => {
    const f = await getFixture("qwen2", "F32");
    const r = runCli(["sweep", f, "--tokens", "1,20,30,40,50,60,70", "--devices", "cpu", "--flash-attn", "off", "--kv-types", "f32,f16", "--ubatch", "prompt,3", "--reference", "exact", "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/against rosetta exact numerics/);
    expect(r.stdout).toMatch(/cpu \(reference path\)\s+\d\.\d\de-\d+\s+1e-3\s+7\/7\s+yes\s+match/);
    expect(r.stdout).toMatch(/kv=f16 ub=3 .* match/);
    expect(r.stdout).toMatch(/no condition diverges/);
  }, 120_000);
  it("bad flags and a missing device: one line, exit 2", async () => {
    const f = await getFixture("qwen2", "F32");
    for (const args of [["--kv-types", "q9"], ["--flash-attn", "maybe"], ["--ubatch", "-3"]]) {
      const r = runCli(["sweep", f, "-p", "Hi", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
    }
    // without GGML_VK_VISIBLE_DEVICES llama.cpp skips a CPU-type device (llvmpipe): on a machine without a
    // GPU that is no device at all, and the command says so in one line (a machine with a GPU runs instead)
    const env = { ...process.env, NO_COLOR: "1" } as Record<string, string>;
    delete env.GGML_VK_VISIBLE_DEVICES;
    const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-sweep-"));
    try {
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "bin/rosetta.js"), "trace", f, "--engine", "llama.cpp", "--device", "vulkan", "-p", "Hi", "--out", path.join(dir, "t")], { encoding: "utf8", env, timeout: 60_000 });
      if (r.status === 0) expect(readFileSync(path.join(dir, "t.json"), "utf8")).not.toMatch(/llvmpipe/);
      else {
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
        expect(r.stderr).toMatch(/no Vulkan device found .*GGML_VK_VISIBLE_DEVICES=0|vulkan backend/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
