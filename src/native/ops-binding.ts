/**
 * The engine's part of the `.node` surface (native/addon/ops.cc). Positional arguments mirror the C++;
 * src/native/ops.ts wraps them in validated, option-object functions. `mode`: 0 = ggml, 1 = exact.
 * `w` is a Mapping (zero copy, weights stay in the file mapping) or any typed array (tests).
 */
export type WeightSource = object | ArrayBufferView;

export interface RopeParamsNative {
  nDims: number;
  neox: boolean;
  freqBase: number;
  freqScale: number;
  extFactor: number;
  attnFactor: number;
  betaFast: number;
  betaSlow: number;
  nCtxOrig: number;
  freqFactors?: Float32Array;
  mode: 0 | 1;
}

export interface OpsBinding {
  opsMatmul(w: WeightSource, wOffset: number, type: number, nOut: number, nIn: number, x: Float32Array, y: Float32Array, nTok: number, mode: 0 | 1, rowBytes?: number): void;
  opsToF32(w: WeightSource, wOffset: number, type: number, n: number, out: Float32Array): void;
  opsActRound(type: number, x: Float32Array, out: Float32Array, n: number): string;
  opsRmsNorm(x: Float32Array, w: Float32Array | null, y: Float32Array, nRows: number, n: number, eps: number, mode: 0 | 1): void;
  opsRope(x: Float32Array, nTok: number, nHeads: number, headDim: number, pos: Int32Array, params: RopeParamsNative): void;
  opsAttention(
    q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, probs: Float32Array | null,
    nTok: number, nPast: number, nHead: number, nHeadKv: number, headDim: number, scale: number, mode: 0 | 1,
  ): void;
  opsSwiglu(g: Float32Array, u: Float32Array, y: Float32Array, n: number, mode: 0 | 1, rowLen?: number): void;
  opsSoftmaxRows(x: Float32Array, nRows: number, n: number, mode: 0 | 1): void;
  opsSetThreads(n: number): number;
  opsGetThreads(): number;
  opsRowBytes(type: number, nIn: number): number;
  /** 10 numbers per range, in Summary field order (count, nan, inf, zeros, mean, std, min, max, absmax, l2). */
  opsStatsMany(xs: Float32Array[], ranges: Float64Array): Float64Array;
}
