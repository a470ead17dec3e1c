/**
 * Every file rosetta writes appears whole or not at all: the bytes go to a temporary file beside the
 * destination (same folder, so the same file system), are flushed, and the temporary file is renamed
 * over the destination. A process killed mid-write leaves at most a `.NAME.tmp-*` file, never a partial
 * NAME; a failed write removes its temporary file.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";

let seq = 0;

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${seq++}`);
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, "w");
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, Math.min(bytes.length - off, 64 << 20));
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
