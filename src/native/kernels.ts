/**
 * Validated wrappers over the kernel bindings (src/native/binding.ts). Arguments are checked here and
 * turned into rosetta errors (bad data -> InputError, unsupported type -> UnsupportedError, misuse ->
 * RangeError); the C++ side re-checks bounds only so that it can never read out of range.
 */
import { InputError, UnsupportedError } from "../util/errors.js";
import type {
  ByteSource,
  IsaName,
  NativeCpuFeatures,
  NativeDiffMetrics,
  NativeMapping,
  NativeStats,
  NativeTypeTraits,
} from "./binding.js";
import { loadAddon } from "./load.js";

export type { ByteSource, IsaName, NativeMapping, NativeStats, NativeDiffMetrics, NativeTypeTraits };

let traitsById: Map<number, NativeTypeTraits> | null = null;

function table(): Map<number, NativeTypeTraits> {
  if (!traitsById) traitsById = new Map(loadAddon().typeTraits().map((t) => [t.id, Object.freeze(t)]));
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
  loadAddon().dequantize(view.source, view.offset, bytes, view.type, view.nElements, dst, outOffset);
  return dst;
}

export interface StatsSpan {
  offset?: number;
  count?: number;
  stride?: number;
}

/** Stats over x[offset + i*stride], i < count (default: the whole array). Definitions: docs/metrics.md. */
export function tensorStats(x: Float32Array, span: StatsSpan = {}): NativeStats {
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
  return loadAddon().stats(x, offset, count, stride);
}

/** Pairwise metrics with `ref` as the reference. Definitions: docs/metrics.md. */
export function diffMetrics(ref: Float32Array, other: Float32Array): NativeDiffMetrics {
  if (ref.length !== other.length) throw new RangeError(`diff: lengths differ (${ref.length} vs ${other.length})`);
  return loadAddon().diff(ref, other);
}

export function cpuFeatures(): NativeCpuFeatures {
  return loadAddon().cpuFeatures();
}

export function currentIsa(): IsaName {
  return loadAddon().isa();
}

/** Force an ISA path; UnsupportedError if this CPU cannot run it, InputError for an unknown name. */
export function forceIsa(name: string): IsaName {
  if (name !== "scalar" && name !== "avx2" && name !== "avx512") {
    throw new InputError(`unknown ISA path '${name}' (expected scalar, avx2 or avx512)`);
  }
  if (!cpuFeatures().isas.includes(name)) {
    throw new UnsupportedError(`this CPU cannot run the ${name} path (available: ${cpuFeatures().isas.join(", ")})`);
  }
  return loadAddon().setIsa(name);
}

/** mmap a file read-only; InputError naming the path and the system error if it cannot be opened. */
export function openMapping(file: string): NativeMapping {
  const { Mapping } = loadAddon();
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
  return loadAddon().mappingBytes(m, offset, length);
}
