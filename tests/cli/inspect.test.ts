import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { runCli } from "../helpers/cli.js";
import { BAD_ROW172, BAD_V1, HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";

describe("rosetta CLI basics", () => {
  it("prints help with the commands and exit codes", () => {
    const r = runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("inspect <model>");
    expect(r.stdout).toContain("Exit codes");
  });

  it("bare rosetta prints the help and a usage error on stderr, exit 2", () => {
    const r = runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("rosetta demo");
  });

  it("rejects an unknown flag with one line and exit 2", () => {
    const r = runCli(["inspect", "x.gguf", "--bogus-flag"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/usage error: Unknown argument/);
  });

  it("rejects a missing file and a non-model file with one line and exit 2", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-cli-"));
    const junk = path.join(dir, "junk.bin");
    writeFileSync(junk, "hello world, not a model");
    for (const f of [path.join(dir, "missing.gguf"), junk]) {
      const r = runCli(["inspect", f]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(f);
    }
  });
});

describe.skipIf(!HAVE_SHARED)("rosetta inspect on the real models", () => {
  it("prints stories260K's config, tensor table and the always-on layout log", () => {
    const r = runCli(["inspect", STORIES]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("arch llama: 5 layers, n_embd 64, heads 8 (kv 4, head_dim 8), ffn 172, vocab 512");
    expect(r.stdout).toMatch(/blk\.0\.attn_k\.weight\s+blk\.0\.attn_k\s+\[64, 32\]\s+\[32, 64\]\s+\[32, 64\]\s+f32\s+8192\s+OK/);
    // layout log: one line per tensor on stderr, even without -v
    expect(r.stderr).toMatch(/blk\.0\.ffn_down\.weight\s+\[64, 172\]\s+f32\s+expect \[64, 172\]\s+OK/);
    expect(r.stderr).toContain("layout OK: 48 tensors");
  });

  it("--json gives the machine-readable report and --log-format json gives JSON log lines", () => {
    const r = runCli(["inspect", TINYLLAMA, "--json", "--log-format", "json"]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.config).toMatchObject({ arch: "llama", nLayer: 8, nHead: 16, nVocab: 32000 });
    const q = rep.tensors.find((t: { name: string }) => t.name === "blk.7.attn_q.weight");
    expect(q).toMatchObject({ dtype: "q4_0", fileDims: [64, 64], dims: [64, 64], verdict: "OK", bytes: 64 * 2 * 18 });
    const logs = r.stderr.trim().split("\n").map((l) => JSON.parse(l));
    expect(logs.some((l) => l.component === "layout" && l.detail?.tensor === "output.weight" && l.detail?.verdict === "OK")).toBe(true);
  });

  it("--quiet keeps stdout clean and stderr empty for a good model", () => {
    const r = runCli(["inspect", STORIES, "--quiet", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("bad files: one clear line naming the file (and tensor), exit 2", () => {
    const v1 = runCli(["inspect", BAD_V1]);
    expect(v1.code).toBe(2);
    expect(v1.stderr.trim()).toBe(`rosetta: error: ${BAD_V1}: GGUF v1 is not supported (re-convert the model with a current llama.cpp to get v3)`);
    const row = runCli(["inspect", BAD_ROW172]);
    expect(row.code).toBe(2);
    expect(row.stderr.trim().split("\n")).toHaveLength(1);
    expect(row.stderr).toMatch(/ffn_down\.weight: 172 elements per row, not a multiple of the q8_0 block size \(32\)/);
  });
});
