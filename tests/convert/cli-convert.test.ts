/**
 * `rosetta convert` through the real CLI (bin/rosetta.js over dist/: run `npx tsc -p tsconfig.json`
 * first), and the load-time layout log of an APR file with Hugging Face names (a qwen2 fixture becomes
 * `model.layers.N.self_attn.q_proj.weight` ...): OK for every role tensor, TRANSPOSE NEEDED for a
 * weight stored transposed. Bad input: one line on stderr, exit code 2.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { loadApr } from "../../src/formats/apr.js";
import { runCli } from "../helpers/cli.js";
import { getFixture } from "../fixtures/lib/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-cli-convert-"));

interface JsonTensor { name: string; role: string | null; dims: number[]; dtype: string; verdict: string }

describe("rosetta convert (CLI)", () => {
  it("qwen2 GGUF -> APR: HF names, inspect --json works, the layout log says OK", async () => {
    const src = await getFixture("qwen2", "Q4_K_M");
    const out = path.join(dir, "qwen2.apr");
    const c = runCli(["convert", src, out]);
    expect(c.stderr).not.toMatch(/ERROR|WARN/);
    expect(c.code).toBe(0);
    const r = runCli(["inspect", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { config: Record<string, unknown>; tensors: JsonTensor[] };
    expect(rep.config).toMatchObject({ arch: "qwen2", nLayer: 2, nEmbd: 256, nHead: 4, nHeadKv: 2, qkvBias: true });
    const q = rep.tensors.find((t) => t.name === "model.layers.1.self_attn.q_proj.weight");
    expect(q).toMatchObject({ dims: [256, 256], verdict: "OK" });
    const k = rep.tensors.find((t) => t.name === "model.layers.0.self_attn.k_proj.weight");
    expect(k).toMatchObject({ dims: [128, 256], verdict: "OK" });
    expect(rep.tensors.find((t) => t.name === "model.layers.0.mlp.down_proj.weight")).toMatchObject({ dims: [256, 512], verdict: "OK" });
    for (const t of rep.tensors) expect(["OK", "UNUSED"], t.name).toContain(t.verdict);
    // the load log (stderr): one summary line by default; with -v one line per tensor with its HF name and verdict
    expect(r.stderr).toMatch(/layout OK: \d+ tensors/);
    expect(r.stderr).not.toMatch(/self_attn\.k_proj\.weight\s+\[128, 256\]/);
    const v = runCli(["-v", "inspect", out, "--json"]);
    expect(v.stderr).toMatch(/model\.layers\.0\.self_attn\.k_proj\.weight\s+\[128, 256\]\s+\S+\s+expect \[128, 256\]\s+OK/);
    expect(v.stderr).toMatch(/model\.layers\.1\.mlp\.gate_proj\.weight\s+\[512, 256\]\s+\S+\s+expect \[512, 256\]\s+OK/);
    // and the loader maps those names onto the canonical roles the engine reads
    const m = await loadApr(out, { logLayout: false });
    expect(m.byRole.get("blk.1.attn_q")!.name).toBe("model.layers.1.self_attn.q_proj.weight");
    expect(m.byRole.get("blk.0.attn_k_bias")!.name).toBe("model.layers.0.self_attn.k_proj.bias");
  });

  it("a weight stored transposed (HF name) is flagged TRANSPOSE NEEDED", async () => {
    const src = await getFixture("qwen2", "F32");
    const out = path.join(dir, "qwen2-transposed.apr");
    const c = runCli(["convert", src, out, "--inject", "transpose:attn_k@1"]);
    expect(c.code, c.stderr).toBe(0);
    const r = runCli(["inspect", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { tensors: JsonTensor[] };
    expect(rep.tensors.find((t) => t.name === "model.layers.1.self_attn.k_proj.weight")).toMatchObject({ dims: [256, 128], verdict: "TRANSPOSE NEEDED" });
    expect(rep.tensors.find((t) => t.name === "model.layers.0.self_attn.k_proj.weight")).toMatchObject({ verdict: "OK" });
    expect(r.stderr).toMatch(/WARN layout: model\.layers\.1\.self_attn\.k_proj\.weight\s+\[256, 128\]\s+f32\s+expect \[128, 256\]\s+TRANSPOSE NEEDED/);
    expect(r.stderr).toMatch(/1 of \d+ tensors do not have the layout the engine expects/);
  });

  it("--quantize apr-q8 through the CLI: inspect reads it, diff-weights decodes it, trace runs it", async () => {
    const out = path.join(dir, "llama-q8.apr");
    expect(runCli(["convert", await getFixture("llama", "F32"), out, "--quantize", "apr-q8"]).code).toBe(0);
    const r = runCli(["inspect", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { tensors: JsonTensor[] };
    expect(rep.tensors.find((t) => t.name === "blk.0.ffn_up.weight")).toMatchObject({ dtype: "apr_q8", verdict: "OK" });
    // diff-weights dequantizes APR_Q8 natively: every quantized matrix is close to the F32 source
    const d = runCli(["diff-weights", await getFixture("llama", "F32"), out, "-q"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/blk\.0\.ffn_up: close, A F32 \[512, 256\], B APR_Q8 \[512, 256\], SQNR \d+\.\d+ dB/);
    // and `rosetta trace --engine rosetta` runs it (APR_Q8 matmuls), both numerics modes
    for (const mode of ["ggml", "exact"]) {
      const base = path.join(dir, `llama-q8-${mode}`);
      const t = runCli(["trace", out, "--engine", "rosetta", "--prompt", "Once upon a time", "--gen", "2", "--numerics", mode, "--out", base]);
      expect(t.code, t.stderr).toBe(0);
      const tr = JSON.parse(readFileSync(`${base}.json`, "utf8")) as { points: { key: string; all: { nan: number; inf: number; count: number } }[]; input: { generated: number[] } };
      expect(tr.input.generated).toHaveLength(2);
      expect(tr.points.some((p) => p.key === "blk.1.ffn_out")).toBe(true);
      for (const p of tr.points) expect(p.all.nan + p.all.inf, `${mode} ${p.key}`).toBe(0);
    }
  });

  it("bad input: one line, exit 2", () => {
    const junk = path.join(dir, "junk.gguf");
    writeFileSync(junk, "not a model at all");
    const cases: string[][] = [
      ["convert", junk, path.join(dir, "x.apr")],
      ["convert", path.join(dir, "missing.gguf"), path.join(dir, "y.apr")],
      ["convert", junk, path.join(dir, "z.txt")],
    ];
    for (const args of cases) {
      const r = runCli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), `${args.join(" ")}: ${r.stderr}`).toHaveLength(1);
    }
  });
});
