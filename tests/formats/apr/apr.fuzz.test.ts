/**
 * Seeded fuzz of the APR v2 parser over mutations of a real file's header, metadata and index (the
 * header CRC is recomputed on most cases so mutations reach the metadata and index parsers): every outcome
 * is a parse or a RosettaError, never another exception or a hang. A sample also goes through loadApr.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { loadApr } from "../../../src/formats/apr.js";
import { headerCrc } from "../../../src/formats/apr-crc.js";
import { parseAprPrefix, parseHeader } from "../../../src/formats/apr-reader.js";
import { writeApr } from "../../../src/formats/apr-writer.js";
import { RosettaError } from "../../../src/util/errors.js";
import { randInt, rng } from "../../helpers/rng.js";

const CASES = Number(process.env.ROSETTA_FUZZ_CASES ?? 4000);
const EXTREMES = [0n, 1n, 63n, 64n, 0x7fffffffn, 0xffffffffn, 0x100000000n, 1n << 62n, (1n << 64n) - 1n];

function sample(): Buffer {
  const f = (n: number) => new Uint8Array(new Float32Array(n).fill(0.5).buffer);
  return writeApr(
    { model_type: "llama", architecture: "llama", hidden_size: 8, num_layers: 1, num_heads: 2, vocab_size: 4, intermediate_size: 16, rope_theta: 10000, "tokenizer.vocabulary": ["a", "b", "c", "d"] },
    [
      { name: "model.embed_tokens.weight", dtype: 0, dims: [4, 8], data: f(32) },
      { name: "model.layers.0.self_attn.qkv_proj.weight", dtype: 0, dims: [24, 8], data: f(192) },
      { name: "model.layers.0.mlp.up_proj.weight", dtype: 128, dims: [16, 8], data: new Uint8Array(18 * 4) },
      { name: "model.norm.weight", dtype: 1, dims: [8], data: new Uint8Array(16) },
    ],
  );
}

function mutate(b0: Buffer, prefix: number, r: () => number): Buffer {
  const b = Buffer.from(b0);
  const kind = randInt(r, 6);
  if (kind === 0) for (let i = 0, n = 1 + randInt(r, 8); i < n; i++) b[randInt(r, prefix)] = randInt(r, 256);
  else if (kind === 1) b.writeBigUInt64LE(EXTREMES[randInt(r, EXTREMES.length)], randInt(r, prefix - 8));
  else if (kind === 2) b.writeUInt32LE(Number(EXTREMES[randInt(r, 6)]) >>> 0, randInt(r, prefix - 4));
  else if (kind === 3) b.writeUInt16LE(randInt(r, 0x10000), randInt(r, prefix - 2));
  else if (kind === 4) return b.subarray(0, randInt(r, b.length));
  else {
    const at = 64 + randInt(r, prefix - 64);
    b.write(["{", "}", '"', "[", "null", "\\", "9e999", ","][randInt(r, 8)], at, "latin1");
  }
  if (b.length >= 64 && r() < 0.85) b.writeUInt32LE(headerCrc(b.subarray(0, 64)), 40);
  return b;
}

describe("APR parser fuzz", () => {
  it(`survives ${CASES} seeded mutations with a clean error or a valid parse`, async () => {
    const good = sample();
    const prefix = Number(good.readBigUInt64LE(32));
    const r = rng(20261122);
    const outcomes = { ok: 0, rejected: 0 };
    const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-aprfuzz-"));
    const t0 = Date.now();
    for (let i = 0; i < CASES; i++) {
      const b = mutate(good, prefix, r);
      try {
        if (i % 20 === 0) {
          const p = path.join(dir, "m.apr");
          writeFileSync(p, b);
          await loadApr(p, { logLayout: false });
        } else {
          const h = parseHeader(b.subarray(0, Math.min(b.length, 64)), b.length, "fuzz.apr");
          parseAprPrefix(b.subarray(0, Math.max(64, h.dataOffset)), b.length, "fuzz.apr");
        }
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof RosettaError)) throw new Error(`case ${i}: ${(e as Error).stack}`);
        expect(e.message).not.toContain("\n");
        outcomes.rejected++;
      }
    }
    expect(outcomes.ok + outcomes.rejected).toBe(CASES);
    expect(outcomes.rejected).toBeGreaterThan(CASES / 4);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});
