/**
 * The llama.cpp-exact dot products added for Q4_1, Q5_1 (x Q8_1), Q2_K, Q3_K, Q5_K, IQ4_XS (x Q8_K) and
 * BF16 (x BF16): on random stored blocks at several shapes, every ISA path gives the scalar reference's
 * floats bit for bit (decode and prefill batches, tinyBLAS shapes and not), and ggml mode stays close to
 * the exact (f64) product of the activations as rounded to the vec_dot type, which catches a wrong
 * decoding of the blocks.
 * Agreement with llama.cpp itself is in tests/model/synthetic-parity.test.ts (IQ4_XS has no fixture:
 * the bridge's quantizer does not offer it, so this file is its only check).
 */
import { afterAll, describe, expect, test } from "vitest";

import { actRound, cpuFeatures, currentIsa, setIsa } from "../../src/bindings/kernels.js";
import { relL2 } from "../model/helpers.js";
import { mm, rng } from "./helpers.js";

const features = cpuFeatures();
const ISAS = (["avx2", "avx512"] as const).filter((i) => (i === "avx2" ? features.avx2 : features.avx512f && features.avx512bw));
if (!ISAS.includes("avx512")) console.warn("vecdot types: this CPU has no AVX-512; the avx512 path is not exercised here");
const initialIsa = currentIsa() as "scalar" | "avx2" | "avx512";
afterAll(() => void setIsa(initialIsa));

// ggml type id, block size, block bytes, offsets of the f16 scales in a block
const TYPES: Record<string, { id: number; block: number; bytes: number; f16At: number[] }> = {
  Q4_1: { id: 3, block: 32, bytes: 20, f16At: [0, 2] },
  Q5_1: { id: 7, block: 32, bytes: 24, f16At: [0, 2] },
  Q2_K: { id: 10, block: 256, bytes: 84, f16At: [80, 82] },
  Q3_K: { id: 11, block: 256, bytes: 110, f16At: [108] },
  Q5_K: { id: 13, block: 256, bytes: 176, f16At: [0, 2] },
  IQ4_XS: { id: 23, block: 256, bytes: 136, f16At: [0] },
  BF16: { id: 30, block: 1, bytes: 2, f16At: [] },
};


function weights(name: string, rows: number, cols: number): Uint8Array {
  const l = TYPES[name], r = rng(11);
  const out = new Uint8Array((rows * cols / l.block) * l.bytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < out.length / l.bytes; b++) for (const at of l.f16At) dv.setUint16(b * l.bytes + at, 0x2000 + Math.floor(r() * 0x400), true);
  if (name === "BF16") for (let i = 0; i < rows * cols; i++) dv.setUint16(2 * i, 0x3c00 + Math.floor(r() * 0x300) + (r() < 0.5 ? 0x8000 : 0), true);
  return out;
}


describe("llama.cpp-exact dot products of the remaining types", () => {
  // rows 12: tinyBLAS shapes for BF16 at nTok >= 2; rows 7: vec_dot order for every batch; 11 and 17
  // tokens: full multi-token tiles (8) and partial ones (3, 1)
  const shapes = [[12, 512, 1], [12, 512, 3], [7, 768, 2], [20, 256, 5], [13, 512, 11], [5, 768, 17]] as const;
  for (const name of Object.keys(TYPES))
    test(name, () => {
      const { id } = TYPES[name];
      for (const [rows, cols, nTok] of shapes) {
        const w = weights(name, rows, cols);
        const r = rng(rows * 131 + cols + nTok);
        const x = Float32Array.from({ length: nTok * cols }, () => (r() - 0.5) * (r() < 0.05 ? 40 : 2));
        setIsa("scalar");
        const ref = mm(w, id, rows, cols, x, nTok, "ggml");
        // exact (f64) products of the activations as rounded to the vec_dot type
        const xr = new Float32Array(x.length);
        for (let t = 0; t < nTok; t++) actRound(id, x.subarray(t * cols, (t + 1) * cols), xr.subarray(t * cols, (t + 1) * cols));
        const exact = mm(w, id, rows, cols, xr, nTok, "exact");
        for (const isa of ISAS) {
          setIsa(isa);
          const got = mm(w, id, rows, cols, x, nTok, "ggml");
          expect(Buffer.from(got.buffer).equals(Buffer.from(ref.buffer)), `${name} ${isa} ${rows}x${cols} t${nTok}`).toBe(true);
        }
        if (process.env.VECDOT_PRINT) console.log(name, rows, cols, nTok, relL2(ref, exact));
        // f32 accumulation only (Q4_1/Q5_1 also Q8_1's s = f16(d * sum q), not d_f16 * sum q): a misread
        // block would be off by orders of magnitude more
        expect(relL2(ref, exact), `${name} ${rows}x${cols} t${nTok}`).toBeLessThan(name.endsWith("_1") ? 5e-4 : 1e-5);
      }
    });
});
