/**
 * Seeded fuzz of the GGUF loader over mutations of a real header: every outcome must be a loaded model
 * or a RosettaError (one clear line), never another exception, a hang or a crash. The data section is
 * left sparse (the loader never reads tensor bytes), so each case writes only the header.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, ftruncateSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { gguf } from "@huggingface/gguf";
import { describe, expect, it } from "vitest";

import { loadGguf } from "../../src/formats/gguf.js";
import { readGgufTokenizerMetadata, tokenizerSpecFromGgufMetadata } from "../../src/tokenizer/gguf.js";
import { RosettaError } from "../../src/util/errors.js";
import { rng, randInt } from "../helpers/rng.js";
import { HAVE_SHARED, STORIES } from "../helpers/shared.js";

const CASES = Number(process.env.ROSETTA_FUZZ_CASES ?? 2500);
const EXTREMES = [0n, 1n, 0x7fffffffn, 0xffffffffn, 0x100000000n, 1n << 62n, (1n << 64n) - 1n, (1n << 63n) - 1n];

function mutate(header: Buffer, r: () => number): Buffer {
  const b = Buffer.from(header);
  const kind = randInt(r, 5);
  if (kind === 0) {
    for (let i = 0, n = 1 + randInt(r, 8); i < n; i++) b[randInt(r, b.length)] = randInt(r, 256);
  } else if (kind === 1) {
    const at = randInt(r, b.length - 8);
    b.writeBigUInt64LE(EXTREMES[randInt(r, EXTREMES.length)], at);
  } else if (kind === 2) {
    const at = randInt(r, b.length - 4);
    b.writeUInt32LE(Number(EXTREMES[randInt(r, 4)]) >>> 0, at);
  } else if (kind === 3) {
    return b.subarray(0, randInt(r, b.length));
  } else {
    const at = randInt(r, b.length);
    const len = 1 + randInt(r, 16);
    return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + len))]);
  }
  return b;
}

describe.skipIf(!HAVE_SHARED)("GGUF loader fuzz", () => {
  it(`survives ${CASES} seeded header mutations with a clean error or a valid load`, async () => {
    const file = readFileSync(STORIES);
    const headerLen = Number((await gguf(STORIES, { allowLocalFile: true })).tensorDataOffset);
    const header = file.subarray(0, headerLen);
    const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-fuzz-"));
    const p = path.join(dir, "m.gguf");
    const r = rng(20261122);
    const outcomes = { ok: 0, rejected: 0 };
    const t0 = Date.now();
    for (let i = 0; i < CASES; i++) {
      const m = mutate(header, r);
      const fd = openSync(p, "w");
      writeSync(fd, m);
      if (r() < 0.3) ftruncateSync(fd, file.length - header.length + m.length);
      closeSync(fd);
      try {
        await loadGguf(p, { logLayout: false });
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof RosettaError)) throw new Error(`case ${i}: not a RosettaError: ${(e as Error).stack}`);
        expect(e.message).not.toContain("\n");
        expect(e.message.startsWith(p)).toBe(true);
        outcomes.rejected++;
      }
      // The tokenizer's own fast GGUF reader sees the same hostile bytes.
      try {
        tokenizerSpecFromGgufMetadata(readGgufTokenizerMetadata(p));
      } catch (e) {
        if (!(e instanceof RosettaError)) throw new Error(`case ${i}: tokenizer reader: not a RosettaError: ${(e as Error).stack}`);
        expect(e.message).not.toContain("\n");
      }
    }
    process.stderr.write(`[fuzz] ${CASES} cases in ${Date.now() - t0} ms: ${outcomes.ok} loaded, ${outcomes.rejected} rejected\n`);
    expect(outcomes.rejected).toBeGreaterThan(CASES / 2);
  }, 120_000);
});
