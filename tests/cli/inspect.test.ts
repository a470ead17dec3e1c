import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { irToGguf, readGgufIr } from "../../src/convert/ir.js";
import { goldenFile } from "../formats/apr/golden.js";
import { encodeGguf } from "../fixtures/lib/gguf-writer.js";
import { buildModel } from "../fixtures/lib/models.js";
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
    // the load log: one summary line by default (the table is on stdout); one line per tensor with -v
    expect(r.stderr).toContain("layout OK: 48 tensors");
    expect(r.stderr).not.toMatch(/blk\.0\.ffn_down\.weight\s+\[64, 172\]\s+f32\s+expect/);
    const v = runCli(["-v", "inspect", STORIES]);
    expect(v.stderr).toMatch(/blk\.0\.ffn_down\.weight\s+\[64, 172\]\s+f32\s+expect \[64, 172\]\s+OK/);
  });

  it("--json gives the machine-readable report and --log-format json gives JSON log lines", () => {
    const r = runCli(["-v", "inspect", TINYLLAMA, "--json", "--log-format", "json"]);
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

describe("rosetta inspect reads any valid file; running one the engine cannot run is refused", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-inspect-"));
  const put = (name: string, b: Uint8Array) => {
    const p = path.join(dir, name);
    writeFileSync(p, b);
    return p;
  };

  it("a GGUF with general.architecture = gpt2: listed with 'not runnable by the engine', exit 0; trace: exit 2", () => {
    const p = put("gpt2.gguf", encodeGguf([["general.architecture", { type: "string", value: "gpt2" }], ["gpt2.block_count", { type: "u32", value: 1 }]], [
      { name: "token_embd.weight", ne: [4, 8], data: new Float32Array(32) },
      { name: "blk.0.attn_qkv.weight", ne: [4, 12], data: new Float32Array(48) },
    ]));
    const r = runCli(["inspect", p]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${p}  (GGUF v3, `);
    expect(r.stdout).toContain("architecture: gpt2\nnot runnable by the engine: architecture 'gpt2' is not supported (supported: llama, mistral, qwen2, qwen3)");
    expect(r.stdout).toContain("checksums: none (GGUF carries no checksums)");
    expect(r.stdout).toContain('  general.architecture = "gpt2"');
    expect(r.stdout).toMatch(/blk\.0\.attn_qkv\.weight\s+-\s+\[4, 12\]\s+\[12, 4\]\s+-\s+f32\s+192\s+-/);
    const j = runCli(["inspect", p, "--json", "--quiet"]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ architecture: "gpt2", runnable: false, config: null, tensors: [{ name: "token_embd.weight", role: "token_embd", dims: [8, 4] }, {}] });
    const t = runCli(["trace", p, "--engine", "rosetta", "--tokens", "1", "--out", path.join(dir, "t"), "--quiet"]);
    expect(t.code).toBe(2);
    expect(t.stderr.trim()).toBe(`rosetta: error: ${p}: architecture 'gpt2' is not supported (supported: llama, mistral, qwen2, qwen3)`);
  });

  it("an APR v2 linear model (aprender's golden file): metadata, tensors, checksums, exit 0", () => {
    const p = put("golden.apr", goldenFile());
    const r = runCli(["inspect", p]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("not runnable by the engine: architecture 'linear_regression' is not supported");
    expect(r.stdout).toContain("checksums: header CRC32 0x3bc08c02 verified; footer CRC32 0x550f3f35 verified");
    expect(r.stdout).toContain('  name = "golden-v2"');
    expect(r.stdout).toMatch(/weights\s+-\s+\[8\]\s+\[8\]\s+-\s+f32\s+32\s+-/);
  });

  it("a qwen3 GGUF without q/k norms: inspect lists it (config and reason), trace refuses it with one line", async () => {
    const ir = await readGgufIr(put("qwen3.gguf", buildModel("qwen3")));
    ir.tensors = ir.tensors.filter((t) => !/attn_[qk]_norm/.test(t.name));
    const p = put("qwen3-no-qknorm.gguf", irToGguf(ir));
    const why = "tensor blk.0.attn_q_norm.weight is missing (required by qwen3); qwen3 normalizes q and k per head (llama.cpp refuses the file too)";
    const r = runCli(["inspect", p, "--quiet"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("arch qwen3: 2 layers");
    expect(r.stdout).toContain(`not runnable by the engine: ${why}`);
    const t = runCli(["trace", p, "--engine", "rosetta", "--tokens", "1", "--out", path.join(dir, "t2"), "--quiet"]);
    expect(t.code).toBe(2);
    expect(t.stderr.trim()).toBe(`rosetta: error: ${p}: ${why}`);
  });
});
