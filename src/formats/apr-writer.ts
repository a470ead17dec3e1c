/**
 * APR v2 writer (spec §2.9): tensors sorted by UTF-8 bytes, metadata / index / every tensor padded to 64,
 * header CRC over the header minus its checksum field, footer CRC over everything before it. With the
 * same inputs it reproduces aprender's AprV2Writer byte for byte (the §2.7 example is a test).
 */
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
  data: Uint8Array;
}

export interface AprWriteOptions {
  /** Extra flag bits; LAYOUT_ROW_MAJOR is always set, as aprender forces it. */
  flags?: number;
  /** Append the footer CRC (default true; realizar's converter omits it). */
  footer?: boolean;
  /** Raw metadata bytes instead of serializing `metadata` (for byte-level tests). */
  rawMetadata?: Uint8Array;
}

const align64 = (x: number) => (x + 63) & ~63;

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
  b.writeBigUInt64LE(BigInt(t.data.length), p);
  return b;
}

/** The whole file as one Buffer. */
export function writeApr(metadata: Record<string, unknown>, tensors: AprTensorIn[], opts: AprWriteOptions = {}): Buffer {
  const sorted = [...tensors].sort((a, b) => compareUtf8(a.name, b.name));
  for (let i = 1; i < sorted.length; i++) if (sorted[i].name === sorted[i - 1].name) throw new Error(`duplicate tensor name ${sorted[i].name}`);
  const meta = opts.rawMetadata ? Buffer.from(opts.rawMetadata) : serializeMetadata(metadata);
  let running = 0;
  const entries: Buffer[] = [];
  const offsets: number[] = [];
  for (const t of sorted) {
    offsets.push(running);
    entries.push(indexEntry(t, running));
    running += align64(t.data.length);
  }
  const index = Buffer.concat(entries);
  const indexOffset = 64 + align64(meta.length);
  const dataOffset = indexOffset + align64(index.length);
  const footer = opts.footer !== false;
  const out = Buffer.alloc(dataOffset + running + (footer ? 4 : 0));
  APR_MAGIC.copy(out, 0);
  out[4] = 2;
  out[5] = 0;
  out.writeUInt16LE(((opts.flags ?? 0) | FLAG_ROW_MAJOR) & 0xffff, 6);
  out.writeUInt32LE(sorted.length, 8);
  out.writeBigUInt64LE(64n, 12);
  out.writeUInt32LE(meta.length, 20);
  out.writeBigUInt64LE(BigInt(indexOffset), 24);
  out.writeBigUInt64LE(BigInt(dataOffset), 32);
  out.writeUInt32LE(headerCrc(out.subarray(0, 64)), 40);
  meta.copy(out, 64);
  index.copy(out, indexOffset);
  sorted.forEach((t, i) => out.set(t.data, dataOffset + offsets[i]));
  if (footer) out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}
