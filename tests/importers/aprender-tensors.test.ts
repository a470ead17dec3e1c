/**
 * aprender's `--save-tensor` APRT stage dumps, end to end: a directory of dumps written in the exact APRT
 * layout (apr-format.md §11.5) from a fixture's real activations (rosetta's own trace with full tensors),
 * under the several file-name patterns accepted, imported with full tensors, and compared against the
 * model: every point with a full tensor on both sides matches exactly (the engine is deterministic);
 * a corrupted dump is one clear line (exit 2 from `rosetta import DIR`).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { importAprenderTensors, parseDumpName } from "../../src/importers/aprender-tensors.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { writeTrace } from "../../src/trace/io.js";
import type { F32Tensor } from "../../src/trace/safetensors.js";
import type { Trace } from "../../src/trace/types.js";
import { InputError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { runCli } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-aprt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKENS = [1, 17, 42, 9, 23, 5, 77];

/** One APRT file: "APRT", u32 layer (0xFFFFFFFF whole-model), u32 n, n f32 LE. */
function aprt(layer: number | null, x: Float32Array): Buffer {
  const b = Buffer.alloc(12 + 4 * x.length);
  b.write("APRT", 0, "latin1");
  b.writeUInt32LE(layer === null ? 0xffffffff : layer, 4);
  b.writeUInt32LE(x.length, 8);
  for (let i = 0; i < x.length; i++) b.writeFloatLE(x[i], 12 + 4 * i);
  return b;
}

let run: { trace: Trace; tensors: Map<string, F32Tensor> }, model = "";
const full = (key: string) => {
  const p = run.trace.points.find((x) => x.step === 0 && x.key === key)!;
  return run.tensors.get(p.tensor!)!.data;
};

const LAYER_STAGES: [string, string][] = [
  ["attn_norm", "attn_norm"], ["q_post_rope", "q_rope"], ["k_post_rope", "k_rope"], ["attn_softmax", "kq_softmax"], ["attention", "attn"],
  ["attn_out", "attn_out"], ["post_attn_residual", "ffn_inp"], ["ffn_norm", "ffn_norm"], ["ffn_gate", "ffn_gate"], ["ffn_up", "ffn_up"],
  ["ffn_swigl", "ffn_act"], ["ffn_out", "ffn_out"], ["post_ffn_residual", "l_out"],
];

/** A dump directory of every stage, file names in the three accepted patterns; lm_head all positions or the last. */
function writeDumps(name: string, opts: { lastLogits?: boolean; json?: boolean } = {}): string {
  const d = path.join(dir, name);
  mkdirSync(d, { recursive: true });
  const c = run.trace.model.config as Record<string, number>;
  const T = TOKENS.length;
  writeFileSync(path.join(d, "embedding.bin"), aprt(null, full("embd")));
  for (let l = 0; l < c.nLayer; l++) {
    const fileOf = (stage: string) => (l === 0 ? `${stage}_L${l}.bin` : `layer${l}_${stage}.aprt`);
    for (const [stage, point] of LAYER_STAGES) writeFileSync(path.join(d, fileOf(stage)), aprt(l, full(`blk.${l}.${point}`)));
    // q|k|v per token (the fixture has no QKV bias: qkv_matmul is the projection output)
    const parts = ["q", "k", "v"].map((p) => full(`blk.${l}.${p}`));
    const w = parts.map((p) => p.length / T);
    const qkv = new Float32Array(T * (w[0] + w[1] + w[2]));
    let o = 0;
    for (let t = 0; t < T; t++) for (let i = 0; i < 3; i++) {
      qkv.set(parts[i].subarray(t * w[i], (t + 1) * w[i]), o);
      o += w[i];
    }
    writeFileSync(path.join(d, fileOf("qkv_matmul")), aprt(l, qkv));
    writeFileSync(path.join(d, fileOf("ffn_silu")), aprt(l, full(`blk.${l}.ffn_gate`).map((v) => v / (1 + Math.exp(-v)))));
  }
  writeFileSync(path.join(d, "final_norm.bin"), aprt(null, full("result_norm")));
  const logits = full("logits");
  writeFileSync(path.join(d, "lm_head.bin"), aprt(null, opts.lastLogits ? logits.subarray(logits.length - c.nVocab) : logits));
  if (opts.json) {
    writeFileSync(path.join(d, "trace.json"), JSON.stringify({ format: "apr", num_layers: c.nLayer, hidden_dim: c.nEmbd, vocab_size: c.nVocab, num_heads: c.nHead, num_kv_heads: c.nHeadKv, encoded_tokens: TOKENS, layers: [] }));
  }
  return d;
}

beforeAll(async () => {
  model = await getFixture("llama", "F32");
  run = await runRosettaTrace({ model, tokens: TOKENS, full: ["*"], hash: false, kq: true });
});

describe("aprender --save-tensor APRT dumps", () => {
  it("file names: <stage>, <stage>_L<n>, layer<n>_<stage>, blk.<n>.<stage>; unknown names are not mapped", () => {
    expect(parseDumpName("embedding.bin")).toEqual({ stage: "embedding", layer: null });
    expect(parseDumpName("ffn_up_L3.bin")).toEqual({ stage: "ffn_up", layer: 3 });
    expect(parseDumpName("layer12_attn_softmax.aprt")).toEqual({ stage: "attn_softmax", layer: 12 });
    expect(parseDumpName("blk.2.ffn_swigl.bin")).toEqual({ stage: "ffn_swiglu", layer: 2 });
    expect(parseDumpName("layer_0_post_ffn_residual")).toEqual({ stage: "post_ffn_residual", layer: 0 });
    expect(parseDumpName("notes.txt")).toBeNull();
  });

  it("rosetta's kq_softmax layout is aprender's: [heads x T x T], zero above the causal diagonal", () => {
    const p = run.trace.points.find((x) => x.key === "blk.0.kq_softmax")!;
    const [h, t, k] = p.shape;
    expect([t, k]).toEqual([TOKENS.length, TOKENS.length]);
    const x = full("blk.0.kq_softmax");
    for (let i = 0; i < h; i++) for (let r = 0; r < t; r++) for (let c = r + 1; c < k; c++) expect(x[(i * t + r) * k + c]).toBe(0);
  });

  it("imported with full tensors, compared against the model: every point with tensors on both sides matches exactly", async () => {
    const d = writeDumps("all", { json: true });
    const imp = importAprenderTensors(d);
    const keys = imp.trace.points.map((p) => p.key);
    expect(keys).toContain("blk.1.kq_softmax");
    expect(keys).toContain("blk.1.qkv");
    expect(keys.indexOf("blk.0.qkv")).toBe(keys.indexOf("blk.0.attn_norm") + 1);
    expect(imp.tensors.size).toBe(imp.trace.points.length);
    expect(imp.trace.imported?.notes.join(" ")).toMatch(/ffn_silu has no rosetta capture point/);
    const f = writeTrace(path.join(dir, "imported-all"), imp.trace, imp.tensors);
    const r = await runComparison({ a: { path: f }, b: { path: model }, tokens: TOKENS });
    const both = r.points.filter((p) => p.all?.basis === "tensor");
    // every imported point except the derived qkv (rosetta derives it from its own q, k, v: a summary) has a tensor on both sides
    expect(both.length).toBe(imp.trace.points.length - (run.trace.model.config as Record<string, number>).nLayer);
    for (const p of both) {
      expect(p.status, p.key).toBe("match");
      expect(p.all!.nmse, p.key).toBe(0);
    }
    expect(r.points.find((p) => p.key === "blk.1.qkv")?.status).toBe("summary-agree");
    expect(r.counts.diverged + r.counts["sample-mismatch"]).toBe(0);
  });

  it("lm_head of the last position only (from its count); tokens from --tokens without a trace JSON", async () => {
    const d = writeDumps("last", { lastLogits: true });
    expect(() => importAprenderTensors(d)).toThrow(/the prompt tokens are unknown/);
    const imp = importAprenderTensors(d, { tokens: TOKENS });
    const lg = imp.trace.points.find((p) => p.key === "logits")!;
    expect(lg.all).toBeNull();
    expect(lg.tensor).toBeUndefined();
    expect(lg.last?.count).toBe((run.trace.model.config as Record<string, number>).nVocab);
    const r = await runComparison({ a: { path: writeTrace(path.join(dir, "imported-last"), imp.trace, imp.tensors) }, b: { path: model }, tokens: TOKENS });
    expect(r.points.find((p) => p.key === "logits")?.status).toBe("summary-agree");
    expect(r.points.find((p) => p.key === "blk.1.l_out")?.status).toBe("match");
  });

  it("bad dumps: one clear line (InputError; exit 2 from rosetta import DIR)", () => {
    const d = writeDumps("bad", { json: true });
    const cases: [string, Buffer | null, RegExp][] = [
      ["ffn_up_L0.bin", aprt(0, full("blk.0.ffn_up")).subarray(0, 100), /truncated APRT dump/],
      ["ffn_up_L0.bin", Buffer.concat([Buffer.from("XXXX"), aprt(0, full("blk.0.ffn_up")).subarray(4)]), /not an APRT dump/],
      ["attn_norm_L0.bin", aprt(0, full("blk.0.attn_norm").subarray(0, 70)), /attn_norm_L0\.bin \(attn_norm, layer 0\): 70 elements are 7 token\(s\) x 10, expected width \d+/],
      ["attn_norm_L0.bin", aprt(0, full("blk.0.attn_norm").subarray(1)), /not 7 token\(s\) x a width/],
      ["mystery.bin", aprt(0, full("blk.0.ffn_up")), /mystery\.bin: cannot tell its stage from the file name/],
      ["ffn_out_L0.bin", aprt(1, full("blk.0.ffn_out")), /the name says layer 0, the header 1/],
    ];
    for (const [i, [name, bytes, re]] of cases.entries()) {
      const sub = path.join(dir, `bad-${i}`);
      rmSync(sub, { recursive: true, force: true });
      mkdirSync(sub);
      for (const f of ["embedding.bin", "ffn_up_L0.bin", "attn_norm_L0.bin", "ffn_out_L0.bin", "trace.json"]) writeFileSync(path.join(sub, f), readOf(d, f));
      writeFileSync(path.join(sub, name), bytes!);
      expect(() => importAprenderTensors(sub), name).toThrow(InputError);
      try {
        importAprenderTensors(sub);
      } catch (e) {
        expect((e as Error).message, name).toMatch(re);
        expect((e as Error).message, name).not.toContain("\n");
      }
    }
    writeFileSync(path.join(d, "ffn_up_L0.bin"), aprt(0, full("blk.0.ffn_up")).subarray(0, 100));
    const r = runCli(["import", d, "--out", path.join(dir, "o")]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/ffn_up_L0\.bin: truncated APRT dump/);
  });

  it("rosetta import DIR --tokens writes a trace with its tensors", async () => {
    const d = writeDumps("cli", { lastLogits: true });
    const r = runCli(["import", d, "--out", path.join(dir, "cli"), "--tokens", TOKENS.join(",")]);
    expect(r.code, r.stderr).toBe(0);
    const c = await runComparison({ a: { path: path.join(dir, "cli.json") }, b: { path: model }, tokens: TOKENS });
    expect(c.counts.diverged).toBe(0);
    expect(c.points.find((p) => p.key === "blk.0.ffn_act")?.status).toBe("match");
  });
});

describe("a folder of APRT dumps as a side of `rosetta A B`, without importing it first", () => {
  it("rosetta DIR MODEL --tokens: compared in place, full tensors verified", async () => {
    const d = writeDumps("inplace", { lastLogits: true });
    const c = await runComparison({ a: { path: d }, b: { path: model }, tokens: TOKENS });
    expect(c.a.imported?.format).toBe("aprender-tensors");
    expect(c.counts.diverged).toBe(0);
    expect(c.points.find((p) => p.key === "blk.0.ffn_act")?.status).toBe("match");
    const r = runCli([d, model, "--tokens", TOKENS.join(","), "--json", "-"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).a.imported.format).toBe("aprender-tensors");
  });

  it("a folder that is no dump, or an engine given for it: one line, exit 2", () => {
    const empty = path.join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    const r1 = runCli([empty, model, "--tokens", "1,2"]);
    expect(r1.code).toBe(2);
    expect(r1.stderr.trim().split("\n")).toHaveLength(1);
    const d = writeDumps("engine", { lastLogits: true });
    const r2 = runCli([d, model, "--tokens", TOKENS.join(","), "--engine-a", "llama.cpp"]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/is a folder of aprender-tensors dumps, not a model to run/);
  });
});

function readOf(d: string, f: string): Buffer {
  return readFileSync(path.join(d, f));
}
