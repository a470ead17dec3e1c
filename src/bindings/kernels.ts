/**
 * The validated wrappers over the kernels addon (src/bindings/kernels-addon.ts types the raw exports):
 * one function per operation. Arguments are checked here and turned into rosetta errors (bad data ->
 * InputError, unsupported type or ISA -> UnsupportedError, misuse -> RangeError "rosetta ops: ...");
 * the C++ side re-checks them only so that it can never read or write out of range.
 *
 * Sections: type table, dequantization and row fetch, statistics and diffs, CPU and ISA, file
 * mappings, engine ops (matmul, norms, RoPE, attention...), and llama.cpp's own kernels as test oracles.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import type { Summary } from "../trace/types.js";
import { InputError, UnsupportedError } from "../util/errors.js";
import {
  loadKernelsAddon,
  type ByteSource,
  type IsaName,
  type KernelsAddon,
  type NativeCpuFeatures,
  type NativeDiffMetrics,
  type NativeMapping,
  type NativeStats,
  type NativeTypeTraits,
  type RopeParamsNative,
} from "./kernels-addon.js";
import { repoRoot } from "./paths.js";

export type { ByteSource, IsaName, NativeCpuFeatures, NativeDiffMetrics, NativeMapping, NativeStats, NativeTypeTraits };

const addon = (): KernelsAddon => loadKernelsAddon();

// ---- type table ----

let traitsById: Map<number, NativeTypeTraits> | null = null;

function table(): Map<number, NativeTypeTraits> {
  if (!traitsById) traitsById = new Map(addon().typeTraits().map((t) => [t.id, Object.freeze(t)]));
  return traitsById;
}

function checkIndex(v: number, name: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative safe integer (got ${v})`);
}

/** Every type the native table knows (supported or not), ascending id. */
export function typeTraitsTable(): readonly NativeTypeTraits[] {
  return [...table().values()];
}

export function typeTraitsById(id: number): NativeTypeTraits | undefined {
  return table().get(id);
}

/** GGML's name for a type id ("q4_K"), or "type#<id>" for an id nobody knows. */
export function typeName(id: number): string {
  return table().get(id)?.name ?? `type#${id}`;
}

/** Traits of a type rosetta can decode; throws InputError (unknown id) or UnsupportedError (by name). */
export function supportedType(id: number): NativeTypeTraits {
  const t = table().get(id);
  if (!t) throw new InputError(`unknown tensor type id ${id}`);
  if (!t.supported) throw new UnsupportedError(`tensor type ${t.name} is not supported`);
  return t;
}

/** Bytes of nElements of a type; InputError if nElements is not a whole number of blocks. */
export function tensorByteSize(type: number, nElements: number): number {
  checkIndex(nElements, "nElements");
  const t = table().get(type);
  if (!t) throw new InputError(`unknown tensor type id ${type}`);
  if (nElements % t.blockSize !== 0) {
    throw new InputError(`${nElements} elements is not a multiple of the ${t.name} block size ${t.blockSize}`);
  }
  return (nElements / t.blockSize) * t.typeSize + (t.headerBytes ?? 0);
}

function sourceSize(src: ByteSource): number {
  if (src instanceof ArrayBuffer) return src.byteLength;
  if (ArrayBuffer.isView(src)) return src.byteLength;
  if (src.closed) throw new RangeError(`mapping of ${src.path} is closed`);
  return src.size;
}

// ---- dequantization ----

/** Where a tensor's bytes are: a source, a byte offset in it, its type and element count. */
export interface TensorView {
  source: ByteSource;
  offset: number;
  type: number;
  nElements: number;
  /** For messages ("blk.0.attn_q.weight"). */
  name?: string;
}

/** Dequantize a tensor to f32 (into `out` at `outOffset` if given, else a new array). */
export function dequantize(view: TensorView, out?: Float32Array, outOffset = 0): Float32Array {
  const t = supportedType(view.type);
  checkIndex(view.offset, "offset");
  const bytes = tensorByteSize(view.type, view.nElements);
  const size = sourceSize(view.source);
  const what = view.name ? `tensor ${view.name}` : "tensor";
  if (view.offset > size || bytes > size - view.offset) {
    throw new InputError(
      `${what} (${t.name}, ${view.nElements} elements) needs bytes [${view.offset}, ${view.offset + bytes}) but the source has ${size}`,
    );
  }
  checkIndex(outOffset, "outOffset");
  const dst = out ?? new Float32Array(view.nElements);
  if (outOffset + view.nElements > dst.length) {
    throw new RangeError(`out has ${dst.length} elements; ${view.nElements} do not fit at ${outOffset}`);
  }
  addon().dequantize(view.source, view.offset, bytes, view.type, view.nElements, dst, outOffset);
  return dst;
}

/** A stored matrix: where its bytes are, its type and [rows, cols] shape. */
export interface StoredMatrix {
  source: ByteSource;
  /** Absolute byte offset of the tensor. */
  offset: number;
  type: number;
  rows: number;
  cols: number;
  /** Bytes from one row to the next when rows are padded (APR per-row padded K-quants); absent = packed. */
  rowBytes?: number;
}

const isIndex = (n: number) => Number.isSafeInteger(n) && n >= 0;

/**
 * Row `row` of m dequantized into out[0..cols) (kernels/apr_matmul.cpp get_row): the embedding lookup
 * (ggml GET_ROWS, each row dequantized exactly) for packed rows, APR per-row padded K-quant rows and
 * APR-native types (APR_Q8's scale sits before row 0).
 */
export function getRow(m: StoredMatrix, row: number, out: Float32Array): Float32Array {
  if (!isIndex(m.offset) || !isIndex(m.rows) || !isIndex(m.cols) || !isIndex(m.rowBytes ?? 0)) {
    throw new RangeError(`getRow: bad matrix (offset ${m.offset}, [${m.rows}, ${m.cols}], rowBytes ${m.rowBytes})`);
  }
  if (!isIndex(row) || row >= m.rows) throw new RangeError(`getRow: row ${row} is outside 0..${m.rows - 1}`);
  if (out.length < m.cols) throw new RangeError(`getRow: out has ${out.length} elements, needs ${m.cols}`);
  addon().opsGetRow(m.source, m.offset, m.type, m.rows, m.cols, m.rowBytes ?? 0, row, out);
  return out;
}

/** The first `count` rows of m dequantized into one [count, cols] array (padded rows honoured). */
export function getRows(m: StoredMatrix, count = m.rows, out = new Float32Array(count * m.cols)): Float32Array {
  if (!Number.isSafeInteger(count) || count < 0 || count > m.rows) throw new RangeError(`getRows: ${count} rows of ${m.rows}`);
  if (out.length < count * m.cols) throw new RangeError(`getRows: out has ${out.length} elements, needs ${count * m.cols}`);
  for (let r = 0; r < count; r++) getRow(m, r, out.subarray(r * m.cols, (r + 1) * m.cols));
  return out;
}

// ---- statistics and diffs ----

export interface StatsSpan {
  offset?: number;
  count?: number;
  stride?: number;
}

/**
 * Summary (the kernels' f64 stats) of x[offset + i*stride], i < count (default: the whole array).
 * Definitions: docs/metrics.md.
 */
export function summarize(x: Float32Array, span: StatsSpan = {}): NativeStats {
  const offset = span.offset ?? 0;
  const stride = span.stride ?? 1;
  checkIndex(offset, "offset");
  checkIndex(stride, "stride");
  if (stride < 1) throw new RangeError("stride must be >= 1");
  const count = span.count ?? (offset < x.length ? Math.ceil((x.length - offset) / stride) : 0);
  checkIndex(count, "count");
  if (count > 0 && offset + (count - 1) * stride >= x.length) {
    throw new RangeError(`${count} elements at offset ${offset}, stride ${stride} exceed the array (${x.length})`);
  }
  return addon().stats(x, offset, count, stride);
}

/** Pairwise metrics with `ref` as the reference. Definitions: docs/metrics.md. */
export function diffMetrics(ref: Float32Array, other: Float32Array): NativeDiffMetrics {
  if (ref.length !== other.length) throw new RangeError(`diff: lengths differ (${ref.length} vs ${other.length})`);
  return addon().diff(ref, other);
}

/**
 * Summaries of slices of several tensors (ranges: tensor index, offset, count triples), computed in
 * parallel on the kernel thread pool; each is exactly summarize(xs[i], { offset, count }).
 */
export function summarizeMany(xs: Float32Array[], ranges: Float64Array): Summary[] {
  check(ranges.length % 3 === 0, "summarizeMany ranges must be (tensor, offset, count) triples");
  const v = addon().opsStatsMany(xs, ranges);
  const out: Summary[] = [];
  for (let i = 0; i < v.length; i += 10) {
    // the field order of native/common/stats_js.h, so serialized traces are the same
    out.push({ count: v[i], nan: v[i + 1], inf: v[i + 2], zeros: v[i + 3], mean: v[i + 4], std: v[i + 5], min: v[i + 6], max: v[i + 7], absmax: v[i + 8], l2: v[i + 9] });
  }
  return out;
}

// ---- CPU and ISA ----

export function cpuFeatures(): NativeCpuFeatures {
  return addon().cpuFeatures();
}

/** The ISA path in use. */
export function currentIsa(): IsaName {
  return addon().isa();
}

/** Forces an ISA path; UnsupportedError if this CPU cannot run it, InputError for an unknown name. */
export function setIsa(name: string): IsaName {
  if (name !== "scalar" && name !== "avx2" && name !== "avx512") {
    throw new InputError(`unknown ISA path '${name}' (expected scalar, avx2 or avx512)`);
  }
  if (!cpuFeatures().isas.includes(name)) {
    throw new UnsupportedError(`this CPU cannot run the ${name} path (available: ${cpuFeatures().isas.join(", ")})`);
  }
  return addon().setIsa(name);
}

// ---- file mappings ----

/** mmap a file read-only; InputError naming the path and the system error if it cannot be opened. */
export function openMapping(file: string): NativeMapping {
  const { Mapping } = addon();
  try {
    return new Mapping(file);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

/** A zero-copy view of mapped bytes; InputError if the range is outside the file. */
export function mappingBytes(m: NativeMapping, offset: number, length: number): Uint8Array {
  checkIndex(offset, "offset");
  checkIndex(length, "length");
  if (m.closed) throw new RangeError(`mapping of ${m.path} is closed`);
  if (offset > m.size || length > m.size - offset) {
    throw new InputError(`bytes [${offset}, ${offset + length}) are outside ${m.path} (${m.size} bytes)`);
  }
  return addon().mappingBytes(m, offset, length);
}

// ---- engine ops (native/addon/ops.cc) ----

export type Numerics = "ggml" | "exact";
const MODE = { ggml: 0, exact: 1 } as const;

function check(cond: boolean, msg: string): void {
  if (!cond) throw new RangeError(`rosetta ops: ${msg}`);
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

export interface MatmulOptions {
  /** Weight bytes: a Mapping of the model file or a typed array. */
  source: ByteSource;
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
  /**
   * [nOut]: added to every token's outputs, y + b in f32 (a separate ggml ADD of a broadcast bias, bit
   * for bit), inside the matmul as each block of rows is written.
   */
  bias?: Float32Array | null;
}

/** y = x W^T (+ bias) with W as stored ([nOut, nIn]). */
export function matmul(o: MatmulOptions): void {
  check(isCount(o.nOut) && isCount(o.nIn) && isCount(o.nTok), `matmul dims ${o.nOut}x${o.nIn} for ${o.nTok} tokens`);
  check(o.x.length >= o.nTok * o.nIn, `matmul x has ${o.x.length} elements, needs ${o.nTok * o.nIn}`);
  check(o.y.length >= o.nTok * o.nOut, `matmul y has ${o.y.length} elements, needs ${o.nTok * o.nOut}`);
  check(Number.isSafeInteger(o.offset) && o.offset >= 0, `matmul offset ${o.offset}`);
  check(o.rowBytes === undefined || (Number.isSafeInteger(o.rowBytes) && o.rowBytes > 0), `matmul rowBytes ${o.rowBytes}`);
  check(!o.bias || o.bias.length >= o.nOut, `matmul bias has ${o.bias?.length} elements, needs ${o.nOut}`);
  addon().opsMatmul(o.source, o.offset, o.type, o.nOut, o.nIn, o.x, o.y, o.nTok, MODE[o.mode], o.rowBytes ?? 0, o.bias ?? null);
}

/**
 * What a ggml-mode matmul with weights of `type` sees of the activations x: x quantized to the type's
 * vec_dot type (the same conversion the matmul runs) and dequantized back. Returns the vec_dot type name.
 */
export function actRound(type: number, x: Float32Array, out: Float32Array): string {
  check(out.length >= x.length, "actRound out is too short");
  return addon().opsActRound(type, x, out, x.length);
}

/** Bytes of one packed row of nIn elements of a type (0 if nIn is not a whole number of blocks). */
export function rowBytes(type: number, nIn: number): number {
  return addon().opsRowBytes(type, nIn);
}

export function rmsNorm(x: Float32Array, w: Float32Array | null, y: Float32Array, nRows: number, n: number, eps: number, mode: Numerics): void {
  check(isCount(nRows) && isCount(n) && x.length >= nRows * n && y.length >= nRows * n, `rmsNorm ${nRows}x${n}`);
  check(w === null || w.length >= n, `rmsNorm weight has ${w?.length} elements, needs ${n}`);
  check(eps >= 0 && Number.isFinite(eps), `rmsNorm eps ${eps}`);
  addon().opsRmsNorm(x, w, y, nRows, n, eps, MODE[mode]);
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
  addon().opsRope(x, nTok, nHeads, headDim, pos, p);
}

export interface AttentionOptions {
  q: Float32Array; // [nTok, nHead*headDim]
  k: Float32Array; // cache: nPast+nTok rows of nHeadKv*headDim, kvStride apart
  v: Float32Array;
  /** Floats from one cache row to the next; absent: nHeadKv*headDim (packed). */
  kvStride?: number;
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
  const nCtx = o.nPast + o.nTok, row = o.nHeadKv * o.headDim, stride = o.kvStride ?? row;
  check(Number.isSafeInteger(stride) && stride >= row, `attention kvStride ${o.kvStride}`);
  const cache = (nCtx - 1) * stride + row;
  check(o.k.length >= cache && o.v.length >= cache, "attention cache too short");
  check(o.q.length >= o.nTok * o.nHead * o.headDim && o.out.length >= o.nTok * o.nHead * o.headDim, "attention q/out");
  check(o.probs === null || o.probs.length >= o.nHead * o.nTok * nCtx, "attention probs");
  addon().opsAttention(o.q, o.k, o.v, o.out, o.probs, o.nTok, o.nPast, o.nHead, o.nHeadKv, o.headDim, o.scale, MODE[o.mode], stride);
}

export function swiglu(g: Float32Array, u: Float32Array, y: Float32Array, n: number, mode: Numerics, rowLen = n): void {
  check(Number.isSafeInteger(n) && n >= 0 && g.length >= n && u.length >= n && y.length >= n, "swiglu length");
  check(Number.isSafeInteger(rowLen) && rowLen > 0 && n % rowLen === 0, "swiglu row length");
  addon().opsSwiglu(g, u, y, n, MODE[mode], rowLen);
}

/**
 * y = a + b elementwise in f32 over n elements, rows of rowLen shared out over the kernel pool;
 * broadcast: b is one row of rowLen added to every row (a bias).
 */
export function addF32(a: Float32Array, b: Float32Array, y: Float32Array, n: number, rowLen = n, broadcast = false): void {
  check(Number.isSafeInteger(n) && n >= 0 && a.length >= n && y.length >= n && b.length >= (broadcast ? rowLen : n), "add length");
  check(Number.isSafeInteger(rowLen) && rowLen > 0 && (n === 0 || rowLen <= n), "add row length");
  addon().opsAdd(a, b, y, n, rowLen, broadcast);
}

/** Softmax of each row of n, in place (ggml's soft_max without mask or scale in ggml mode). */
export function softmaxRows(x: Float32Array, nRows: number, n: number, mode: Numerics): void {
  check(isCount(nRows) && isCount(n) && x.length >= nRows * n, `softmaxRows ${nRows}x${n}`);
  addon().opsSoftmaxRows(x, nRows, n, MODE[mode]);
}

/** Sets the kernel thread count (0 = number of cores); returns the count in use. */
export function setThreads(n: number): number {
  check(Number.isSafeInteger(n) && n >= 0 && n <= 256, `threads ${n}`);
  return addon().opsSetThreads(n);
}

export function getThreads(): number {
  return addon().opsGetThreads();
}

// ---- llama.cpp's own kernels as test oracles (native/addon/ggml_cpu_reference.cc) ----

/**
 * Test-only oracle: llama.cpp's own dot products, from the pinned prebuilt CPU backend the bridge uses
 * (libggml-cpu-haswell.so of @node-llama-cpp/linux-x64), dlopened only when it is installed and this
 * CPU can run it. The same per-row kernel llama.cpp runs for a one-token matmul: vec_dot of the weight
 * row and the activations as converted by from_float.
 */
export interface GgmlCpuReference {
  /** Absolute path of the loaded library. */
  file: string;
  /** nOut outputs: weight rows (stored blocks, contiguous) times one token of activations. */
  vecDot(w: Uint8Array, type: number, nIn: number, nOut: number, x: Float32Array): Float32Array;
}

/** A CPU variant library of the pinned llama.cpp (haswell: the one the bridge pins by default, backend.cc kDefaultOrder's first). */
export function ggmlCpuVariantPath(variant: GgmlCpuVariant = "haswell"): string {
  return path.join(repoRoot(), `node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-${variant}.so`);
}

/**
 * The llama.cpp CPU variants the oracle opens: haswell (the pin, whose float order ggml mode follows on
 * every ISA path) and zen4 (what llama.cpp's `auto` loads on an AVX-512 Zen 4/5; its quantized vec_dots
 * form the same lanes with VNNI, its f32/f16/bf16 ones use 16-lane accumulators: docs/kernels.md).
 */
export type GgmlCpuVariant = "haswell" | "zen4";

/** Why this CPU cannot run a variant ("" if it can): its instruction sets, as ggml's cpu-feats checks them. */
function variantUnsupported(variant: GgmlCpuVariant, f: NativeCpuFeatures): string {
  if (!(f.avx2 && f.fma && f.f16c)) return `this CPU cannot run llama.cpp's ${variant} variant (needs AVX2+FMA+F16C)`;
  if (variant === "haswell") return "";
  let flags = "";
  try {
    flags = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags")) ?? "";
  } catch {
    return "cannot read /proc/cpuinfo to check for AVX512-VBMI";
  }
  const ok = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni && f.avx512bf16 && / avx512vbmi /.test(flags + " ") && / avx512cd /.test(flags + " ");
  return ok ? "" : "this CPU cannot run llama.cpp's zen4 variant (needs AVX-512 F/CD/BW/DQ/VL/VBMI/VNNI/BF16)";
}

/** Opens the oracle, or says why it cannot (not installed, CPU without AVX2/FMA/F16C, ABI changed). */
export function openGgmlCpuReference(variant: GgmlCpuVariant = "haswell"): { ok: true; ref: GgmlCpuReference } | { ok: false; reason: string } {
  const a = addon();
  if (typeof a.ggmlCpuRefOpen !== "function" || typeof a.ggmlCpuRefVecDot !== "function")
    return { ok: false, reason: "the addon has no ggml cpu reference module (rebuild it)" };
  const file = ggmlCpuVariantPath(variant);
  if (!existsSync(file)) return { ok: false, reason: `@node-llama-cpp/linux-x64 is not installed (${file} is missing)` };
  const why = variantUnsupported(variant, a.cpuFeatures());
  if (why) return { ok: false, reason: why };
  try {
    a.ggmlCpuRefOpen(file);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const vecDot = (w: Uint8Array, type: number, nIn: number, nOut: number, x: Float32Array): Float32Array => {
    const out = new Float32Array(nOut);
    a.ggmlCpuRefVecDot(w, type, nIn, nOut, x, out);
    return out;
  };
  return { ok: true, ref: { file, vecDot } };
}
