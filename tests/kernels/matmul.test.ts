/**
 * Engine kernels: activation rounding against ggml's formulas written out independently here; matmul on
 * every ISA path the CPU runs, against the scalar oracle, for F32, F16, Q4_0, Q8_0, Q4_K and Q6_K
 * weights at odd sizes; ggml mode = exact matmul of the rounded activations; thread-count invariance.
 */
import { afterAll, describe, expect, test } from "vitest";

import {
  actRound, addF32, attention, cpuFeatures, currentIsa, matmul, rmsNorm, rope, setIsa, setThreads, softmaxRows, summarize, summarizeMany, swiglu,
} from "../../src/bindings/kernels.js";
import { relL2 } from "../model/helpers.js";
import { mm, rng } from "./helpers.js";

const T = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q6_K: 14 } as const;
// the types with their own multi-token tiles too (their other checks: vecdot-types.test.ts)
const TX = { Q4_1: 3, Q5_1: 7, Q2_K: 10, Q3_K: 11, Q5_K: 13, IQ4_XS: 23 } as const;
const features = cpuFeatures();
const ISAS = (["scalar", "avx2", "avx512"] as const).filter((i) => i === "scalar" || (i === "avx2" ? features.avx2 : features.avx512f && features.avx512bw));
if (!ISAS.includes("avx512")) console.warn("engine kernels: this CPU has no AVX-512; the avx512 path is not exercised here");
const initialIsa = currentIsa() as "scalar" | "avx2" | "avx512";
afterAll(() => void setIsa(initialIsa));


/** Stored weight rows: random blocks with sane f16 scales (0x2000 ~ 0.0078), every other byte random. */
function weights(type: number, rows: number, cols: number, r = rng(7)): Uint8Array {
  const layout: Record<number, { block: number; bytes: number; f16At: number[] }> = {
    [T.F16]: { block: 1, bytes: 2, f16At: [] },
    [T.Q4_0]: { block: 32, bytes: 18, f16At: [0] },
    [T.Q8_0]: { block: 32, bytes: 34, f16At: [0] },
    [T.Q4_K]: { block: 256, bytes: 144, f16At: [0, 2] },
    [T.Q6_K]: { block: 256, bytes: 210, f16At: [208] },
    [TX.Q4_1]: { block: 32, bytes: 20, f16At: [0, 2] },
    [TX.Q5_1]: { block: 32, bytes: 24, f16At: [0, 2] },
    [TX.Q2_K]: { block: 256, bytes: 84, f16At: [80, 82] },
    [TX.Q3_K]: { block: 256, bytes: 110, f16At: [108] },
    [TX.Q5_K]: { block: 256, bytes: 176, f16At: [0, 2] },
    [TX.IQ4_XS]: { block: 256, bytes: 136, f16At: [0] },
  };
  if (type === T.F32) return new Uint8Array(Float32Array.from({ length: rows * cols }, () => r() - 0.5).buffer);
  const l = layout[type];
  const out = new Uint8Array((rows * cols / l.block) * l.bytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < out.length / l.bytes; b++) for (const at of l.f16At) dv.setUint16(b * l.bytes + at, 0x2000 + Math.floor(r() * 0x400), true);
  if (type === T.F16) for (let i = 0; i < rows * cols; i++) dv.setUint16(2 * i, 0x3000 + Math.floor(r() * 0x1000) + (r() < 0.5 ? 0x8000 : 0), true);
  return out;
}

type IsaCase = [label: string, run: () => Float32Array];
/**
 * Random cases on every ISA path against the scalar one, bit for bit: `draw` makes the cases of one seed
 * (seeds base..base+count-1, base from ROSETTA_PROPERTY_SEED or the clock, logged so a failure reruns).
 */
function expectIsaPathsAgree(name: string, count: number, draw: (r: () => number, seed: number) => IsaCase[]): void {
  const base = Number(process.env.ROSETTA_PROPERTY_SEED ?? Date.now() % 100000);
  const failures: string[] = [];
  const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let seed = base; seed < base + count; seed++) {
    for (const [label, run] of draw(rng(seed), seed)) {
      setIsa("scalar");
      const ref = bits(run()).slice();
      for (const isa of ISAS.filter((i) => i !== "scalar")) {
        setIsa(isa);
        const got = bits(run());
        const i = got.findIndex((x, j) => x !== ref[j]);
        if (i >= 0 || got.length !== ref.length) failures.push(`seed ${seed} ${isa}: ${label}: element ${i}`);
      }
    }
  }
  setIsa(initialIsa);
  console.log(`${name} ISA paths: seeds ${base}..${base + count - 1} (ROSETTA_PROPERTY_SEED=${base} reruns them)`);
  expect(failures.slice(0, 8).join("\n")).toBe("");
}


// ggml's RMS_NORM then MUL, written out here: each square rounded to f32 and added in f64 in element
// order, mean = f32(sum / n), scale = 1 / sqrtf(mean + eps), y = (x * scale) * w in f32. The kernel sums
// 8 rows side by side (kernels/ops.cpp); row counts around and inside those blocks, 1 and 2 threads.
describe("rmsNorm, ggml mode", () => {
  const f = Math.fround;
  const want = (x: Float32Array, w: Float32Array | null, rows: number, n: number, eps: number) => {
    const y = new Float32Array(rows * n);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += f(x[r * n + i] * x[r * n + i]);
      const scale = f(1 / f(Math.sqrt(f(f(sum / n) + f(eps)))));
      for (let i = 0; i < n; i++) y[r * n + i] = w ? f(f(x[r * n + i] * scale) * w[i]) : f(x[r * n + i] * scale);
    }
    return y;
  };
  test("ggml's loop, bit for bit, on random shapes (rows 1-21, with and without weights; seed logged)", () => {
    const seed = Number(process.env.ROSETTA_PROPERTY_SEED ?? Date.now() % 100000);
    console.log(`rmsNorm shapes: seed ${seed} (ROSETTA_PROPERTY_SEED=${seed} reruns them)`);
    const r = rng(seed);
    for (const threads of [1, 2]) {
      setThreads(threads);
      for (let c = 0; c < 24; c++) {
        const rows = 1 + Math.floor(r() * 21), n = [7, 64, 128, 1536, 300][Math.floor(r() * 5)];
        const x = Float32Array.from({ length: rows * n }, () => (r() - 0.5) * 6), w = r() < 0.5 ? null : Float32Array.from({ length: n }, () => r() * 2);
        const y = new Float32Array(rows * n);
        rmsNorm(x, w, y, rows, n, 1e-6, "ggml");
        expect(Array.from(y), `seed ${seed}: rows ${rows} n ${n} threads ${threads}`).toEqual(Array.from(want(x, w, rows, n, 1e-6)));
      }
    }
    setThreads(0);
  });
});

describe("activation rounding (ggml vec_dot types)", () => {
  const x = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
  test("Q8_0: d = f16(amax/127), q = round-half-even(x * 127/amax)", () => {
    const out = new Float32Array(512);
    expect(actRound(T.Q4_0, x, out)).toBe("q8_0");
    for (let b = 0; b < 512; b += 32) {
      let amax = 0, jmax = 0;
      for (let j = 0; j < 32; j++) if (Math.abs(x[b + j]) > amax) [amax, jmax] = [Math.abs(x[b + j]), j];
      const id = Math.fround(127 / amax);
      // the block scale as f16: the extreme element quantizes to +-127
      const d = Math.abs(out[b + jmax]) / 127;
      for (let j = 0; j < 32; j++) {
        const v = Math.fround(x[b + j] * id);
        // an int8 quant has no signed zero (+ 0 turns -0 into 0): out is the dequantized block
        const q = (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v)) + 0;
        expect(out[b + j]).toBe(Math.fround(d * q));
      }
      expect(Math.abs(d - amax / 127) / (amax / 127)).toBeLessThan(1e-3); // f16 rounding of the scale
    }
  });
  test("Q8_K: the signed extreme maps to -127, d = 1/iscale in f32", () => {
    const out = new Float32Array(512);
    expect(actRound(T.Q4_K, x, out)).toBe("q8_K");
    for (let b = 0; b < 512; b += 256) {
      let amax = 0, max = 0;
      for (let j = 0; j < 256; j++) if (Math.abs(x[b + j]) > amax) [amax, max] = [Math.abs(x[b + j]), x[b + j]];
      const iscale = Math.fround(-127 / max), d = Math.fround(1 / iscale);
      for (let j = 0; j < 256; j++) {
        const v = Math.fround(iscale * x[b + j]);
        const q = Math.min(127, Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v)) + 0;
        expect(out[b + j]).toBe(Math.fround(d * q));
      }
    }
  });
});

describe("matmul on every ISA path", () => {
  const shapes = [[3, 256, 1], [17, 512, 3], [33, 256, 7]] as const;
  for (const [name, type] of Object.entries(T)) {
    test(`${name}: paths agree with the scalar oracle; ggml = exact(rounded activations)`, () => {
      for (const [rows, cols, nTok] of shapes) {
        const w = weights(type, rows, cols);
        const r = rng(rows * cols);
        const x = Float32Array.from({ length: nTok * cols }, () => r() * 2 - 1);
        setIsa("scalar");
        const oracle = { exact: mm(w, type, rows, cols, x, nTok, "exact"), ggml: mm(w, type, rows, cols, x, nTok, "ggml") };
        const xr = new Float32Array(x.length);
        for (let t = 0; t < nTok; t++) actRound(type, x.subarray(t * cols, (t + 1) * cols), xr.subarray(t * cols, (t + 1) * cols));
        expect(relL2(mm(w, type, rows, cols, xr, nTok, "exact"), oracle.ggml)).toBeLessThanOrEqual(1e-6);
        for (const isa of ISAS) {
          setIsa(isa);
          expect(relL2(oracle.exact, mm(w, type, rows, cols, x, nTok, "exact")), `${name} ${isa} exact`).toBeLessThanOrEqual(1e-7);
          // ggml mode: the same f32 summation order on every path, so bit-identical
          expect(Array.from(mm(w, type, rows, cols, x, nTok, "ggml")), `${name} ${isa} ggml`).toEqual(Array.from(oracle.ggml));
        }
      }
      setIsa(initialIsa);
    });
  }

  test("results do not depend on the thread count", () => {
    const w = weights(T.Q4_K, 61, 512);
    const x = Float32Array.from({ length: 5 * 512 }, (_, i) => Math.cos(i));
    setThreads(1);
    const a = mm(w, T.Q4_K, 61, 512, x, 5, "ggml");
    setThreads(2);
    const b = mm(w, T.Q4_K, 61, 512, x, 5, "ggml");
    setThreads(0);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  // The q/k/v biases ride on the matmul (MatmulOptions.bias): y + b in f32 as each block of rows is
  // written must be, bit for bit, the product followed by ggml's ADD of the broadcast bias (addF32), on
  // the prompt tiles, the one-token rows, the general path (padded rows), exact mode and both thread counts.
  test("a bias added by the matmul equals the product then addF32, bit for bit (random shapes, seeds logged)", () => {
    // each seed draws a weight type, a shape (rows around the 16-row tiles and tasks, 1-70 tokens: one
    // token's rows, the quads' passes and their partial tails), a mode and a thread count
    const types = [[T.Q4_K, 256], [T.Q6_K, 256], [T.Q8_0, 32], [T.Q4_0, 32], [TX.Q5_K, 256], [TX.Q3_K, 256], [T.F16, 32]] as const;
    const base = Number(process.env.ROSETTA_PROPERTY_SEED ?? Date.now() % 100000);
    console.log(`matmul bias: seeds ${base}..${base + 23} (ROSETTA_PROPERTY_SEED=${base} reruns them)`);
    for (let seed = base; seed < base + 24; seed++) {
      const r = rng(seed), pick = (n: number) => Math.floor(r() * n);
      const [type, block] = types[pick(types.length)];
      const rows = 1 + pick(70), cols = block * (1 + pick(block === 256 ? 4 : 24)), nTok = 1 + pick(70);
      const mode = r() < 0.75 ? ("ggml" as const) : ("exact" as const), threads = 1 + pick(2);
      const w = weights(type, rows, cols, r);
      const bias = Float32Array.from({ length: rows }, () => r() * 4 - 2);
      const x = Float32Array.from({ length: nTok * cols }, () => r() * 2 - 1);
      setThreads(threads);
      const want = mm(w, type, rows, cols, x, nTok, mode);
      addF32(want, bias, want, want.length, rows, true);
      const got = new Float32Array(nTok * rows);
      matmul({ source: w, offset: 0, type, nOut: rows, nIn: cols, x, y: got, nTok, mode, bias });
      expect(Array.from(got), `seed ${seed}: type ${type} ${rows} x ${cols} x ${nTok} ${mode} ${threads}T`).toEqual(Array.from(want));
    }
    // the general path: rows stored with padding between them
    const rows = 9, cols = 256, rb = 144 + 32, w0 = weights(T.Q4_K, rows, cols, rng(3));
    const padded = new Uint8Array(rows * rb);
    for (let i = 0; i < rows; i++) padded.set(w0.subarray(i * 144, (i + 1) * 144), i * rb);
    const bias = Float32Array.from({ length: rows }, (_, i) => i - 4.5), x = Float32Array.from({ length: 3 * cols }, (_, i) => Math.sin(i));
    const want = mm(w0, T.Q4_K, rows, cols, x, 3, "ggml");
    addF32(want, bias, want, want.length, rows, true);
    const got = new Float32Array(3 * rows);
    matmul({ source: padded, offset: 0, type: T.Q4_K, nOut: rows, nIn: cols, x, y: got, nTok: 3, mode: "ggml", rowBytes: rb, bias });
    expect(Array.from(got)).toEqual(Array.from(want));
    // a bias shorter than the output rows is refused
    expect(() => matmul({ source: w0, offset: 0, type: T.Q4_K, nOut: rows, nIn: cols, x, y: got, nTok: 3, mode: "ggml", bias: bias.subarray(0, 4) })).toThrow(/bias/);
    setThreads(0);
  });

  // Prefill tiles share each decoded weight block across tokens (vecdot_tile_*): a batch must give, bit
  // for bit, what each token gives alone (single-token calls run the per-pair kernel order).
  test("a batch of tokens equals each token alone (multi-token tiles), every ISA", () => {
    // 21 tokens: two full groups of 8 and a partial one of 5 (on the AVX-512 path the Q8_0-family tile
    // takes a prompt 16 tokens per pass over two rows in lanes and the rest, under 16, in pairs, one or
    // two groups of 8 in one pass: here one group of 16 and a tail of 5), the K-quant tiles' quads a
    // pass of 4 full quads (16 tokens) and one of 2 quads, the second partial; 29: one group in lanes and
    // a tail of 2 groups, the second partial; 45: two groups in lanes and the same tail; 70: four groups
    // in lanes and a partial group (37 rows: the lanes tile's pairs of rows end with a single row)
    const rows = 37;
    const cases = [
      ["Q4_0", T.Q4_0, 256], ["Q8_0", T.Q8_0, 288], ["Q4_K", T.Q4_K, 512], ["Q6_K", T.Q6_K, 768], ["Q5_K", TX.Q5_K, 512],
      ["Q3_K", TX.Q3_K, 768], ["Q2_K", TX.Q2_K, 512], ["IQ4_XS", TX.IQ4_XS, 512], ["Q4_1", TX.Q4_1, 288], ["Q5_1", TX.Q5_1, 352],
    ] as const;
    // on every ISA path, nTok tokens of random activations at once equal each token alone
    const batchEqualsEach = (name: string, type: number, cols: number, w: Uint8Array, nTok: number, seed: number) => {
      const r = rng(seed);
      const x = Float32Array.from({ length: nTok * cols }, () => r() * 2 - 1);
      for (const isa of ISAS) {
        setIsa(isa);
        const batch = mm(w, type, rows, cols, x, nTok, "ggml");
        for (let t = 0; t < nTok; t++) {
          const one = mm(w, type, rows, cols, x.subarray(t * cols, (t + 1) * cols), 1, "ggml");
          expect(Array.from(batch.subarray(t * rows, (t + 1) * rows)), `${name} x ${cols} ${isa} token ${t} of ${nTok}`).toEqual(Array.from(one));
        }
      }
      setIsa(initialIsa);
    };
    for (const [name, type, cols] of cases) {
      const w = weights(type, rows, cols, rng(11));
      for (const nTok of [21, 29, 45, 70]) batchEqualsEach(name, type, cols, w, nTok, 5);
    }
    // short rows (1-3 blocks): the Q8_0-family lanes tile forms its weight blocks a few blocks ahead,
    // so a row shorter than that lead starts and ends inside it
    for (const [name, type, cols] of [["Q8_0", T.Q8_0, 32], ["Q8_0", T.Q8_0, 96], ["Q4_0", T.Q4_0, 64]] as const)
      batchEqualsEach(name, type, cols, weights(type, rows, cols, rng(13)), 35, 7);
  });

  // SwiGLU and softmax blocks run ggml_v_expf as AVX2 intrinsics on the SIMD paths: bit for bit the
  // scalar lane emulation, including the |n| > 126 and > 192 branches, NaN, +-Inf and signed zeros.
  test("attention, ggml mode: every ISA path equals the scalar one bit for bit on random shapes (seeds logged)", () => {
    // decode (one query row: the vectorized scores, softmax blocks and kqv table) and prompts (tinyBLAS
    // kqv, 32 outputs a pass on AVX-512 and 16 for the rest), head dims that are and are not multiples
    // of 8, 16 and 32, contexts across the 32-slot rotation (keys four at a time and the rest)
    expectIsaPathsAgree("attention", 40, (r) => {
      const nHeadKv = 1 + Math.floor(r() * 3), nHead = nHeadKv * (1 + Math.floor(r() * 4));
      const headDim = [8, 16, 24, 32, 64, 96, 128, 12, 40, 48, 160][Math.floor(r() * 11)];
      const nTok = r() < 0.6 ? 1 : 2 + Math.floor(r() * 9), nPast = Math.floor(r() * 300);
      // a packed cache, or rows padded (as the forward pass's KV cache: 16 floats, or any other pad)
      const row = nHeadKv * headDim, pad = [0, 16, Math.floor(r() * 40)][Math.floor(r() * 3)], kvStride = row + pad;
      const nCtx = nPast + nTok, kv = nCtx * kvStride, nOut = nTok * nHead * headDim;
      const k = Float32Array.from({ length: kv }, () => (r() - 0.5) * 4), v = Float32Array.from({ length: kv }, () => (r() - 0.5) * 4);
      const q = Float32Array.from({ length: nOut }, () => (r() - 0.5) * 4);
      const run = () => {
        // the outputs, then the probabilities
        const both = new Float32Array(nOut + nHead * nTok * nCtx), out = both.subarray(0, nOut), probs = both.subarray(nOut);
        attention({ q, k, v, kvStride, out, probs, nTok, nPast, nHead, nHeadKv, headDim, scale: 1 / Math.sqrt(headDim), mode: "ggml" });
        return both;
      };
      return [[`heads ${nHead}/${nHeadKv} d ${headDim} tokens ${nTok} past ${nPast} cache row pad ${pad}`, run]];
    });
  });

  // RoPE: the SIMD paths rotate NEOX pairs eight per register (the scalar tail past the last 8) from the
  // token's cos/sin converted to f32 once; NORM pairs one at a time. Random shapes: head dims on and off
  // the multiples of 16, partial rotation (nDims < headDim), both layouts, YaRN on and off, positions
  // anywhere in a 32K context.
  test("rope, ggml mode: every ISA path equals the scalar one bit for bit on random shapes (seeds logged)", () => {
    expectIsaPathsAgree("rope", 40, (r) => {
      const headDim = [8, 16, 24, 32, 40, 64, 80, 96, 128, 12][Math.floor(r() * 10)];
      const nDims = r() < 0.7 ? headDim : 2 * (1 + Math.floor(r() * (headDim / 2)));
      const nTok = 1 + Math.floor(r() * 9), nHeads = 1 + Math.floor(r() * 6);
      const pos = Int32Array.from({ length: nTok }, () => Math.floor(r() * 32768));
      const yarn = r() < 0.3;
      const opts = {
        nDims, layout: (r() < 0.5 ? "neox" : "norm") as "neox" | "norm", freqBase: r() < 0.5 ? 10000 : 1e6,
        freqScale: yarn ? 0.25 : 1, extFactor: yarn ? 1 : 0, attnFactor: 1, betaFast: 32, betaSlow: 1, nCtxOrig: 8192,
      };
      const x0 = Float32Array.from({ length: nTok * nHeads * headDim }, () => (r() - 0.5) * 8);
      const run = () => {
        const x = x0.slice();
        rope(x, nTok, nHeads, headDim, pos, opts, "ggml");
        return x;
      };
      return [[`${opts.layout} d ${headDim} nDims ${nDims} heads ${nHeads} tokens ${nTok}`, run]];
    });
  });

  // The calling thread keeps the last call's cos/sin table (q and k of a layer, and every layer, rotate the
  // same positions): a call that differs from the previous one in any input of the table must not reuse
  // it. Each variant, right after the base call, equals the same variant after an unrelated call.
  test("rope: the kept cos/sin table is never reused across a change of positions or parameters", () => {
    const nTok = 5, nHeads = 2, headDim = 64;
    const pos = Int32Array.from([0, 1, 2, 3, 4]);
    const base = { nDims: 64, layout: "neox" as const, freqBase: 10000, freqScale: 1, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1, nCtxOrig: 4096 };
    const x0 = Float32Array.from({ length: nTok * nHeads * headDim }, (_, i) => Math.sin(i * 0.37) * 3);
    const rot = (p: Int32Array, o: Parameters<typeof rope>[5], mode: "ggml" | "exact" = "ggml") => {
      const x = x0.slice();
      rope(x, nTok, nHeads, headDim, p, o, mode);
      return x;
    };
    const f1 = Float32Array.from({ length: 32 }, (_, i) => 1 + i / 8), f2 = f1.map((v, i) => (i === 7 ? v * 2 : v));
    const variants: [string, () => Float32Array][] = [
      ["one position", () => rot(Int32Array.from([0, 1, 2, 3, 9]), base)],
      ["freqBase", () => rot(pos, { ...base, freqBase: 1e6 })],
      ["freqScale", () => rot(pos, { ...base, freqScale: 0.5 })],
      ["YaRN", () => rot(pos, { ...base, freqScale: 0.25, extFactor: 1 })],
      ["attnFactor", () => rot(pos, { ...base, attnFactor: 0.5 })],
      ["nDims", () => rot(pos, { ...base, nDims: 32 })],
      ["freq factors", () => rot(pos, { ...base, freqFactors: f1 })],
      ["freq factors' values", () => rot(pos, { ...base, freqFactors: f2 })],
      ["exact mode", () => rot(pos, base, "exact")],
    ];
    for (const [name, v] of variants) {
      rot(pos, { ...base, freqFactors: f1 });
      rot(pos, base);
      const afterBase = v();
      rot(Int32Array.from([100, 200, 300, 400, 500]), { ...base, freqBase: 77 });
      const fresh = v();
      expect(Buffer.from(afterBase.buffer).equals(Buffer.from(fresh.buffer)), name).toBe(true);
      expect(Buffer.from(afterBase.buffer).equals(Buffer.from(rot(pos, base).buffer)), `${name} differs from the base`).toBe(false);
    }
    // the same factors array, changed in place between two calls
    const f = f1.slice();
    const before = rot(pos, { ...base, freqFactors: f });
    f[7] *= 2;
    const after = rot(pos, { ...base, freqFactors: f });
    rot(Int32Array.from([100, 200, 300, 400, 500]), base);
    expect(Buffer.from(after.buffer).equals(Buffer.from(rot(pos, { ...base, freqFactors: f }).buffer))).toBe(true);
    expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer))).toBe(false);
  });

  // The activation quantizers (q8_K, q8_0; AVX2 and AVX-512 forms) on random rows of varied scale, with
  // ties for the largest |x|, zeros, subnormals and huge values mixed in: seen through a matmul (every
  // byte of the block, its d and its bsums reach the output), every path equals scalar bit for bit. Up to
  // 72 tokens, so the prompt tiles' passes (16 tokens for the K-quants, 32 for the Q8_0 family) come
  // full, partial and in every count of groups.
  test("activation quantizers: every ISA path equals scalar on random rows (seeds logged)", () => {
    expectIsaPathsAgree("activation quantizers", 24, (r, seed) => {
      const cols = 256 * (1 + Math.floor(r() * 4)), nTok = 1 + Math.floor(r() * 72), scale = 2 ** (Math.floor(r() * 40) - 20);
      const x = Float32Array.from({ length: nTok * cols }, () => {
        const u = r();
        return u < 0.05 ? 0 : u < 0.08 ? scale : u < 0.11 ? -scale : u < 0.12 ? 1e-41 : (r() - 0.5) * 2 * scale;
      });
      // Q6_K reads each of the 16 bsums (Q4_K only their pair sums)
      return ([["Q4_K", T.Q4_K], ["Q6_K", T.Q6_K], ["Q8_0", T.Q8_0]] as const).map(([name, type]) => {
        const w = weights(type, 5, cols, rng(seed + 1));
        return [`${name} cols ${cols} tokens ${nTok} scale ${scale}`, () => mm(w, type, 5, cols, x, nTok, "ggml")] as IsaCase;
      });
    });
  });

  const y0 = (n: number) => new Float32Array(n);
  test("addF32: the f32 sum of every element, rows shared out over threads, in place allowed, bounds checked", () => {
    const r = rng(5);
    const n = 64 * 1536 + 3; // a prompt's residual (shared out) plus a ragged last row
    const a = Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? [NaN, Infinity, -0, 3.4e38][i % 4] : (r() - 0.5) * 1e3));
    const b = Float32Array.from({ length: n }, () => (r() - 0.5) * 1e-3);
    const want = Float32Array.from(a, (x, i) => Math.fround(x + b[i]));
    for (const threads of [1, 2]) {
      setThreads(threads);
      const y = new Float32Array(n);
      addF32(a, b, y, n, 1536);
      expect(new Uint32Array(y.buffer)).toEqual(new Uint32Array(want.buffer));
    }
    setThreads(0);
    const x = Float32Array.from(a);
    addF32(x, b, x, n, 1536);
    expect(new Uint32Array(x.buffer)).toEqual(new Uint32Array(want.buffer));
    // a bias: one row added to every row
    const bias = Float32Array.from({ length: 1536 }, () => r() - 0.5);
    const xb = a.subarray(0, 64 * 1536), yb = new Float32Array(xb.length);
    addF32(xb, bias, yb, xb.length, 1536, true);
    expect(new Uint32Array(yb.buffer)).toEqual(new Uint32Array(Float32Array.from(xb, (v, i) => Math.fround(v + bias[i % 1536])).buffer));
    expect(() => addF32(a, b, new Float32Array(n - 1), n)).toThrow(/add length/);
    expect(() => addF32(a, bias.subarray(1), y0(n), n, 1536, true)).toThrow(/add length/);
    expect(() => addF32(a, b, new Float32Array(n), n, 0)).toThrow(/add row length/);
  });

  test("swiglu and softmax: every ISA equals the scalar lanes bit for bit", () => {
    const special = [0, -0, 1e-40, -1e-40, 87, -87, 88.8, -88.8, 89, -89, 100, -100, 130, -130, 150, -150, 200, -200, NaN, Infinity, -Infinity, 3.4e38, -3.4e38];
    const r = rng(3);
    const n = 8 * 40 + 5;
    const g = Float32Array.from({ length: n }, (_, i) => (i < special.length ? special[i] : (r() - 0.5) * (i % 3 ? 20 : 400)));
    const u = Float32Array.from({ length: n }, () => r() * 4 - 2);
    const sm = Float32Array.from({ length: 3 * 67 }, (_, i) => (i % 11 === 0 ? -200 : (r() - 0.5) * 60));
    const run = () => {
      const y = new Float32Array(n);
      swiglu(g, u, y, n, "ggml", n);
      const s = Float32Array.from(sm);
      softmaxRows(s, 3, 67, "ggml");
      return [...new Uint32Array(y.buffer), ...new Uint32Array(s.buffer)];
    };
    setIsa("scalar");
    const ref = run();
    for (const isa of ISAS) {
      setIsa(isa);
      expect(run(), isa).toEqual(ref);
    }
    setIsa(initialIsa);
  });

  // The AVX2 activation quantizers (q8_0, q8_K): ties for the largest |x| (the first one sets the sign
  // of Q8_K's scale), all-zero blocks, values that round to +-127 and NaN must give the scalar blocks.
  test("activation quantization edge cases: every ISA equals scalar", () => {
    const cols = 512, nTok = 5, r = rng(21);
    const x = Float32Array.from({ length: nTok * cols }, () => r() * 2 - 1);
    x.fill(0, 0, 256); // token 0: a zero superblock
    x[cols + 3] = 2; x[cols + 10] = -2; x[cols + 300] = -3; x[cols + 301] = 3; // ties, both orders
    x[2 * cols + 7] = NaN; // token 2 is NaN throughout its outputs
    x[3 * cols + 40] = 1e-30; x[3 * cols + 41] = -1e30;
    for (const [name, type] of [["Q8_0", T.Q8_0], ["Q4_K", T.Q4_K]] as const) {
      const w = weights(type, 19, cols, rng(2));
      setIsa("scalar");
      const ref = mm(w, type, 19, cols, x, nTok, "ggml");
      for (const isa of ISAS) {
        setIsa(isa);
        expect(Array.from(mm(w, type, 19, cols, x, nTok, "ggml")), `${name} ${isa}`).toEqual(Array.from(ref));
      }
    }
    setIsa(initialIsa);
  });

  // Capture summaries in batches (four equal-length slices per AVX2 instruction stream, on the pool):
  // each must be the single-slice summary, bit for bit, NaN/Inf/signed zeros/empty slices included.
  test("summarizeMany equals summarize for every slice, every ISA and thread count", () => {
    const r = rng(9);
    const mk = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
    const xs = [
      mk(1000, () => r() - 0.5), mk(1000, () => (r() - 0.5) * 1e30), mk(1000, (i) => (i % 7 === 0 ? NaN : i % 11 === 0 ? -Infinity : r())),
      mk(1000, () => NaN), mk(1000, (i) => (i % 2 ? -0 : 0)), mk(1000, () => r() * 1e-40), mk(37, () => r() + 1000),
      mk(37, (i) => (i === 5 ? Infinity : -r())), mk(1000, () => 3), mk(1000, () => r() * 2 - 1),
    ];
    // wide dynamic range and cancellation (the compensated sums' error terms), subnormals included
    for (let k = 0; k < 24; k++) {
      const f = new Float32Array(1 << 16);
      const bits = new Uint32Array(f.buffer);
      for (let i = 0; i < bits.length; i++) bits[i] = (Math.floor(r() * 2 ** 32) & 0x80ffffff) | (Math.floor(r() ** (1 + (k % 4)) * 254) << 23);
      xs.push(f);
    }
    const ranges: number[] = [];
    xs.forEach((x, i) => ranges.push(i, 0, x.length));
    ranges.push(0, 10, 37, 1, 3, 37, 2, 0, 0, 9, 500, 500, 0, 500, 500);
    const expected = [];
    for (let i = 0; i < ranges.length; i += 3) expected.push(summarize(xs[ranges[i]], { offset: ranges[i + 1], count: ranges[i + 2] }));
    for (const isa of ISAS)
      for (const threads of [1, 2]) {
        setIsa(isa);
        setThreads(threads);
        expect(summarizeMany(xs, Float64Array.from(ranges)), `${isa} ${threads} threads`).toEqual(expected);
      }
    setThreads(0);
    setIsa(initialIsa);
  });

  test("bad shapes are refused, not read out of bounds", () => {
    const w = weights(T.Q4_0, 4, 64);
    const x = new Float32Array(64), y = new Float32Array(8);
    expect(() => matmul({ source: w, offset: 0, type: T.Q4_0, nOut: 8, nIn: 64, x, y, nTok: 1, mode: "ggml" })).toThrow(/shorter/);
    expect(() => matmul({ source: w, offset: 0, type: T.Q4_0, nOut: 2, nIn: 48, x, y, nTok: 1, mode: "ggml" })).toThrow(/block size/);
    expect(() => matmul({ source: w, offset: 0, type: 4, nOut: 2, nIn: 64, x, y, nTok: 1, mode: "ggml" })).toThrow(/not supported/);
  });
});
