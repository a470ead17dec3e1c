/**
 * Every file rosetta writes appears whole or not at all: the bytes go to a temporary file beside the
 * destination (same folder, so the same file system), are flushed, and the temporary file is renamed
 * over the destination. A process killed mid-write leaves at most a `.NAME.tmp-*` file, never a partial
 * NAME; a failed write removes its temporary file.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";

let seq = 0;

/** Chunks this long that are all zeros are left as holes (a sparse file reads back the same zeros). */
const HOLE_MIN = 1 << 20;
const PIECE = 16 << 20;
let zeros: Buffer | null = null;
const isZero = (b: Uint8Array) => {
  if (!zeros || zeros.length < b.length) zeros = Buffer.alloc(b.length);
  return Buffer.compare(b, zeros.subarray(0, b.length)) === 0;
};

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  writeFileAtomicChunks(file, [typeof data === "string" ? Buffer.from(data, "utf8") : data]);
}

/** writeFileAtomic for a file produced in chunks (a converted model): memory for one chunk at a time. */
export function writeFileAtomicChunks(file: string, chunks: Iterable<Uint8Array>): number {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${seq++}`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, "w");
    let pos = 0;
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += PIECE) {
        const bytes = chunk.subarray(at, at + PIECE);
        if (bytes.length < HOLE_MIN || !isZero(bytes)) {
          for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off, pos + off);
        }
        pos += bytes.length;
      }
    }
    ftruncateSync(fd, pos);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
    return pos;
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
