/**
 * APR v2 container parsing (spec §2.8): header, CRC, flags, metadata JSON and tensor index, from the
 * bytes before the data section. Every count and offset is attacker-controlled: all arithmetic on them
 * is BigInt and checked against the file size before anything is allocated or sliced. Files that merely
 * share the "APR" prefix (v1, aprender-tsp, trace dumps, ...) are recognised and refused by name.
 */
import { InputError, UnsupportedError } from "../util/errors.js";
import { headerCrc } from "./apr-crc.js";
import { resolveDtype, type DtypeLayout } from "./apr-dtypes.js";
import { FLAG_COLUMN_MAJOR } from "./apr-writer.js";

export const APR_HEADER_BYTES = 64;
/** aprender's header-prefix reader limit: everything before the data must fit in 256 MiB. */
export const MAX_PREFIX_BYTES = 256 * 1024 * 1024;
const MAX_NDIM = 8;

export interface AprEntry extends DtypeLayout {
  name: string;
  dtype: number; // the byte as stored
  dims: number[];
  offset: number; // relative to data_offset
  size: number;
}

export interface AprHeader {
  magic: "APR\\0" | "APR2";
  flags: number;
  tensorCount: number;
  metadataOffset: number;
  metadataSize: number;
  indexOffset: number;
  dataOffset: number;
}

export interface AprParsed extends AprHeader {
  metadata: Record<string, unknown>;
  entries: AprEntry[];
}

/** Why a file with an "APR" prefix is not APR v2, or null if it looks like v2. */
export function foreignApr(head: Buffer): string | null {
  const m = head.subarray(0, 4).toString("latin1");
  if (m === "APRN") return "an APR v1 container ('APRN': aprender's classic-ML model format, not a transformer checkpoint); rosetta reads APR v2 only";
  if (m === "APR1") return "a legacy APR1 JSON-indexed container (pre-2026 aprender), not APR v2; re-import it with a current aprender";
  if (m === "APRT") return "an `apr trace --save-tensor` dump ('APRT'), not a model";
  if (m !== "APR\0" && m !== "APR2") return `not an APR file (magic ${JSON.stringify(m)})`;
  if (head.length >= 16 && m === "APR\0" && head.readUInt32LE(4) === 1 && head.readUInt32LE(8) === 0x54535000) {
    return "an aprender-tsp solver model ('APR\\0', version 1, type TSP), not an APR v2 transformer checkpoint";
  }
  if (head.length >= 5 && head[4] !== 2) {
    return `'${m === "APR2" ? "APR2" : "APR\\0"}' with version byte ${head[4]}, not APR v2 (an APR v1-era or realizar-private file)`;
  }
  return null;
}

function u64(b: Buffer, at: number, what: string, file: string, limit: bigint): number {
  const v = b.readBigUInt64LE(at);
  if (v > limit) throw new InputError(`${file}: APR ${what} = ${v} is beyond the end of the ${limit}-byte file (corrupt header)`);
  return Number(v);
}

/** The 64-byte header, checked (CRC, flags, section order, bounds). */
export function parseHeader(b: Buffer, fileSize: number, file: string): AprHeader {
  if (fileSize < APR_HEADER_BYTES || b.length < APR_HEADER_BYTES) {
    const why = b.length >= 4 ? foreignApr(b) : null;
    if (why) throw new UnsupportedError(`${file}: ${why}`);
    throw new InputError(`${file}: file is ${fileSize} bytes, too short for an APR v2 header (64 bytes; truncated?)`);
  }
  const why = foreignApr(b);
  if (why) throw new UnsupportedError(`${file}: ${why}`);
  const stored = b.readUInt32LE(40);
  const actual = headerCrc(b.subarray(0, 64));
  if (stored !== actual) {
    throw new InputError(
      `${file}: APR header checksum mismatch (stored 0x${stored.toString(16).padStart(8, "0")}, computed 0x${actual.toString(16).padStart(8, "0")}); ` +
        "the file is corrupt or not APR v2 (a legacy compressed APR wrapper also fails this check)",
    );
  }
  const flags = b.readUInt16LE(6);
  if (flags & FLAG_COLUMN_MAJOR) throw new UnsupportedError(`${file}: APR flag LAYOUT_COLUMN_MAJOR (0x0800) is set: a "dirty import" aprender itself rejects; re-import the model`);
  if (flags & 0x7) throw new UnsupportedError(`${file}: APR flags 0x${flags.toString(16)} declare compression or encryption, which no APR v2 reader implements`);
  const size = BigInt(fileSize);
  const h: AprHeader = {
    magic: b[3] === 0 ? "APR\\0" : "APR2",
    flags,
    tensorCount: b.readUInt32LE(8),
    metadataOffset: u64(b, 12, "metadata_offset", file, size),
    metadataSize: b.readUInt32LE(20),
    indexOffset: u64(b, 24, "tensor_index_offset", file, size),
    dataOffset: u64(b, 32, "data_offset", file, size),
  };
  if (h.metadataOffset < 64) throw new InputError(`${file}: APR metadata_offset ${h.metadataOffset} overlaps the header`);
  if (h.metadataOffset + h.metadataSize > h.indexOffset) {
    throw new InputError(`${file}: APR metadata (${h.metadataOffset} + ${h.metadataSize} bytes) overlaps the tensor index at ${h.indexOffset}`);
  }
  if (h.indexOffset > h.dataOffset) throw new InputError(`${file}: APR tensor index at ${h.indexOffset} starts after the data section at ${h.dataOffset}`);
  if (h.dataOffset > MAX_PREFIX_BYTES) throw new UnsupportedError(`${file}: APR data section starts at ${h.dataOffset}, beyond the 256 MiB header limit`);
  const minEntry = 2 + 1 + 1 + 16; // empty name, no dims
  if (h.tensorCount > (h.dataOffset - h.indexOffset) / minEntry) {
    throw new InputError(`${file}: APR header claims ${h.tensorCount} tensors, impossible in a ${h.dataOffset - h.indexOffset}-byte index (corrupt header)`);
  }
  return h;
}

function parseMetadata(b: Buffer, h: AprHeader, file: string): Record<string, unknown> {
  const text = b.subarray(h.metadataOffset, h.metadataOffset + h.metadataSize).toString("utf8");
  let md: unknown;
  try {
    md = JSON.parse(text); // duplicate keys: the last one wins, as serde_json's Value does
  } catch (e) {
    throw new InputError(`${file}: APR metadata is not valid JSON (${(e as Error).message.replace(/\s+/g, " ").slice(0, 80)})`);
  }
  if (md === null || typeof md !== "object" || Array.isArray(md)) throw new InputError(`${file}: APR metadata is not a JSON object`);
  return md as Record<string, unknown>;
}

function parseEntry(b: Buffer, p: number, end: number, dataLen: bigint, file: string): [AprEntry, number] {
  const need = (n: number, what: string) => {
    if (p + n > end) throw new InputError(`${file}: APR tensor index is truncated (in ${what} at byte ${p})`);
  };
  need(2, "a name length");
  const nameLen = b.readUInt16LE(p);
  p += 2;
  need(nameLen + 2, "a name");
  const name = b.subarray(p, p + nameLen).toString("utf8");
  p += nameLen;
  const dtype = b[p++];
  const ndim = b[p++];
  const where = `${file}: tensor ${JSON.stringify(name)}`;
  if (ndim < 1 || ndim > MAX_NDIM) throw new InputError(`${where} has ${ndim} dims (1 to ${MAX_NDIM} allowed)`);
  need(8 * ndim + 16, "dims/offset/size");
  const dims: bigint[] = [];
  let n = 1n;
  for (let i = 0; i < ndim; i++, p += 8) {
    const d = b.readBigUInt64LE(p);
    if (d < 1n || d > 1n << 40n) throw new InputError(`${where} has an absurd dimension ${d}`);
    n *= d;
    if (n > 1n << 46n) throw new InputError(`${where} has an absurd element count (dims ${dims.concat(d).join("x")})`);
    dims.push(d);
  }
  const offset = b.readBigUInt64LE(p);
  const size = b.readBigUInt64LE(p + 8);
  p += 16;
  if (offset > dataLen || size > dataLen - offset) {
    throw new InputError(`${where} (offset ${offset}, ${size} bytes) extends past the end of the file's data section (${dataLen} bytes); the file is truncated or corrupt`);
  }
  const layout = resolveDtype(dtype, dims, size);
  if (typeof layout === "string") {
    const E = layout.startsWith("unknown") ? UnsupportedError : InputError;
    throw new E(`${where}: ${layout}`);
  }
  return [{ name, dtype, dims: dims.map(Number), offset: Number(offset), size: Number(size), ...layout }, p];
}

/**
 * Parse everything but tensor data from `b` (at least the first `dataOffset` bytes of the file;
 * `fileSize` is the whole file's length, used for every bounds check).
 */
export function parseAprPrefix(b: Buffer, fileSize: number, file: string): AprParsed {
  const h = parseHeader(b, fileSize, file);
  if (b.length < h.dataOffset) throw new Error(`parseAprPrefix: need ${h.dataOffset} bytes, got ${b.length}`);
  const metadata = parseMetadata(b, h, file);
  const entries: AprEntry[] = [];
  const dataLen = BigInt(fileSize - h.dataOffset);
  let p = h.indexOffset;
  let prev: Buffer | null = null;
  for (let i = 0; i < h.tensorCount; i++) {
    const [e, next] = parseEntry(b, p, h.dataOffset, dataLen, file);
    const nameBytes = Buffer.from(e.name, "utf8");
    if (prev && Buffer.compare(prev, nameBytes) > 0) throw new InputError(`${file}: APR tensor index is not sorted by name (${JSON.stringify(e.name)} after a later name)`);
    if (prev && Buffer.compare(prev, nameBytes) === 0) throw new InputError(`${file}: tensor ${JSON.stringify(e.name)} appears twice`);
    prev = nameBytes;
    entries.push(e);
    p = next;
  }
  return { ...h, metadata, entries };
}
