/**
 * The defect corpus on a real model (stories260K, llama F32): each injected defect, GGUF vs GGUF and APR
 * vs GGUF, must get the right diagnosis at the right place; the identical pair passes; a quantized copy
 * passes with precision drift; a NaN weight fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { runComparison } from "../../src/pipeline/run-comparison.js";
import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { irToGguf, readGgufIr } from "../../src/convert/ir.js";
import { irToApr } from "../../src/convert/to-apr.js";
import { HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-defects-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function variant(defect: string | null, format: "gguf" | "apr", opts: { quantize?: "q4k" | "q6k" } = {}): Promise<string> {
  const ir = await readGgufIr(STORIES);
  if (defect) injectDefect(ir, parseDefect(defect), format);
  const file = path.join(dir, `${(defect ?? "clean").replace(/[^a-z0-9]/gi, "_")}-${opts.quantize ?? ""}.${format}`);
  writeFileSync(file, format === "apr" ? await irToApr(ir, opts) : irToGguf(ir));
  return file;
}

const CASES: [string, "gguf" | "apr", string, string][] = [
  ["transpose:attn_q@1", "gguf", "layout-transposed", "blk.1.attn_q"],
  ["transpose:ffn_up@2", "gguf", "layout-transposed", "blk.2.ffn_up"],
  ["transpose-data:attn_output@0", "gguf", "layout-transposed", "blk.0.attn_output"],
  ["transpose:attn_q@0", "apr", "layout-transposed", "blk.0.attn_q"],
  ["qk-permute@1", "gguf", "qk-rope-permutation", "blk.1.attn_q"],
  ["qk-permute@0", "apr", "qk-rope-permutation", "blk.0.attn_q"],
  ["swap-gate-up@3", "gguf", "tensors-swapped", "blk.3.ffn_gate"],
  ["swap-gate-up@0", "apr", "tensors-swapped", "blk.0.ffn_gate"],
  ["rms-eps=1e-2", "gguf", "metadata-mismatch", "metadata"],
  ["rope-base=500000", "apr", "metadata-mismatch", "metadata"],
  ["rope-layout", "apr", "rope-layout-mismatch", "blk.0.attn_q"],
  ["embed-shift", "gguf", "rows-permuted", "token_embd"],
];

describe.skipIf(!HAVE_SHARED)("defect corpus on stories260K", () => {
  it("the identical pair (APR vs GGUF) matches and exits 0 under --assert-match", async () => {
    const r = await runComparison({ a: { path: await variant(null, "apr") }, b: { path: STORIES }, prompt: "Once upon a time" });
    expect(r.verdict).toBe("MATCH");
    expect(r.findings.filter((f) => f.fatal)).toEqual([]);
  });

  for (const [defect, format, id, where] of CASES) {
    it(`${defect} (${format.toUpperCase()} vs GGUF) -> ${id} at ${where}`, async () => {
      const r = await runComparison({ a: { path: await variant(defect, format) }, b: { path: STORIES }, prompt: "Once upon a time" });
      expect(r.verdict).toBe("DIVERGED");
      expect(r.diagnosis?.id).toBe(id);
      expect(r.diagnosis?.where).toBe(where);
    });
  }

  it("swap-qk needs n_head == n_head_kv: refused on stories260K, diagnosed on TinyLLama-v0 (Q4_0 rows swapped)", async () => {
    const ir = await readGgufIr(STORIES);
    expect(() => injectDefect(ir, parseDefect("swap-qk@0"), "gguf")).toThrow(/n_head == n_head_kv/);
    const tiny = await readGgufIr(TINYLLAMA);
    injectDefect(tiny, parseDefect("swap-qk@2"), "gguf");
    const file = path.join(dir, "tiny-swap-qk.gguf");
    writeFileSync(file, irToGguf(tiny));
    const r = await runComparison({ a: { path: file }, b: { path: TINYLLAMA }, prompt: "Once upon a time" });
    expect(`${r.diagnosis?.id} at ${r.diagnosis?.where}`).toBe("tensors-swapped at blk.2.attn_q");
    expect(r.firstDivergence?.key).toBe("blk.2.q");
  });

  it("lm-head-wrong is refused here: stories260K's output.weight is a byte copy of token_embd (why it used to MATCH)", async () => {
    const ir = await readGgufIr(STORIES);
    expect(() => injectDefect(ir, parseDefect("lm-head-wrong"), "gguf")).toThrow(/already equals token_embd.weight byte for byte/);
  });

  it("a NaN in one weight fails", async () => {
    const ir = await readGgufIr(STORIES);
    const t = ir.tensors.find((x) => x.name === "blk.2.ffn_down.weight")!;
    const data = new Float32Array(t.data.slice().buffer);
    data[5] = NaN;
    t.data = new Uint8Array(data.buffer);
    const file = path.join(dir, "nan.gguf");
    writeFileSync(file, irToGguf(ir));
    const r = await runComparison({ a: { path: file }, b: { path: STORIES }, prompt: "Once upon a time" });
    expect(r.verdict).toBe("DIVERGED");
    expect(r.firstDivergence?.status).toBe("nonfinite");
    expect(r.firstDivergence?.key).toBe("blk.2.ffn_out");
  });
});
