/**
 * `npm run bench:ops`: the forward pass's ops outside the weight matmuls, and the activation
 * quantization in front of each matmul, on the ISA paths this CPU runs, side by side in one process:
 * the paths alternate A B A B ..., each figure is the median over the rounds, the ratio is the median
 * of the rounds' own ratios (first path / each other path: > 1, the other is faster). Every path's
 * output is checked bit-identical to the first's before timing. Shapes are Qwen2.5-1.5B's and 7B's
 * (heads 12/2 and 28/4, head dim 128, ffn 8960) at a 64-token prompt.
 *
 * Cases: attention (one prompt of 64 tokens, all heads; the cache packed, and its rows padded by 16
 * floats as the forward pass's are), rope (q of one layer), swiglu (one layer's ffn), rmsnorm (one
 * layer's input), quant+q4_K (a 16-row Q4_K matmul of 8960-wide rows x 64 tokens: the conversion of the
 * tokens to Q8_K is most of it). Options (env): BENCH_REPS (rounds, default 15), BENCH_THREADS (default
 * 1), BENCH_ISAS (comma list, default every path but scalar).
 */
import os from "node:os";

import {
  attention,
  cpuFeatures,
  currentIsa,
  matmul,
  rmsNorm,
  rope,
  setIsa,
  setThreads,
  swiglu,
  typeTraitsTable,
} from "../src/bindings/kernels.js";
import { randomBlocks } from "./kernels-data.js";
import { median, secondsPerCall } from "./timing.js";

const REPS = Number(process.env.BENCH_REPS ?? 15);
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const runnable = cpuFeatures().isas.filter((i) => i !== "scalar");
const ISAS = (process.env.BENCH_ISAS?.split(",") ?? runnable).filter((i) => runnable.includes(i as never));

/** Seconds per call, repeated until ~30 ms have passed. */
const time = (fn: () => void): number => secondsPerCall(fn, 30);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Case {
  name: string;
  /** Runs the op once; returns its output (compared across paths). */
  run: () => Float32Array;
}

/** pad: floats added to each cache row (the forward pass's KV cache pads by 16: src/model/forward.ts). */
function attentionCase(nHead: number, nHeadKv: number, pad: number): Case {
  const T = 64, hd = 128, r = rng(nHead), kvStride = nHeadKv * hd + pad;
  const f = (n: number) => Float32Array.from({ length: n }, () => r() - 0.5);
  const q = f(T * nHead * hd), k = f(T * kvStride), v = f(T * kvStride), out = new Float32Array(T * nHead * hd);
  return {
    name: `attention ${nHead}/${nHeadKv} heads x 64${pad ? `, rows +${pad}` : ""}`,
    run: () => {
      attention({ q, k, v, kvStride, out, probs: null, nTok: T, nPast: 0, nHead, nHeadKv, headDim: hd, scale: 1 / Math.sqrt(hd), mode: "ggml" });
      return out;
    },
  };
}

function ropeCase(): Case {
  const T = 64, H = 12, hd = 128, r = rng(3);
  const x0 = Float32Array.from({ length: T * H * hd }, () => r() - 0.5), x = new Float32Array(x0.length);
  const pos = Int32Array.from({ length: T }, (_, i) => i);
  const opts = { nDims: hd, layout: "neox" as const, freqBase: 1e6, freqScale: 1, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1, nCtxOrig: 32768 };
  return {
    name: "rope q 12 heads x 64",
    run: () => {
      x.set(x0);
      rope(x, T, H, hd, pos, opts, "ggml");
      return x;
    },
  };
}

function swigluCase(): Case {
  const n = 64 * 8960, r = rng(5);
  const g = Float32Array.from({ length: n }, () => (r() - 0.5) * 8), u = Float32Array.from({ length: n }, () => r() - 0.5);
  const y = new Float32Array(n);
  return {
    name: "swiglu 64 x 8960",
    run: () => {
      swiglu(g, u, y, n, "ggml", 8960);
      return y;
    },
  };
}

function rmsNormCase(): Case {
  const rows = 64, n = 1536, r = rng(9);
  const x = Float32Array.from({ length: rows * n }, () => r() - 0.5), w = Float32Array.from({ length: n }, () => r() + 0.5);
  const y = new Float32Array(rows * n);
  return {
    name: "rmsnorm 64 x 1536",
    run: () => {
      rmsNorm(x, w, y, rows, n, 1e-6, "ggml");
      return y;
    },
  };
}

function quantMatmulCase(): Case {
  const rows = 16, cols = 8960, T = 64, r = rng(7);
  const t = typeTraitsTable().find((x) => x.name === "q4_K");
  if (!t) throw new Error("q4_K is missing from the type table");
  const w = randomBlocks("q4_K", t.typeSize, (rows * cols) / t.blockSize, r);
  const x = Float32Array.from({ length: T * cols }, () => r() - 0.5), y = new Float32Array(T * rows);
  return {
    name: "quant+q4_K 16 x 8960 x 64",
    run: () => {
      matmul({ source: w, offset: 0, type: t.id, nOut: rows, nIn: cols, x, y, nTok: T, mode: "ggml" });
      return y;
    },
  };
}

function same(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

function main(): void {
  if (ISAS.length === 0) {
    const asked = process.env.BENCH_ISAS;
    console.log(
      asked
        ? `bench:ops: BENCH_ISAS=${asked} names no path this CPU runs (it runs: ${runnable.join(", ") || "scalar only"})`
        : "bench:ops: no SIMD path runs on this CPU; nothing to compare",
    );
    process.exitCode = asked ? 2 : 0;
    return;
  }
  const initial = currentIsa();
  setThreads(THREADS);
  const cases = [attentionCase(12, 2, 0), attentionCase(12, 2, 16), attentionCase(28, 4, 0), attentionCase(28, 4, 16), ropeCase(), swigluCase(), rmsNormCase(), quantMatmulCase()];
  console.log(`ops bench: paths ${ISAS.join(", ")}; ${THREADS} thread(s); medians of ${REPS} rounds, paths alternating; ${os.cpus()[0]?.model ?? "cpu"}; ${new Date().toISOString()}`);
  console.log(["case".padEnd(40), ...ISAS.map((i) => `${i} us`.padStart(11)), ...ISAS.slice(1).map((i) => `${ISAS[0]}/${i}`.padStart(13))].join(""));
  for (const c of cases) {
    setIsa(ISAS[0]);
    const ref = c.run().slice();
    for (const isa of ISAS.slice(1)) {
      setIsa(isa);
      if (!same(c.run(), ref)) throw new Error(`${c.name}: the ${isa} path's output differs from the ${ISAS[0]} path's`);
    }
    const secs: number[][] = ISAS.map(() => []);
    const ratios: number[][] = ISAS.map(() => []);
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 ? [...ISAS.keys()].reverse() : [...ISAS.keys()];
      const t: number[] = [];
      for (const i of order) {
        setIsa(ISAS[i]);
        t[i] = time(c.run);
        secs[i].push(t[i]);
      }
      for (let i = 1; i < ISAS.length; i++) ratios[i].push(t[0] / t[i]);
    }
    console.log(
      [
        c.name.padEnd(40),
        ...secs.map((s) => (median(s) * 1e6).toFixed(1).padStart(11)),
        ...ratios.slice(1).map((r) => median(r).toFixed(2).padStart(13)),
      ].join(""),
    );
  }
  setIsa(initial);
  setThreads(0);
}

main();
