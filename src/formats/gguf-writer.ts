/**
 * A GGUF v3 writer: header, typed metadata (every value type, arrays included, nested arrays too),
 * tensor infos, data aligned to `general.alignment` (default 32). Metadata uses the same typed shape as
 * @huggingface/gguf's `typedMetadata`, so a parsed file can be rewritten with a change or two (the
 * defect injector's GGUF variants).
 */
import { chunksOf, type Bytes } from "../util/lazy-bytes.js";

export enum GgufType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8,
  ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

export type GgufScalar = number | bigint | boolean | string;
export type GgufArray = GgufScalar[] | GgufArray[];
export interface GgufKv {
  type: GgufType;
  value: GgufScalar | GgufArray;
  /** Element type of an ARRAY (for nested arrays, ARRAY; the inner element type is then inferred). */
  subType?: GgufType;
}

export interface GgufTensorIn {
  name: string;
  /** GGML type id. */
  type: number;
  /** GGUF order: innermost (contiguous) dimension first. */
  dims: number[];
  /** The bytes, or bytes produced as they are written. */
  data: Bytes;
}

/** Keys @huggingface/gguf puts in typedMetadata that are header fields, not KV pairs. */
const PSEUDO_KEYS = new Set(["version", "tensor_count", "kv_count"]);

class Out {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u8(v: number) { const b = Buffer.alloc(1); b.writeUInt8(v); this.push(b); }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string) { const b = Buffer.from(s, "utf8"); this.u64(b.length); this.push(b); }
  concat(): Buffer { return Buffer.concat(this.chunks, this.length); }
}

function scalar(o: Out, type: GgufType, v: GgufScalar, key: string): void {
  const b = Buffer.alloc(8);
  switch (type) {
    case GgufType.UINT8: b.writeUInt8(Number(v)); return o.push(b.subarray(0, 1));
    case GgufType.INT8: b.writeInt8(Number(v)); return o.push(b.subarray(0, 1));
    case GgufType.UINT16: b.writeUInt16LE(Number(v)); return o.push(b.subarray(0, 2));
    case GgufType.INT16: b.writeInt16LE(Number(v)); return o.push(b.subarray(0, 2));
    case GgufType.UINT32: b.writeUInt32LE(Number(v)); return o.push(b.subarray(0, 4));
    case GgufType.INT32: b.writeInt32LE(Number(v)); return o.push(b.subarray(0, 4));
    case GgufType.FLOAT32: b.writeFloatLE(Number(v)); return o.push(b.subarray(0, 4));
    case GgufType.BOOL: b.writeUInt8(v ? 1 : 0); return o.push(b.subarray(0, 1));
    case GgufType.UINT64: b.writeBigUInt64LE(BigInt(v)); return o.push(b);
    case GgufType.INT64: b.writeBigInt64LE(BigInt(v)); return o.push(b);
    case GgufType.FLOAT64: b.writeDoubleLE(Number(v)); return o.push(b);
    case GgufType.STRING: return o.str(String(v));
  }
  throw new Error(`GGUF writer: key ${key} has unknown value type ${type}`);
}

function value(o: Out, type: GgufType, v: GgufScalar | GgufArray, subType: GgufType | undefined, key: string): void {
  if (type !== GgufType.ARRAY) return scalar(o, type, v as GgufScalar, key);
  if (!Array.isArray(v)) throw new Error(`GGUF writer: key ${key} is ARRAY but its value is not an array`);
  const sub = subType ?? (Array.isArray(v[0]) ? GgufType.ARRAY : undefined);
  if (sub === undefined) throw new Error(`GGUF writer: array key ${key} needs a subType`);
  o.u32(sub);
  o.u64(v.length);
  for (const x of v) value(o, sub, x as GgufScalar | GgufArray, undefined, key);
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

/** A tensor as the header describes it: its data's length instead of the data. */
export type GgufTensorInfo = Omit<GgufTensorIn, "data"> & { byteLength: number };

/**
 * The header of a GGUF v3 file (magic, KVs, tensor infos), padded to where tensor data starts, and
 * each tensor's offset from there: tensor data laid out in the given order, each aligned. Lets a caller
 * stream tensor data of any size after it (`total` bytes from the data start, padding included).
 */
export function ggufHeader(
  metadata: Record<string, GgufKv>,
  tensors: GgufTensorInfo[],
  opts: { alignment?: number } = {},
): { header: Buffer; offsets: number[]; total: number; alignment: number } {
  const kvs = Object.entries(metadata).filter(([k]) => !PSEUDO_KEYS.has(k));
  const alignKv = metadata["general.alignment"];
  const alignment = opts.alignment ?? (alignKv ? Number(alignKv.value) : 32);
  const o = new Out();
  o.push(Buffer.from("GGUF", "latin1"));
  o.u32(3);
  o.u64(tensors.length);
  o.u64(kvs.length);
  for (const [k, kv] of kvs) {
    o.str(k);
    o.u32(kv.type);
    value(o, kv.type, kv.value, kv.subType, k);
  }
  let off = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    o.str(t.name);
    o.u32(t.dims.length);
    for (const d of t.dims) o.u64(d);
    o.u32(t.type);
    o.u64(off);
    offsets.push(off);
    // Every tensor, the last one included, is padded to the alignment (as llama.cpp's gguf writer does).
    off = alignUp(off + t.byteLength, alignment);
  }
  const header = Buffer.alloc(alignUp(o.length, alignment));
  o.concat().copy(header, 0);
  return { header, offsets, total: off, alignment };
}

/** The whole GGUF v3 file (small models, tests). Tensor data is laid out in the given order, each aligned. */
export function writeGguf(metadata: Record<string, GgufKv>, tensors: GgufTensorIn[], opts: { alignment?: number } = {}): Buffer {
  return Buffer.concat([...ggufChunks(metadata, tensors, opts)].map((c) => Buffer.from(c)));
}

/** The GGUF v3 file in order, chunk by chunk: writing a model of any size holds one chunk at a time. */
export function* ggufChunks(metadata: Record<string, GgufKv>, tensors: GgufTensorIn[], opts: { alignment?: number } = {}): Generator<Uint8Array> {
  const h = ggufHeader(metadata, tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, byteLength: t.data.byteLength })), opts);
  yield h.header;
  const zeros = Buffer.alloc(h.alignment);
  for (const t of tensors) {
    let n = 0;
    for (const c of chunksOf(t.data)) (n += c.length), yield c;
    if (n !== t.data.byteLength) throw new Error(`tensor ${t.name}: ${n} bytes produced, ${t.data.byteLength} declared`);
    yield zeros.subarray(0, alignUp(n, h.alignment) - n);
  }
}
