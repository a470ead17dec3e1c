/**
 * APR files written with `--quantize q4k|q6k|apr-q4|apr-q8` run in both numerics modes:
 *   * faithful: apr-q4 / apr-q8 runs are bit-identical to an F32 GGUF holding the APR's dequantized
 *     weights (docs/apr.md: APR-native weights are decoded value = f32(q * scale) and multiplied with
 *     the f32 activations, in ggml mode too); q4k / q6k runs are bit-identical to the pure Q4_K / Q6_K
 *     GGUF fixture (the same llama.cpp quantizer, the same bytes);
 *   * sane: finite, and prompt logits close to the F32 model's (rel L2 bounds below, measured on
 *     these random-weight fixtures with ~1.3x headroom: q4k ~0.25, apr-q4 ~0.27, q6k ~0.065,
 *     apr-q8 ~0.03), ordered by bits (8-bit closer than 6-bit closer than 4-bit).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { convertGgufToApr, type QuantizeMode } from "../../src/convert/to-apr.js";
import { loadApr } from "../../src/formats/apr.js";
import { ARCHS, getFixture } from "../fixtures/lib/index.js";
import { expectSameTrace, f32GgufFromApr, NUMERICS, relL2, trace } from "./run-helpers.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-aprrun-q-"));
const BOUND: Record<QuantizeMode, number> = { q4k: 0.35, "apr-q4": 0.35, q6k: 0.09, "apr-q8": 0.04 };
const MATRIX_TYPE: Record<QuantizeMode, string> = { q4k: "q4_K", q6k: "q6_K", "apr-q4": "apr_q4", "apr-q8": "apr_q8" };
const FIXTURE_OF: Partial<Record<QuantizeMode, string>> = { q4k: "Q4_K", q6k: "Q6_K" };

function finite(x: Float32Array): boolean {
  for (const v of x) if (!Number.isFinite(v)) return false;
  return true;
}

describe("APR --quantize runs", () => {
  for (const arch of ARCHS) {
    it(`${arch}: q4k, q6k, apr-q4, apr-q8 faithful and close to F32`, async () => {
      const src = await getFixture(arch, "F32");
      const err: Record<string, number> = {};
      for (const q of ["q4k", "q6k", "apr-q4", "apr-q8"] as QuantizeMode[]) {
        const apr = path.join(dir, `${arch}-${q}.apr`);
        writeFileSync(apr, await convertGgufToApr(src, { quantize: q }));
        const m = await loadApr(apr, { logLayout: false });
        expect(m.byRole.get("blk.0.ffn_down")!.typeName, q).toBe(MATRIX_TYPE[q]);
        const ref = FIXTURE_OF[q] ? await getFixture(arch, FIXTURE_OF[q]!) : await f32GgufFromApr(src, apr, path.join(dir, `${arch}-${q}-deq.gguf`));
        for (const mode of NUMERICS) {
          const a = await trace(apr, mode, { gen: 2 });
          expectSameTrace(a, await trace(ref, mode, { gen: 2 }), `${arch} ${q} ${mode} vs ${path.basename(ref)}`);
          for (const t of a.tensors.values()) expect(finite(t.data), `${arch} ${q} ${mode}: non-finite values`).toBe(true);
          const p = await trace(apr, mode, { gen: 0, full: ["logits"] });
          const f = await trace(src, mode, { gen: 0, full: ["logits"] });
          err[`${q} ${mode}`] = relL2(p.tensors.get("logits.all")!.data, f.tensors.get("logits.all")!.data);
          expect(err[`${q} ${mode}`], `${arch} ${q} ${mode}`).toBeLessThan(BOUND[q]);
        }
      }
      console.log(`[apr-run] ${arch} prompt logits rel L2 vs F32: ${Object.entries(err).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", ")}`);
      for (const mode of NUMERICS) {
        expect(err[`apr-q8 ${mode}`]).toBeLessThan(err[`q6k ${mode}`]);
        expect(err[`q6k ${mode}`]).toBeLessThan(Math.min(err[`q4k ${mode}`], err[`apr-q4 ${mode}`]));
      }
    });
  }
});
