/**
 * The node -> capture point mapping is right, checked by the algebra between points rather than by
 * names: ffn_act = silu(ffn_gate) * ffn_up, l_out = ffn_inp + ffn_out, ffn_inp = attn_out + residual,
 * attention rows are causal probability distributions over the used KV cells, and the logits point
 * equals llama.cpp's own logits.
 */
import { describe, expect, it } from "vitest";

import type { NativePoint } from "../../src/bindings/llama.js";
import { ARCHS, DIMS, getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";

const bridge = tryBridge("default");

function maxRel(a: Float32Array, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i])));
  return m;
}

describe.skipIf(!bridge)("llama.cpp reference: capture point mapping", () => {
  for (const arch of ARCHS) {
    it(`${arch}: points are where their names say`, async () => {
      const tokens = [5, 120, 33, 260, 301, 17, 44];
      const T = tokens.length;
      const r = await bridge!.run({ model: await getFixture(arch, "F32"), tokens, gen: 1, full: ["*"] });
      const get = (key: string, step = 0): NativePoint => {
        const p = r.points.find((q) => q.step === step && (q.layer === null ? q.point : `blk.${q.layer}.${q.point}`) === key);
        if (!p) throw new Error(`missing ${key}@${step}`);
        return p;
      };
      const { nEmbd, nHead, nHeadKv, headDim, nFf, nLayer } = DIMS;
      expect(get("embd").shape).toEqual([T, nEmbd]);
      for (let l = 0; l < nLayer; l++) {
        const p = (n: string) => get(`blk.${l}.${n}`);
        expect(p("q").shape).toEqual([T, nHead * headDim]);
        expect(p("k").shape).toEqual([T, nHeadKv * headDim]);
        expect(p("v").shape).toEqual([T, nHeadKv * headDim]);
        expect(p("q_rope").source.op).toBe("ROPE");
        expect(p("attn_out").source.weight).toBe(`blk.${l}.attn_output.weight`);
        expect(p("ffn_out").source.weight).toBe(`blk.${l}.ffn_down.weight`);
        // Attention: [n_head, T, used], each row a causal distribution.
        const sm = p("kq_softmax");
        expect(sm.shape).toEqual([nHead, T, T]);
        for (let h = 0; h < nHead; h++)
          for (let i = 0; i < T; i++) {
            const row = sm.data!.subarray((h * T + i) * T, (h * T + i + 1) * T);
            expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
            for (let j = i + 1; j < T; j++) expect(row[j]).toBe(0);
          }
        const gate = p("ffn_gate").data!, up = p("ffn_up").data!;
        const act = Float32Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * up[i]);
        expect(p("ffn_act").shape).toEqual([T, nFf]);
        expect(maxRel(p("ffn_act").data!, act)).toBeLessThan(1e-4);
        const inp = p("ffn_inp").data!, out = p("ffn_out").data!;
        expect(maxRel(p("l_out").data!, Float32Array.from(inp, (x, i) => x + out[i]))).toBeLessThan(1e-6);
        const resid = l === 0 ? get("embd").data! : get(`blk.${l - 1}.l_out`).data!;
        const ao = p("attn_out").data!;
        expect(maxRel(inp, Float32Array.from(resid, (x, i) => x + ao[i]))).toBeLessThan(1e-6);
      }
      const logits = get("logits");
      expect(logits.shape).toEqual([T, DIMS.nVocab]);
      expect(Array.from(logits.data!)).toEqual(Array.from(r.logits.subarray(0, T * DIMS.nVocab)));
      // The decode step covers one token and attends over T+1 cells.
      expect(get("blk.0.kq_softmax", 1).shape).toEqual([nHead, 1, T + 1]);
      expect(get("blk.1.l_out", 1).firstPos).toBe(T);
    });
  }
});
