/**
 * The defect corpus on the synthetic fixtures (llama, qwen2, qwen3; tests/fixtures/generate.ts): every
 * defect of docs/defects.md, injected into a copy of one model written as GGUF and as APR, compared with
 * the clean GGUF: the right diagnosis at the right layer and point. Plus: the identical pair passes; F32
 * vs Q8_0 of one model passes with precision drift reported; a NaN anywhere fails under --assert-match.
 * Needs no shared files (F32 fixtures are written by rosetta's writer; Q4_K_M / Q8_0 by the llama.cpp
 * quantizer through the bridge). Each comparison runs in well under a second.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { exitCodeOf } from "../../src/cli/commands/CompareCommand.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { irToGguf, readGgufIr, toF32, type ModelIr } from "../../src/convert/ir.js";
import { irToApr } from "../../src/convert/to-apr.js";
import { ARCHS, getFixture, type FixtureArch } from "../fixtures/lib/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-defects-fx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROMPT = "Once upon a time there was a little girl";
const F32: Partial<Record<FixtureArch, string>> = {};
const Q4KM: Partial<Record<FixtureArch, string>> = {};

beforeAll(async () => {
  for (const arch of ARCHS) {
    F32[arch] = await getFixture(arch, "F32");
    Q4KM[arch] = await getFixture(arch, "Q4_K_M");
  }
});

let n = 0;
async function write(ir: ModelIr, format: "gguf" | "apr"): Promise<string> {
  const file = path.join(dir, `v${n++}.${format}`);
  writeFileSync(file, format === "apr" ? await irToApr(ir) : irToGguf(ir));
  return file;
}

async function variant(base: string, defect: string | null, format: "gguf" | "apr"): Promise<string> {
  const ir = await readGgufIr(base);
  if (defect) injectDefect(ir, parseDefect(defect), format);
  return write(ir, format);
}

/** [defect, expected diagnosis id, expected where (role key), archs it applies to, base type]. */
type Case = [string, string, string, readonly FixtureArch[], "F32" | "Q4_K_M"];
const ALL = ARCHS;
const CASES: Case[] = [
  ["transpose:attn_k@1", "layout-transposed", "blk.1.attn_k", ALL, "F32"], // non-square: dims reversed
  ["transpose:attn_q@0", "layout-transposed", "blk.0.attn_q", ALL, "F32"], // square: by value
  ["transpose:ffn_down@1", "layout-transposed", "blk.1.ffn_down", ALL, "F32"],
  ["transpose-data:attn_output@1", "layout-transposed", "blk.1.attn_output", ALL, "F32"],
  ["qk-permute@1", "qk-rope-permutation", "blk.1.attn_q", ALL, "F32"],
  ["swap-gate-up@0", "tensors-swapped", "blk.0.ffn_gate", ALL, "F32"],
  ["rms-eps=1e-2", "metadata-mismatch", "metadata", ALL, "F32"],
  ["rope-base=500000", "metadata-mismatch", "metadata", ALL, "F32"],
  ["rope-layout", "rope-layout-mismatch", "blk.0.attn_q", ALL, "F32"],
  ["embed-shift", "rows-permuted", "token_embd", ALL, "F32"],
  ["lm-head-wrong", "tensor-misplaced", "output", ["llama"], "F32"], // qwen2/qwen3 tie the head: refused below
  ["drop-bias@0", "tensor-missing", "blk.0.attn_q_bias", ["qwen2"], "F32"],
  ["drop-bias:attn_k_bias@1", "tensor-missing", "blk.1.attn_k_bias", ["qwen2"], "F32"],
  ["q4k-scales-mins:attn_q@0", "dequant-mismatch", "blk.0.attn_q", ALL, "Q4_K_M"],
  ["q4k-scales-mins:ffn_gate@1", "dequant-mismatch", "blk.1.ffn_gate", ALL, "Q4_K_M"],
];

for (const arch of ARCHS) {
  describe(`defect corpus on the ${arch} fixture`, () => {
    it("the identical pair passes (APR vs GGUF and GGUF vs GGUF)", async () => {
      for (const format of ["apr", "gguf"] as const) {
        const r = await runComparison({ a: { path: await variant(F32[arch]!, null, format) }, b: { path: F32[arch]! }, prompt: PROMPT, gen: 1 });
        expect(r.verdict, format).toBe("MATCH");
        expect(r.findings.filter((f) => f.fatal)).toEqual([]);
        expect(r.counts.diverged + r.counts.nonfinite + r.counts["sample-mismatch"]).toBe(0);
      }
    });

    for (const [defect, id, where, archs, type] of CASES) {
      if (!archs.includes(arch)) continue;
      const formats = defect === "rope-layout" ? (["apr"] as const) : (["gguf", "apr"] as const);
      it(`${defect} on ${type} -> ${id} at ${where} (${formats.join(", ")} vs GGUF)`, async () => {
        const base = type === "F32" ? F32[arch]! : Q4KM[arch]!;
        for (const format of formats) {
          const r = await runComparison({ a: { path: await variant(base, defect, format) }, b: { path: base }, prompt: PROMPT });
          const got = `${r.diagnosis?.id} at ${r.diagnosis?.where}`;
          expect(got, `${format}: ${r.diagnosis?.evidence.join("; ")}`).toBe(`${id} at ${where}`);
          expect(r.verdict, format).toBe("DIVERGED");
          expect(exitCodeOf(r, true), format).toBe(1);
          // the first divergence, when both sides ran, is at or after the point the defective weight feeds
          if (r.firstDivergence && where !== "metadata") {
            const layer = /^blk\.(\d+)\./.exec(where)?.[1];
            if (layer !== undefined) expect(r.firstDivergence.layer, format).toBeGreaterThanOrEqual(Number(layer));
          }
        }
      });
    }

    it("refuses defects the model cannot carry (clear errors, not silent no-ops)", async () => {
      const ir = await readGgufIr(F32[arch]!);
      expect(() => injectDefect(ir, parseDefect("swap-qk@0"), "gguf")).toThrow(/n_head == n_head_kv|differ in shape/);
      if (arch !== "llama") expect(() => injectDefect(ir, parseDefect("lm-head-wrong"), "gguf")).toThrow(/tied/);
      if (arch !== "qwen2") expect(() => injectDefect(ir, parseDefect("drop-bias"), "gguf")).toThrow(/no attn_q_bias/);
      expect(() => injectDefect(ir, parseDefect("q4k-scales-mins:attn_q"), "gguf")).toThrow(/not Q4_K/);
    });

    it("F32 vs Q8_0 of the same model passes with precision drift reported (exit 0 under --assert-match)", async () => {
      const r = await runComparison({ a: { path: await getFixture(arch, "Q8_0") }, b: { path: F32[arch]! }, prompt: PROMPT });
      expect(["DRIFT", "MATCH"]).toContain(r.verdict);
      expect(exitCodeOf(r, true)).toBe(0);
      expect(r.band?.id).toBe("quant:Q8_0");
      expect(r.findings.filter((f) => f.fatal).map((f) => f.id)).toEqual([]);
      if (r.verdict === "DRIFT") expect(r.diagnosis?.id).toBe("precision-drift");
      expect(r.findings.some((f) => f.id === "dtype-mismatch" && !f.fatal)).toBe(true);
    });

    const NAN_AT: [string, number, string][] = [
      ["blk.0.attn_v.weight", 3, "blk.0.v"],
      ["blk.1.ffn_up.weight", 7, "blk.1.ffn_up"],
      ["blk.1.attn_norm.weight", 0, "blk.1.attn_norm"],
      ["output_norm.weight", 5, "result_norm"],
    ];
    it("a NaN injected anywhere fails under --assert-match at the point it first reaches", async () => {
      for (const [tensor, idx, point] of NAN_AT) {
        const ir = await readGgufIr(F32[arch]!);
        const t = ir.tensors.find((x) => x.name === tensor)!;
        const x = toF32(t).slice();
        x[idx] = NaN;
        t.data = new Uint8Array(x.buffer);
        const r = await runComparison({ a: { path: await write(ir, "gguf") }, b: { path: F32[arch]! }, prompt: PROMPT });
        expect(r.verdict, tensor).toBe("DIVERGED");
        expect(exitCodeOf(r, true), tensor).toBe(1);
        expect(r.firstDivergence?.status, tensor).toBe("nonfinite");
        expect(r.firstDivergence?.key, tensor).toBe(point);
        expect(r.diagnosis?.id, tensor).toBe("nonfinite");
      }
    });
  });
}
