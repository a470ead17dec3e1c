/**
 * Whole-file checksums, computed once: streamed (16 MB chunks, never the file in memory) and cached by
 * the file's identity, so a model read again (every `rosetta trace`, every load of an APR file with a
 * footer CRC) costs a stat, not a pass over gigabytes.
 *
 * The cache key is the real path, device, inode, size, mtime and ctime (nanoseconds): any write to the
 * file changes ctime, which no tool can set back, so a changed file never meets a stale entry. The cache
 * is one JSON file in $ROSETTA_CACHE_DIR, else $XDG_CACHE_HOME/rosetta, else ~/.cache/rosetta
 * (ROSETTA_CACHE_DIR=off disables it); a cache that cannot be read or written is ignored, never an error.
 */
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { writeFileAtomic } from "./atomic.js";
import { CHUNK_BYTES } from "./lazy-bytes.js";

function cacheFile(): string | null {
  const dir = process.env.ROSETTA_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "rosetta");
  return dir === "off" ? null : path.join(dir, "checksums.json");
}

function identity(file: string): string {
  const st = statSync(file, { bigint: true });
  return [realpathSync(file), st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join("|");
}

function readCache(f: string): Record<string, Record<string, string>> {
  try {
    const v = JSON.parse(readFileSync(f, "utf8"));
    return v && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

/** `kind` of `file` from the cache, or computed by `compute` (and cached; the file must not change meanwhile). */
export function cachedFileDigest(file: string, kind: string, compute: () => string): { value: string; cached: boolean } {
  const f = cacheFile();
  const id = identity(file);
  const hit = f ? readCache(f)[id]?.[kind] : undefined;
  if (typeof hit === "string") return { value: hit, cached: true };
  const value = compute();
  if (f && identity(file) === id) {
    try {
      mkdirSync(path.dirname(f), { recursive: true });
      const all = readCache(f);
      // entries of files that are gone or changed are dropped as the cache is rewritten
      const keep = Object.fromEntries(Object.entries(all).filter(([k]) => k.split("|").length === 6).slice(-200));
      keep[id] = { ...keep[id], [kind]: value };
      writeFileAtomic(f, JSON.stringify(keep));
    } catch {
      // an unwritable cache only costs the next run a pass
    }
  }
  return { value, cached: false };
}

/** Feeds `file` (or its first `length` bytes) to `update` in CHUNK_BYTES chunks through one buffer. */
export function streamFile(file: string, update: (chunk: Uint8Array) => void, length?: number): void {
  const fd = openSync(file, "r");
  try {
    const n = length ?? statSync(file).size;
    const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, n)));
    for (let pos = 0; pos < n; ) {
      const r = readSync(fd, buf, 0, Math.min(buf.length, n - pos), pos);
      if (r === 0) throw new Error(`${file}: unexpected end of file at byte ${pos}`);
      update(buf.subarray(0, r));
      pos += r;
    }
  } finally {
    closeSync(fd);
  }
}

/** The file's sha256 (hex): streamed once, then from the cache. */
export function fileSha256(file: string): string {
  return cachedFileDigest(file, "sha256", () => {
    const h = createHash("sha256");
    streamFile(file, (c) => h.update(c));
    return h.digest("hex");
  }).value;
}
