/**
 * Shared building blocks of the llama-family forward pass (cf. llama.cpp's build_norm / build_ffn /
 * build_attn). Each takes its output from scratch() (a fresh array, or inside the forward pass a reused
 * buffer: src/graph/scratch.ts) and writes all of it; inputs are never modified unless the name says
 * "InPlace".
 */
import { addF32, attention, matmul, rmsNorm, swiglu, type Numerics } from "../bindings/kernels.js";
import type { MatWeight } from "../model/types.js";
import { scratch } from "./scratch.js";

/** y = x W^T (+ b): [T, W.cols] -> [T, W.rows]. */
export function linear(x: Float32Array, T: number, w: MatWeight, b: Float32Array | null, mode: Numerics): Float32Array {
  const y = scratch(T * w.rows);
  // the bias as ggml's ADD of a broadcast row, y + b in f32, done by the matmul as it writes each block
  // of rows (one native call and no second pass over y)
  matmul({ source: w.source, offset: w.offset, type: w.type, nOut: w.rows, nIn: w.cols, x, y, nTok: T, mode, rowBytes: w.rowBytes, bias: b });
  return y;
}

/** a + b, elementwise in f32 (the residual connection), rows of rowLen (a prompt's tokens) in parallel. */
export function add(a: Float32Array, b: Float32Array, rowLen = a.length): Float32Array {
  const y = scratch(a.length);
  addF32(a, b, y, a.length, rowLen);
  return y;
}

/** RMSNorm of each row of n, times w. */
export function norm(x: Float32Array, rows: number, n: number, w: Float32Array, eps: number, mode: Numerics): Float32Array {
  const y = scratch(rows * n);
  rmsNorm(x, w, y, rows, n, eps, mode);
  return y;
}

/** Writes rows [pos0, pos0 + T) (n floats each) into a cache whose rows are `stride` floats apart. */
export function storeRows(cache: Float32Array, rows: Float32Array, pos0: number, T: number, n: number, stride = n): void {
  if (stride === n) return cache.set(rows.subarray(0, T * n), pos0 * n);
  for (let t = 0; t < T; t++) cache.set(rows.subarray(t * n, (t + 1) * n), (pos0 + t) * stride);
}

export interface AttnBlockArgs {
  q: Float32Array; // [T, nHead*headDim], rotated
  kCache: Float32Array;
  vCache: Float32Array;
  /** Floats from one cache row to the next (RunState.kvStride). */
  kvStride: number;
  T: number;
  nPast: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  mode: Numerics;
  keepProbs: boolean;
}

/** softmax(q k^T / sqrt(d) + causal mask) v per head: [T, nHead*headDim], and the probabilities if asked. */
export function causalAttention(a: AttnBlockArgs): { out: Float32Array; probs: Float32Array | null } {
  const out = scratch(a.T * a.nHead * a.headDim);
  const probs = a.keepProbs ? scratch(a.nHead * a.T * (a.nPast + a.T)) : null;
  attention({
    q: a.q, k: a.kCache, v: a.vCache, kvStride: a.kvStride, out, probs, nTok: a.T, nPast: a.nPast,
    nHead: a.nHead, nHeadKv: a.nHeadKv, headDim: a.headDim, scale: 1 / Math.sqrt(a.headDim), mode: a.mode,
  });
  return { out, probs };
}

/** silu(gate) * up, over rows of rowLen (ggml vectorizes each row from its start). */
export function swigluOf(gate: Float32Array, up: Float32Array, mode: Numerics, rowLen = gate.length): Float32Array {
  const y = scratch(gate.length);
  swiglu(gate, up, y, gate.length, mode, rowLen);
  return y;
}
