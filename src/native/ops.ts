/**
 * Validated TypeScript wrappers over the engine kernels (native/addon/ops.cc). Every argument a kernel
 * trusts is checked here (style: validate in TS, trust in C++); the C++ side re-checks only bounds.
 */
import type { KernelsBinding } from "./binding.js";
import { loadAddon } from "./load.js";
import type { OpsBinding, RopeParamsNative, WeightSource } from "./ops-binding.js";
import type { Summary } from "../trace/types.js";

export type Numerics = "ggml" | "exact";
const MODE = { ggml: 0, exact: 1 } as const;

/** The addon with the engine's surface (ops-binding.ts) next to the kernels module's (binding.ts). */
export function native(): OpsBinding & KernelsBinding {
  return loadAddon() as unknown as OpsBinding & KernelsBinding;
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new RangeError(`rosetta ops: ${msg}`);
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

export interface MatmulOptions {
  /** Weight bytes: a Mapping of the model file or a typed array. */
  source: WeightSource;
  /** Absolute byte offset of the weight tensor in `source`. */
  offset: number;
  type: number;
  nOut: number;
  nIn: number;
  /** [nTok, nIn] */
  x: Float32Array;
  /** [nTok, nOut] */
  y: Float32Array;
  nTok: number;
  mode: Numerics;
  /** Bytes from one weight row to the next (APR per-row padded K-quants); absent = packed rows. */
  rowBytes?: number;
}

/** y = x W^T with W as stored ([nOut, nIn]). */
export function matmul(o: MatmulOptions): void {
  check(isCount(o.nOut) && isCount(o.nIn) && isCount(o.nTok), `matmul dims ${o.nOut}x${o.nIn} for ${o.nTok} tokens`);
  check(o.x.length >= o.nTok * o.nIn, `matmul x has ${o.x.length} elements, needs ${o.nTok * o.nIn}`);
  check(o.y.length >= o.nTok * o.nOut, `matmul y has ${o.y.length} elements, needs ${o.nTok * o.nOut}`);
  check(Number.isSafeInteger(o.offset) && o.offset >= 0, `matmul offset ${o.offset}`);
  check(o.rowBytes === undefined || (Number.isSafeInteger(o.rowBytes) && o.rowBytes > 0), `matmul rowBytes ${o.rowBytes}`);
  native().opsMatmul(o.source, o.offset, o.type, o.nOut, o.nIn, o.x, o.y, o.nTok, MODE[o.mode], o.rowBytes ?? 0);
}

/** Dequantizes n elements of a stored tensor starting at byte `offset`. */
export function toF32(source: WeightSource, offset: number, type: number, n: number, out = new Float32Array(n)): Float32Array {
  check(isCount(n) && out.length >= n && Number.isSafeInteger(offset) && offset >= 0, `toF32 of ${n} elements at ${offset}`);
  native().opsToF32(source, offset, type, n, out);
  return out;
}

/** What a ggml-mode matmul with weights of `type` sees of the activations x; returns the vec_dot type name. */
export function actRound(type: number, x: Float32Array, out: Float32Array): string {
  check(out.length >= x.length, "actRound out is too short");
  return native().opsActRound(type, x, out, x.length);
}

export function rowBytes(type: number, nIn: number): number {
  return native().opsRowBytes(type, nIn);
}

export function rmsNorm(x: Float32Array, w: Float32Array | null, y: Float32Array, nRows: number, n: number, eps: number, mode: Numerics): void {
  check(isCount(nRows) && isCount(n) && x.length >= nRows * n && y.length >= nRows * n, `rmsNorm ${nRows}x${n}`);
  check(w === null || w.length >= n, `rmsNorm weight has ${w?.length} elements, needs ${n}`);
  check(eps >= 0 && Number.isFinite(eps), `rmsNorm eps ${eps}`);
  native().opsRmsNorm(x, w, y, nRows, n, eps, MODE[mode]);
}

/** RoPE parameters as the model gives them: the native ones, with the layout named instead of a flag. */
export interface RopeOptions extends Omit<RopeParamsNative, "neox" | "mode"> {
  layout: "norm" | "neox";
}

/** Rotates x = [nTok, nHeads, headDim] in place at positions pos. */
export function rope(x: Float32Array, nTok: number, nHeads: number, headDim: number, pos: Int32Array, r: RopeOptions, mode: Numerics): void {
  check(isCount(nTok) && isCount(nHeads) && isCount(headDim) && x.length >= nTok * nHeads * headDim, "rope dims");
  check(pos.length >= nTok, "rope positions");
  check(r.nDims > 0 && r.nDims <= headDim && r.nDims % 2 === 0, `rope nDims ${r.nDims}`);
  check(!r.freqFactors || r.freqFactors.length >= r.nDims / 2, "rope freq factors are too short");
  const p: RopeParamsNative = { ...r, neox: r.layout === "neox", mode: MODE[mode] };
  native().opsRope(x, nTok, nHeads, headDim, pos, p);
}

export interface AttentionOptions {
  q: Float32Array; // [nTok, nHead*headDim]
  k: Float32Array; // cache [>= nPast+nTok, nHeadKv*headDim]
  v: Float32Array;
  out: Float32Array; // [nTok, nHead*headDim]
  probs: Float32Array | null; // [nHead, nTok, nPast+nTok]
  nTok: number;
  nPast: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  scale: number;
  mode: Numerics;
}

export function attention(o: AttentionOptions): void {
  check(isCount(o.nTok) && Number.isSafeInteger(o.nPast) && o.nPast >= 0, "attention positions");
  check(isCount(o.nHead) && isCount(o.nHeadKv) && o.nHead % o.nHeadKv === 0 && isCount(o.headDim), "attention heads");
  const nCtx = o.nPast + o.nTok;
  check(o.k.length >= nCtx * o.nHeadKv * o.headDim && o.v.length >= nCtx * o.nHeadKv * o.headDim, "attention cache too short");
  check(o.q.length >= o.nTok * o.nHead * o.headDim && o.out.length >= o.nTok * o.nHead * o.headDim, "attention q/out");
  check(o.probs === null || o.probs.length >= o.nHead * o.nTok * nCtx, "attention probs");
  native().opsAttention(o.q, o.k, o.v, o.out, o.probs, o.nTok, o.nPast, o.nHead, o.nHeadKv, o.headDim, o.scale, MODE[o.mode]);
}

export function swiglu(g: Float32Array, u: Float32Array, y: Float32Array, n: number, mode: Numerics, rowLen = n): void {
  check(Number.isSafeInteger(n) && n >= 0 && g.length >= n && u.length >= n && y.length >= n, "swiglu length");
  check(Number.isSafeInteger(rowLen) && rowLen > 0 && n % rowLen === 0, "swiglu row length");
  native().opsSwiglu(g, u, y, n, MODE[mode], rowLen);
}

/** Softmax of each row of n, in place (ggml's soft_max without mask or scale in ggml mode). */
export function softmaxRows(x: Float32Array, nRows: number, n: number, mode: Numerics): void {
  check(isCount(nRows) && isCount(n) && x.length >= nRows * n, `softmaxRows ${nRows}x${n}`);
  native().opsSoftmaxRows(x, nRows, n, MODE[mode]);
}

/** Sets the kernel thread count (0 = number of cores); returns the count in use. */
export function setThreads(n: number): number {
  check(Number.isSafeInteger(n) && n >= 0 && n <= 256, `threads ${n}`);
  return native().opsSetThreads(n);
}

export function getThreads(): number {
  return native().opsGetThreads();
}

/** Summary of x[offset + i*stride], i < count (the kernels' f64 stats). */
export function summarize(x: Float32Array, offset = 0, count = x.length, stride = 1): Summary {
  return native().stats(x, offset, count, stride);
}

/**
 * Summaries of slices of several tensors (ranges: tensor index, offset, count triples), computed in
 * parallel on the kernel thread pool; each is exactly summarize(xs[i], offset, count).
 */
export function summarizeMany(xs: Float32Array[], ranges: Float64Array): Summary[] {
  check(ranges.length % 3 === 0, "summarizeMany ranges must be (tensor, offset, count) triples");
  const v = native().opsStatsMany(xs, ranges);
  const out: Summary[] = [];
  for (let i = 0; i < v.length; i += 10) {
    // the field order of native/common/stats_js.h (summarize()), so serialized traces are the same
    out.push({ count: v[i], nan: v[i + 1], inf: v[i + 2], zeros: v[i + 3], mean: v[i + 4], std: v[i + 5], min: v[i + 6], max: v[i + 7], absmax: v[i + 8], l2: v[i + 9] });
  }
  return out;
}

/** The ISA path in use (one definition, in kernels.ts). */
export { currentIsa } from "./kernels.js";

export function setIsa(name: "scalar" | "avx2" | "avx512"): string {
  return native().setIsa(name);
}
