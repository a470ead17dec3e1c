/**
 * The engine kernels for APR tensors (kernels/apr_matmul.cpp):
 *   * APR_Q8 in the native dequantizer (its f32 scale is the type's 4 header bytes) = the TS decoder;
 *   * APR_Q8 / APR_Q4 matmul = the F32 matmul of the dequantized weights, bit for bit, in both modes
 *     (the documented definition: value = f32(q * scale), activations as given), any thread count;
 *   * strided rows (MatmulArgs.rowBytes, APR per-row padded K-quants): exact = the F32 matmul of the
 *     dequantized rows without their padding; ggml = the main driver (llama.cpp's vec_dot) on the same
 *     rows stored as [rows, padded] with zero-padded activations; the embedding row fetch reads them;
 *   * bounds: a stride shorter than a row, rows * rowBytes beyond the data, rows outside the tensor
 *     are RangeErrors, never reads out of bounds.
 */
import { readFileSync } from "node:fs";

import { afterAll, describe, expect, it } from "vitest";

import { dequantizeAprQ4Js, dequantizeAprQ8, quantizeAprQ4, quantizeAprQ8 } from "../../src/convert/apr-quant.js";
import { loadGguf } from "../../src/formats/gguf.js";
import { cpuFeatures, currentIsa, dequantize, getRow, getThreads, matmul, setIsa, setThreads, type Numerics } from "../../src/bindings/kernels.js";
import { getFixture } from "../fixtures/lib/index.js";

const APR_Q4 = 128, APR_Q8 = 129, F32 = 0;
const MODES: Numerics[] = ["ggml", "exact"];
const threads0 = getThreads();
const isa0 = currentIsa() as "scalar" | "avx2" | "avx512";
const features = cpuFeatures();
const ISAS = (["scalar", "avx2", "avx512"] as const).filter((i) => i === "scalar" || (i === "avx2" ? features.avx2 : features.avx512f && features.avx512bw));
if (!ISAS.includes("avx512")) console.warn("apr kernels: this CPU has no AVX-512; the avx512 path is not exercised here");
afterAll(() => {
  setThreads(threads0);
  setIsa(isa0);
});

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
}
const randn = (n: number, seed: number) => { const r = rng(seed); return Float32Array.from({ length: n }, () => r() + r() + r()); };

function mm(w: Uint8Array, type: number, nOut: number, nIn: number, x: Float32Array, nTok: number, mode: Numerics, rowBytes?: number): Float32Array {
  const y = new Float32Array(nTok * nOut);
  matmul({ source: w, offset: 0, type, nOut, nIn, x, y, nTok, mode, rowBytes });
  return y;
}
const bytesOf = (x: Float32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
const same = (a: Float32Array, b: Float32Array) => Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));

describe("APR-native weights", () => {
  it("native APR_Q8 dequantizer = the TS decoder (whole tensor and first rows); size includes the scale", () => {
    const x = randn(37 * 53, 1);
    const q = quantizeAprQ8(x);
    const ts = dequantizeAprQ8(q, x.length);
    expect(same(dequantize({ source: q, offset: 0, type: APR_Q8, nElements: x.length }), ts)).toBe(true);
    expect(same(dequantize({ source: q, offset: 0, type: APR_Q8, nElements: 53 * 3 }), ts.subarray(0, 53 * 3))).toBe(true);
    expect(() => dequantize({ source: q.subarray(0, q.length - 1), offset: 0, type: APR_Q8, nElements: x.length })).toThrow(/needs bytes/);
  });

  const shapes = [["APR_Q8", APR_Q8, 13, 37], ["APR_Q8", APR_Q8, 16, 256], ["APR_Q4", APR_Q4, 13, 96], ["APR_Q4", APR_Q4, 16, 64]] as const;
  for (const [name, type, nOut, nIn] of shapes) {
    it(`${name} [${nOut}, ${nIn}] matmul = F32 matmul of the dequantized weights, both modes, 1 and 2 threads`, () => {
      const nTok = 5;
      const w0 = randn(nOut * nIn, 2);
      const q = type === APR_Q8 ? quantizeAprQ8(w0) : quantizeAprQ4(w0);
      const deq = type === APR_Q8 ? dequantizeAprQ8(q, w0.length) : dequantizeAprQ4Js(q, w0.length);
      const x = randn(nTok * nIn, 3);
      for (const isa of ISAS) {
        setIsa(isa);
        for (const mode of MODES) {
          for (const n of [1, nTok]) { // one token (vec_dot) and a batch (tinyBLAS when the shape allows)
            const ref = mm(bytesOf(deq), F32, nOut, nIn, x, n, mode);
            for (const t of [1, 2]) {
              setThreads(t);
              expect(same(mm(q, type, nOut, nIn, x, n, mode), ref), `${name} ${isa} ${mode} ${n} tokens, threads ${t}`).toBe(true);
            }
          }
        }
      }
      setIsa(isa0);
      const row = new Float32Array(nIn);
      getRow({ source: q, offset: 0, type, rows: nOut, cols: nIn }, 7, row);
      expect(same(row, deq.subarray(7 * nIn, 8 * nIn))).toBe(true);
    });
  }
});

describe("strided rows (APR per-row padded K-quants)", async () => {
  // real K-quant bytes from the pure fixtures: [256, 256] Q4_K, [512, 256] Q6_K, [256, 512] Q4_K
  const load = async (type: string, role: string) => {
    const file = await getFixture("llama", type);
    const m = await loadGguf(file, { logLayout: false });
    const v = m.byRole.get(role)!;
    return { bytes: new Uint8Array(readFileSync(file).subarray(v.offset, v.offset + v.byteLength)), rows: v.dims[0], cols: v.dims[1], type: v.type };
  };
  const cases = [
    { t: await load("Q4_K", "blk.0.attn_q"), nIn: 200, what: "Q4_K rows of 200 in 1 super-block (144 bytes)" },
    { t: await load("Q6_K", "blk.0.ffn_up"), nIn: 172, what: "Q6_K rows of 172 in 1 super-block (210 bytes)" },
    { t: await load("Q4_K", "blk.0.ffn_down"), nIn: 300, what: "Q4_K rows of 300 in 2 super-blocks (288 bytes)" },
  ];
  for (const { t, nIn, what } of cases) {
    it(what, () => {
      const rb = t.bytes.length / t.rows, padded = Math.ceil(nIn / 256) * 256, nTok = 3;
      expect(padded).toBe(t.cols);
      const full = dequantize({ source: t.bytes, offset: 0, type: t.type, nElements: t.rows * t.cols });
      const deq = new Float32Array(t.rows * nIn);
      for (let r = 0; r < t.rows; r++) deq.set(full.subarray(r * t.cols, r * t.cols + nIn), r * nIn);
      const x = randn(nTok * nIn, 4);
      // exact: the dequantized rows without padding, activations as given
      expect(same(mm(t.bytes, t.type, t.rows, nIn, x, nTok, "exact", rb), mm(bytesOf(deq), F32, t.rows, nIn, x, nTok, "exact"))).toBe(true);
      // ggml: what the main driver (llama.cpp's vec_dot) computes for the same rows as [rows, padded]
      // with the activations zero-padded: padding weights meet zero activations
      const xp = new Float32Array(nTok * padded);
      for (let k = 0; k < nTok; k++) xp.set(x.subarray(k * nIn, (k + 1) * nIn), k * padded);
      for (const n of [1, nTok]) {
        const got = mm(t.bytes, t.type, t.rows, nIn, x, n, "ggml", rb);
        expect(same(got, mm(t.bytes, t.type, t.rows, padded, xp, n, "ggml")), `ggml, ${n} tokens`).toBe(true);
      }
      const row = new Float32Array(nIn);
      getRow({ source: t.bytes, offset: 0, type: t.type, rows: t.rows, cols: nIn, rowBytes: rb }, t.rows - 1, row);
      expect(same(row, deq.subarray((t.rows - 1) * nIn))).toBe(true);
    });
  }

  it("a wider stride over packed rows reads the first columns (the first 256 of rows of 512)", async () => {
    const t = await load("Q4_K", "blk.0.ffn_down");
    const full = dequantize({ source: t.bytes, offset: 0, type: t.type, nElements: t.rows * t.cols });
    const left = new Float32Array(t.rows * 256);
    for (let r = 0; r < t.rows; r++) left.set(full.subarray(r * t.cols, r * t.cols + 256), r * 256);
    const x = randn(2 * 256, 5);
    const firstBlocks = new Uint8Array(t.rows * 144);
    for (let r = 0; r < t.rows; r++) firstBlocks.set(t.bytes.subarray(r * 288, r * 288 + 144), r * 144);
    expect(same(mm(t.bytes, t.type, t.rows, 256, x, 2, "exact", 288), mm(bytesOf(left), F32, t.rows, 256, x, 2, "exact"))).toBe(true);
    expect(same(mm(t.bytes, t.type, t.rows, 256, x, 2, "ggml", 288), mm(firstBlocks, t.type, t.rows, 256, x, 2, "ggml"))).toBe(true);
  });

  it("bounds: short stride, rows beyond the data, bad rows are RangeErrors", async () => {
    const t = await load("Q4_K", "blk.0.attn_q");
    const x = randn(200, 6);
    expect(() => mm(t.bytes, t.type, t.rows, 200, x, 1, "exact", 100)).toThrow(/row stride is shorter than one stored row/);
    expect(() => mm(t.bytes, t.type, t.rows + 1, 200, x, 1, "exact", 144)).toThrow(/shorter than its rows/);
    expect(() => mm(t.bytes.subarray(0, t.bytes.length - 1), t.type, t.rows, 200, x, 1, "ggml", 144)).toThrow(/shorter than its rows/);
    expect(() => mm(t.bytes, t.type, t.rows, 200, x, 1, "exact")).toThrow(/multiple of the weight type's block size/);
    const out = new Float32Array(200);
    const m = { source: t.bytes, offset: 0, type: t.type, rows: t.rows, cols: 200, rowBytes: 144 };
    expect(() => getRow(m, t.rows, out)).toThrow(RangeError);
    expect(() => getRow({ ...m, rows: t.rows + 1 }, t.rows, out)).toThrow(/shorter than its rows/);
    expect(() => getRow({ ...m, offset: t.bytes.length - 10 }, 0, out)).toThrow(/shorter than its rows/);
    const q8 = quantizeAprQ8(randn(64, 7));
    expect(() => getRow({ source: q8.subarray(0, 63), offset: 0, type: APR_Q8, rows: 8, cols: 8 }, 7, out)).toThrow(/shorter than its rows/);
  });
});
