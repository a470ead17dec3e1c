/**
 * Per-row padded K-quant APR matrices (apr-format.md §4.4; what `apr convert --quantize q4k` writes when
 * a row is not a multiple of 256): TensorView.rowBytes reaches the engine's matmul and embedding lookup.
 * stories260K (rows of 64 and 172) is quantized to Q4_K by llama.cpp's own quantizer with every row
 * zero-padded to 256, and stored as [rows, cols] with ceil(cols/256) super-blocks per row.
 *   exact mode: bit-identical to an F32 GGUF of the same (padding-dropped) dequantized weights;
 *   ggml mode: activations rounded to Q8_K per zero-padded block (no llama.cpp counterpart exists for
 *     such a tensor; the kernel test tests/kernels/apr-kernels.test.ts checks that rule bit for bit):
 *     finite and close to the exact-mode run.
 * `diff-weights` (the comparator's weight values) reads the padded rows the same way.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { f32Bytes, irToGguf, readGgufIr, toF32 } from "../../src/convert/ir.js";
import { irToApr } from "../../src/convert/to-apr.js";
import { diffWeights } from "../../src/compare/weight-diff.js";
import { loadApr } from "../../src/formats/apr.js";
import { loadGguf } from "../../src/formats/gguf.js";
import { loadLlamaBridge } from "../../src/bindings/llama.js";
import { HAVE_SHARED, STORIES } from "../helpers/shared.js";
import { expectSameTrace, f32GgufFromApr, relL2, trace } from "./run-helpers.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-aprpad-"));

/** stories260K as an APR whose every matrix is Q4_K with per-row padding. */
async function paddedStories(): Promise<string> {
  const ir = await readGgufIr(STORIES);
  const dims = new Map(ir.tensors.map((t) => [t.name, t.dims]));
  const wide = {
    ...ir,
    tensors: ir.tensors.map((t) => {
      if (t.dims.length !== 2) return t;
      const [r, c] = t.dims, x = toF32(t), p = new Float32Array(r * 256);
      for (let i = 0; i < r; i++) p.set(x.subarray(i * c, (i + 1) * c), i * 256);
      return { ...t, dims: [r, 256], data: f32Bytes(p) };
    }),
  };
  const a = path.join(dir, "wide.gguf"), b = path.join(dir, "wide-q4k.gguf");
  writeFileSync(a, irToGguf(wide));
  await loadLlamaBridge().quantize(a, b, "Q4_K_S", { pure: true, threads: 2 });
  const q = await readGgufIr(b);
  // the [rows, 256] Q4_K bytes are exactly the per-row padded layout of [rows, cols]
  const out = { ...ir, tensors: q.tensors.map((t) => ({ ...t, dims: dims.get(t.name)! })) };
  const apr = path.join(dir, "stories-padded.apr");
  writeFileSync(apr, await irToApr(out));
  return apr;
}

describe.skipIf(!HAVE_SHARED)("per-row padded Q4_K APR matrices run", () => {
  it("stories260K padded Q4_K: exact = F32 of the same weights; ggml finite and close", async () => {
    const apr = await paddedStories();
    const m = await loadApr(apr, { logLayout: false });
    for (const key of ["token_embd", "blk.0.attn_q", "blk.0.ffn_down", "blk.4.ffn_up"]) {
      const v = m.byRole.get(key)!;
      expect(v.typeName, key).toBe("q4_K");
      expect(v.rowBytes, key).toBe(144);
      expect(v.byteLength, key).toBe(v.dims[0] * 144);
    }
    const ref = await f32GgufFromApr(STORIES, apr, path.join(dir, "stories-padded-deq.gguf"));
    const o = { prompt: "Once upon a time", gen: 6 };
    const exact = await trace(apr, "exact", o);
    expectSameTrace(exact, await trace(ref, "exact", o), "padded Q4_K exact vs F32 of the same weights");
    const p = { ...o, gen: 0, full: ["logits"] };
    const g = await trace(apr, "ggml", p);
    const x = await trace(apr, "exact", p);
    const lg = g.tensors.get("logits.all")!.data;
    expect(lg.every((v) => Number.isFinite(v))).toBe(true);
    const d = relL2(lg, x.tensors.get("logits.all")!.data);
    console.log(`[apr-run] stories padded Q4_K: ggml vs exact prompt logits rel L2 ${d.toExponential(2)}`);
    expect(d).toBeGreaterThan(0); // the Q8_K activation rounding is applied
    expect(d).toBeLessThan(0.05);
    // diff-weights decodes the padded rows too: every matrix equals the F32 reference by value
    const w = diffWeights(m, await loadGguf(ref, { logLayout: false }));
    for (const t of w.tensors.filter((t) => t.typeA === "Q4_K")) {
      expect(t.status, t.key).toBe("close");
      expect(t.sqnrDb, t.key).toBe(Infinity);
    }
    expect(w.tensors.filter((t) => t.typeA === "Q4_K").length).toBeGreaterThan(30);
  });
});
