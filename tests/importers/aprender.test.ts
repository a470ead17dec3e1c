/**
 * The case rosetta was born from, end to end: aprender's APR-path trace (all-token statistics plus a
 * `last_token` block) and GGUF-path trace (last token only) of one model, written in aprender's exact
 * JSON (apr-format.md §11.4/§11.6: sample std, f32 mean) from the real activations of a fixture model,
 * compared like with like; the all-token vs last-token pairing refused with the counts named; a real
 * divergence injected into one layer still found; the q|k|v concatenation compared with the same
 * concatenation derived from rosetta's own full tensors; bad dumps one clear line, exit 2.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { importAprender } from "../../src/importers/aprender.js";
import { f32Bytes, irToGguf, readGgufIr, toF32 } from "../../src/convert/ir.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import type { F32Tensor } from "../../src/trace/safetensors.js";
import type { Trace } from "../../src/trace/types.js";
import { InputError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { goodAndBadRuns, writeIn, type Run } from "./runs.js";
import { runCli } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-aprender-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKENS = [1, 17, 42, 9, 23, 5, 77];

/** realizar's ActivationStats of x (apr-format.md §11.6): f32 mean, sample std around it. */
function stats(x: Float32Array) {
  let nan = 0, inf = 0, zero = 0, sum = 0, n = 0, min = Infinity, max = -Infinity;
  for (const v of x) {
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
    else {
      if (v === 0) zero++;
      sum += v;
      n++;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  const mean = Math.fround(n ? sum / n : 0);
  let ss = 0;
  for (const v of x) if (Number.isFinite(v)) ss += (v - mean) ** 2;
  return { min, max, mean, std_dev: Math.fround(n > 1 ? Math.sqrt(ss / (n - 1)) : 0), nan_count: nan, inf_count: inf, zero_count: zero, count: x.length };
}


function full(r: Run, key: string): Float32Array {
  const p = r.trace.points.find((x) => x.step === 0 && x.key === key)!;
  return r.tensors.get(p.tensor!)!.data;
}

/** aprender's `apr trace --json --payload` object for a run: path "apr" (all tokens + last_token) or "gguf" (last token only). */
function aprenderJson(r: Run, pathKind: "apr" | "gguf", opts: { lastBlock?: boolean } = {}): string {
  const c = r.trace.model.config as Record<string, number>;
  const T = TOKENS.length;
  const lastOf = (x: Float32Array) => x.subarray(((T - 1) * x.length) / T);
  const main = (x: Float32Array) => stats(pathKind === "gguf" ? lastOf(x) : x);
  const qkv = (l: number) => {
    const parts = ["q", "k", "v"].map((p) => full(r, `blk.${l}.${p}`));
    const w = parts.map((p) => p.length / T);
    const out = new Float32Array(T * (w[0] + w[1] + w[2]));
    let o = 0;
    for (let t = 0; t < T; t++) for (let i = 0; i < 3; i++) {
      out.set(parts[i].subarray(t * w[i], (t + 1) * w[i]), o);
      o += w[i];
    }
    return out;
  };
  const silu = (g: Float32Array) => g.map((v) => v / (1 + Math.exp(-v)));
  const layers = Array.from({ length: c.nLayer }, (_, l) => {
    const st: Record<string, Float32Array> = {
      attn_norm: full(r, `blk.${l}.attn_norm`), qkv: qkv(l), attn_out: full(r, `blk.${l}.attn_out`), ffn_norm: full(r, `blk.${l}.ffn_norm`),
      ffn_gate: full(r, `blk.${l}.ffn_gate`), ffn_up: full(r, `blk.${l}.ffn_up`), ffn_silu: silu(full(r, `blk.${l}.ffn_gate`)),
      ffn_swiglu: full(r, `blk.${l}.ffn_act`), ffn_out: full(r, `blk.${l}.ffn_out`), output: full(r, `blk.${l}.l_out`),
    };
    const o: Record<string, unknown> = { layer_idx: l };
    for (const [k, v] of Object.entries(st)) o[k] = main(v);
    if (pathKind === "apr" && opts.lastBlock !== false) {
      o.last_token = Object.fromEntries(Object.entries(st).map(([k, v]) => [k === "ffn_silu" ? "ffn_silu_gate" : k === "ffn_swiglu" ? "ffn_swiglu_inner" : k, stats(lastOf(v))]));
    }
    return o;
  });
  const logits = full(r, "logits");
  const V = c.nVocab;
  return JSON.stringify({
    format: pathKind, architecture: "llama", num_layers: c.nLayer, hidden_dim: c.nEmbd, vocab_size: V, num_heads: c.nHead, num_kv_heads: c.nHeadKv,
    prompt: "(token ids)", encoded_tokens: TOKENS, embedding: main(full(r, "embd")), layers, final_norm: main(full(r, "result_norm")),
    logits_stats: stats(logits.subarray(logits.length - V)), logits: { vocab_size: V, l2_norm: 0, top_k: [] },
  }, null, 2);
}

let good: Run, bad: Run, model = "";
beforeAll(async () => {
  ({ model, good, bad } = await goodAndBadRuns(dir, TOKENS));
});

const write = (name: string, text: string) => writeIn(dir, name, text);

describe("aprender traces (the seed case)", () => {
  it("the sample each statistic covers comes from its count: APR path all tokens + last_token, GGUF path the last token", () => {
    const apr = importAprender("apr.json", aprenderJson(good, "apr")).trace;
    const gguf = importAprender("gguf.json", aprenderJson(good, "gguf")).trace;
    const W = (good.trace.model.config as Record<string, number>).nEmbd;
    const a = apr.points.find((p) => p.key === "blk.0.l_out")!, g = gguf.points.find((p) => p.key === "blk.0.l_out")!;
    expect(a.all?.count).toBe(TOKENS.length * W);
    expect(a.last?.count).toBe(W);
    expect(g.all).toBeNull();
    expect(g.last?.count).toBe(W);
    expect(apr.points.map((p) => p.key)).toContain("blk.1.qkv");
    expect(apr.imported?.notes.join(" ")).toMatch(/ffn_silu .* not compared/);
  });

  it("APR path vs GGUF path of one model: compared like with like (last token), nothing diverges, and never called a full-tensor match", async () => {
    const r = await runComparison({ a: { path: write("apr.json", aprenderJson(good, "apr")) }, b: { path: write("gguf.json", aprenderJson(good, "gguf")) } });
    // aprender keeps no last-token block for the embedding and the final norm: those two are different
    // samples on the two paths (all tokens vs the last token) and are not compared, saying so
    expect(r.points.filter((x) => x.status === "sample-mismatch").map((x) => x.key)).toEqual(["embd", "result_norm"]);
    expect(r.counts.diverged).toBe(0);
    expect(r.points.filter((x) => x.layer !== null).every((x) => x.status === "summary-agree")).toBe(true);
    expect(r.verdict).toBe("INCOMPARABLE");
    const p = r.points.find((x) => x.key === "blk.1.l_out")!;
    expect(p.all).toBeNull();
    expect(p.last?.basis).toBe("summary");
  });

  it("all tokens (an APR build without last_token) against the last token (GGUF path): refused with the counts named", async () => {
    const r = await runComparison({ a: { path: write("apr-old.json", aprenderJson(good, "apr", { lastBlock: false })) }, b: { path: write("gguf2.json", aprenderJson(good, "gguf")) } });
    const W = (good.trace.model.config as Record<string, number>).nEmbd;
    const p = r.points.find((x) => x.key === "blk.0.l_out")!;
    expect(p.status).toBe("sample-mismatch");
    expect(p.note).toBe(`different samples: A summarizes all ${TOKENS.length} token(s) (${TOKENS.length * W} elements), B the last token only (${W} elements): no sample is recorded on both sides`);
    expect(r.verdict).not.toBe("MATCH");
  });

  it("a real divergence in layer 1 (ffn_down x1.5) is found at blk.1.ffn_out from the summaries", async () => {
    const r = await runComparison({ a: { path: write("bad-gguf.json", aprenderJson(bad, "gguf")) }, b: { path: write("apr3.json", aprenderJson(good, "apr")) } });
    expect(r.verdict).toBe("DIVERGED");
    expect(r.firstDivergence?.key).toBe("blk.1.ffn_out");
    expect(r.firstDivergence?.last?.basis).toBe("summary");
  });

  it("against rosetta's own run of the model: qkv is compared with q|k|v derived from the full tensors", async () => {
    const r = await runComparison({ a: { path: write("apr4.json", aprenderJson(good, "apr")) }, b: { path: model }, tokens: TOKENS });
    const qkv = r.points.find((x) => x.key === "blk.1.qkv")!;
    expect(qkv.status).toBe("summary-agree");
    expect(r.counts.diverged + r.counts["sample-mismatch"]).toBe(0);
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]);
  });

  it("bad dumps: one clear line (InputError; exit 2 from the CLI)", () => {
    const ok = JSON.parse(aprenderJson(good, "apr"));
    const cases: [string, unknown][] = [
      ["truncated", aprenderJson(good, "apr").slice(0, 500)],
      ["wrong count", { ...ok, embedding: { ...ok.embedding, count: 999 } }],
      ["layers reordered", { ...ok, layers: [...ok.layers].reverse() }],
      ["missing layers", { ...ok, layers: ok.layers.slice(1) }],
      ["bad std", { ...ok, final_norm: { ...ok.final_norm, std_dev: -1 } }],
      ["tokens", { ...ok, encoded_tokens: [] }],
    ];
    for (const [what, v] of cases) {
      const text = typeof v === "string" ? v : JSON.stringify(v);
      expect(() => importAprender("x.json", text), what).toThrow(InputError);
      try {
        importAprender("x.json", text);
      } catch (e) {
        expect((e as Error).message, what).not.toContain("\n");
      }
    }
    const f = write("broken.json", JSON.stringify({ ...ok, embedding: { ...ok.embedding, count: 999 } }));
    const r = runCli(["import", f, "--out", path.join(dir, "o")]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/embedding: count 999 is neither all 7 token\(s\)/);
  });

  it("rosetta import writes a rosetta trace that reads back and compares the same", async () => {
    const f = write("apr5.json", aprenderJson(good, "apr"));
    const r = runCli(["import", f, "--out", path.join(dir, "imported")]);
    expect(r.code, r.stderr).toBe(0);
    const back = await runComparison({ a: { path: path.join(dir, "imported.json") }, b: { path: write("gguf5.json", aprenderJson(good, "gguf")) } });
    expect(back.counts.diverged).toBe(0);
    expect(back.points.filter((x) => x.status === "sample-mismatch").map((x) => x.key)).toEqual(["embd", "result_norm"]);
  });
});
