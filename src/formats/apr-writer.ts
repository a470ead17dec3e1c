/**
 * APR v2 writer (spec §2.9): tensors sorted by UTF-8 bytes, metadata / index / every tensor padded to 64,
 * header CRC over the header minus its checksum field, footer CRC over everything before it. With the
 * same inputs it reproduces aprender's AprV2Writer byte for byte (the §2.7 example is a test).
 */
import { chunksOf, type Bytes } from "../util/lazy-bytes.js";
import { crc32, headerCrc } from "./apr-crc.js";
import { serializeMetadata } from "./apr-metadata.js";

export const APR_MAGIC = Buffer.from([0x41, 0x50, 0x52, 0x00]);
export const FLAG_ROW_MAJOR = 0x0400;
export const FLAG_COLUMN_MAJOR = 0x0800;

export interface AprTensorIn {
  name: string;
  /** APR dtype byte (§3). */
  dtype: number;
  /** Row-major dims, outermost first. */
  dims: number[];
  /** The bytes, or bytes produced as they are written (a file range, a per-tensor conversion). */
  data: Bytes;
}

export interface AprWriteOptions {
  /** Extra flag bits; LAYOUT_ROW_MAJOR is always set, as aprender forces it. */
  flags?: number;
  /** Append the footer CRC (default true; realizar's converter omits it). */
  footer?: boolean;
  /** Raw metadata bytes instead of serializing `metadata` (for byte-level tests). */
  rawMetadata?: Uint8Array;
}

const align64 = (x: number) => Math.ceil(x / 64) * 64; // not bitwise: offsets pass 2^31 in large files

/** UTF-8 byte order, as Rust sorts `String`s. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function indexEntry(t: AprTensorIn, offset: number): Buffer {
  const name = Buffer.from(t.name, "utf8");
  if (name.length > 0xffff) throw new Error(`tensor name too long: ${t.name.slice(0, 40)}...`);
  const b = Buffer.alloc(2 + name.length + 2 + 8 * t.dims.length + 16);
  let p = b.writeUInt16LE(name.length, 0);
  p += name.copy(b, p);
  p = b.writeUInt8(t.dtype, p);
  p = b.writeUInt8(t.dims.length, p);
  for (const d of t.dims) p = b.writeBigUInt64LE(BigInt(d), p);
  p = b.writeBigUInt64LE(BigInt(offset), p);
  b.writeBigUInt64LE(BigInt(t.data.byteLength), p);
  return b;
}

/** The whole file as one Buffer (small models, tests). */
export function writeApr(metadata: Record<string, unknown>, tensors: AprTensorIn[], opts: AprWriteOptions = {}): Buffer {
  return Buffer.concat([...aprChunks(metadata, tensors, opts)].map((c) => Buffer.from(c)));
}

/**
 * The file in order, chunk by chunk (header, metadata, index, each tensor's bytes and padding, footer),
 * the footer CRC computed on the way: writing a model of any size holds one chunk at a time.
 */
export function* aprChunks(metadata: Record<string, unknown>, tensors: AprTensorIn[], opts: AprWriteOptions = {}): Generator<Uint8Array> {
  const sorted = [...tensors].sort((a, b) => compareUtf8(a.name, b.name));
  for (let i = 1; i < sorted.length; i++) if (sorted[i].name === sorted[i - 1].name) throw new Error(`duplicate tensor name ${sorted[i].name}`);
  const meta = opts.rawMetadata ? Buffer.from(opts.rawMetadata) : serializeMetadata(metadata);
  let running = 0;
  const entries: Buffer[] = [];
  for (const t of sorted) {
    entries.push(indexEntry(t, running));
    running += align64(t.data.byteLength);
  }
  const index = Buffer.concat(entries);
  const indexOffset = 64 + align64(meta.length);
  const dataOffset = indexOffset + align64(index.length);
  const footer = opts.footer !== false;
  const head = Buffer.alloc(dataOffset);
  APR_MAGIC.copy(head, 0);
  head[4] = 2;
  head[5] = 0;
  head.writeUInt16LE(((opts.flags ?? 0) | FLAG_ROW_MAJOR) & 0xffff, 6);
  head.writeUInt32LE(sorted.length, 8);
  head.writeBigUInt64LE(64n, 12);
  head.writeUInt32LE(meta.length, 20);
  head.writeBigUInt64LE(BigInt(indexOffset), 24);
  head.writeBigUInt64LE(BigInt(dataOffset), 32);
  head.writeUInt32LE(headerCrc(head.subarray(0, 64)), 40);
  meta.copy(head, 64);
  index.copy(head, indexOffset);
  let crc = crc32(head);
  yield head;
  const pad = Buffer.alloc(64);
  for (const t of sorted) {
    let n = 0;
    for (const c of chunksOf(t.data)) {
      crc = crc32(c, crc);
      n += c.length;
      yield c;
    }
    if (n !== t.data.byteLength) throw new Error(`tensor ${t.name}: ${n} bytes produced, ${t.data.byteLength} declared`);
    const p = align64(n) - n;
    if (p) {
      crc = crc32(pad.subarray(0, p), crc);
      yield pad.subarray(0, p);
    }
  }
  if (footer) {
    const f = Buffer.alloc(4);
    f.writeUInt32LE(crc, 0);
    yield f;
  }
}
