/**
 * CRC-32 (IEEE / zlib / PNG: reflected 0xEDB88320, init and final xor 0xFFFFFFFF), as APR v2 uses for
 * its header and footer checksums. Node >= 20.15 has zlib.crc32; older Nodes get the table version.
 */
import * as zlib from "node:zlib";

let table: Uint32Array | null = null;

function tableCrc(data: Uint8Array, prev: number): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  let c = ~prev >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;

/** CRC-32 of `data`, continuing from `prev` (the CRC of the bytes before it; 0 to start). */
export function crc32(data: Uint8Array, prev = 0): number {
  return native ? native(data, prev) >>> 0 : tableCrc(data, prev);
}

/** The portable implementation, exported so tests can check both agree. */
export const crc32Table = (data: Uint8Array, prev = 0): number => tableCrc(data, prev);

/** The APR v2 header CRC: over bytes 0..40 and 44..64 (the checksum field itself excluded). */
export function headerCrc(header: Uint8Array): number {
  return crc32(header.subarray(44, 64), crc32(header.subarray(0, 40)));
}
