/** Shared by the kernel tests: their seeded LCG (the sequence their weights were drawn from) and one matmul call. */
import { matmul, type Numerics } from "../../src/bindings/kernels.js";

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** y = W x for stored weights `w` ([rows, cols] of `type`) and nTok activations. */
export function mm(w: Uint8Array, type: number, rows: number, cols: number, x: Float32Array, nTok: number, mode: Numerics): Float32Array {
  const y = new Float32Array(nTok * rows);
  matmul({ source: w, offset: 0, type, nOut: rows, nIn: cols, x, y, nTok, mode });
  return y;
}
