/**
 * Whole-file checksums are streamed once and cached by the file's identity (src/util/file-digest.ts): the
 * value equals a plain sha256 of the bytes, a second call is served from the cache, and a file rewritten
 * in place (same size) is hashed again, never answered from a stale entry. The APR footer CRC uses the
 * same cache: a corrupted APR still fails after a clean load was cached.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { irToApr } from "../../src/convert/to-apr.js";
import { readGgufIr } from "../../src/convert/ir.js";
import { readAprFile } from "../../src/formats/apr.js";
import { cachedFileDigest, fileSha256 } from "../../src/util/file-digest.js";
import { getFixture } from "../fixtures/lib/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-digest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("file checksums", () => {
  it("sha256 is streamed, cached, and recomputed when the file changes", () => {
    const f = path.join(dir, "x.bin");
    const a = Buffer.alloc(40 << 20, 7);
    writeFileSync(f, a);
    expect(fileSha256(f)).toBe(createHash("sha256").update(a).digest("hex"));
    let calls = 0;
    const again = cachedFileDigest(f, "sha256", () => (calls++, "recomputed"));
    expect(again.cached).toBe(true);
    expect(calls).toBe(0);
    const b = Buffer.from(a);
    b[123] = 8; // same size, rewritten in place
    writeFileSync(f, b);
    expect(fileSha256(f)).toBe(createHash("sha256").update(b).digest("hex"));
  });

  it("an APR footer CRC verified once is cached; the file corrupted later still fails", async () => {
    const apr = path.join(dir, "m.apr");
    writeFileSync(apr, await irToApr(await readGgufIr(await getFixture("llama", "F32"))));
    expect((await readAprFile(apr)).footer).toBe("verified");
    expect(cachedFileDigest(apr, "apr-footer-crc32", () => "not cached").cached).toBe(true);
    const bytes = readFileSync(apr);
    bytes[bytes.length - 100] ^= 0xff;
    writeFileSync(apr, bytes);
    await expect(readAprFile(apr)).rejects.toThrow(/footer checksum mismatch/);
  });
});
