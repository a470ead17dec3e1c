/**
 * Bytes that are produced when they are written, not before: a file range read in chunks (pread into one
 * buffer, so the page cache, not the process, holds the file) or a computation per chunk. The writers
 * (APR, GGUF) take a Uint8Array or LazyBytes per tensor, so converting a model of any size needs memory
 * for one chunk (or one converted tensor), never for the file.
 */
import { closeSync, openSync, readSync } from "node:fs";

export interface LazyBytes {
  readonly byteLength: number;
  /** The bytes in order; a chunk is valid until the next one is asked for. */
  chunks(): Iterable<Uint8Array>;
}

export type Bytes = Uint8Array | LazyBytes;

export const CHUNK_BYTES = 16 << 20;

export function chunksOf(b: Bytes): Iterable<Uint8Array> {
  return b instanceof Uint8Array ? [b] : b.chunks();
}

/** `length` bytes of `file` from `offset`, read CHUNK_BYTES at a time into one reused buffer. */
export function fileRange(file: string, offset: number, length: number): LazyBytes {
  return {
    byteLength: length,
    *chunks() {
      const fd = openSync(file, "r");
      try {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, length)));
        for (let done = 0; done < length; ) {
          const n = Math.min(buf.length, length - done);
          let got = 0;
          while (got < n) {
            const r = readSync(fd, buf, got, n - got, offset + done + got);
            if (r === 0) throw new Error(`${file}: unexpected end of file at byte ${offset + done + got}`);
            got += r;
          }
          yield buf.subarray(0, n);
          done += n;
        }
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** All of `b` in one new array (small tensors, tests). */
export function materialize(b: Bytes): Uint8Array {
  if (b instanceof Uint8Array) return b;
  const out = new Uint8Array(b.byteLength);
  let at = 0;
  for (const c of b.chunks()) (out.set(c, at), (at += c.length));
  return out;
}
