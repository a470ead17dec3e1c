/**
 * Hostile headers are refused before anything is sized by them (issue 17 item 3): tensor and key counts,
 * string lengths, array counts, n_dims, dims whose product overflows 64 bits, offsets and sizes past the
 * end, for GGUF (both readers: the model loader and the tokenizer's own), APR v2 and safetensors. Each
 * case is one clear RosettaError line, within a second, and the process does not grow by the claimed
 * size (resident memory grows by less than 64 MiB; the claims are terabytes). The model loader parses
 * metadata with @huggingface/gguf, which reads a short file's missing bytes as zeros (an array of 400,000
 * empty strings "fits" in 4 KiB and took 1.7 s): rosetta's strict reader (src/formats/gguf-kv.ts) checks
 * the whole key/value section first.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { loadApr } from "../../src/formats/apr.js";
import { headerCrc } from "../../src/formats/apr-crc.js";
import { writeApr } from "../../src/formats/apr-writer.js";
import { loadGguf } from "../../src/formats/gguf.js";
import { readGgufTokenizerMetadata } from "../../src/tokenizer/gguf.js";
import { decodeSafetensors } from "../../src/trace/safetensors.js";
import { RosettaError } from "../../src/util/errors.js";
import { Bytes } from "../../fuzz/ts/gguf-gen.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let k = 0;

const file = (b: Bytes, pad = 4096) => {
  const p = path.join(dir, `h${k++}.bin`);
  writeFileSync(p, Buffer.concat([b.done(), Buffer.alloc(pad)]));
  return p;
};
const gguf = (nTensors: number | bigint, nKv: number | bigint) => new Bytes().raw(Buffer.from("GGUF")).u32(3).u64(nTensors).u64(nKv);
const T40 = 1n << 40n, T63 = 1n << 63n, MAX64 = (1n << 64n) - 1n;

/** Runs f, expects a one-line RosettaError matching `re`, quickly and without growing by the claim. */
async function refused(f: () => unknown, re: RegExp): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  const t0 = Date.now();
  let err: unknown;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  expect(err, "expected a refusal").toBeInstanceOf(RosettaError);
  const msg = (err as Error).message;
  expect(msg).not.toContain("\n");
  expect(msg).toMatch(re);
  expect(Date.now() - t0).toBeLessThan(1000);
  expect(process.memoryUsage().rss - rss0).toBeLessThan(64 << 20);
}

const GGUF_CASES: [string, () => string, RegExp, RegExp][] = [
  ["a tensor count of 2^63", () => file(gguf(T63, 0)), /claims \d+ tensors, impossible/, /./],
  ["a key count of 2^64-1", () => file(gguf(0, MAX64)), /claims \d+ metadata entries, impossible/, /impossible in a \d+-byte file/],
  ["a key length of 2^40", () => file(gguf(0, 1).str("general.name", T40)), /impossible in a \d+-byte file/, /impossible in a \d+-byte file/],
  ["a string value of 2^63 bytes", () => file(gguf(0, 1).str("general.name").u32(8).u64(T63)), /impossible in a \d+-byte file/, /impossible in a \d+-byte file/],
  ["an array of 2^60 u8", () => file(gguf(0, 1).str("tokenizer.ggml.scores").u32(9).u32(0).u64(1n << 60n)), /impossible in a \d+-byte file/, /impossible in a \d+-byte file/],
  ["an array of 3,000 strings in 4 KiB", () => file(gguf(0, 1).str("tokenizer.ggml.tokens").u32(9).u32(8).u64(3000)), /needs at least 24000 bytes/, /needs at least 24000 bytes/],
  ["n_dims 2^32-1", () => file(gguf(1, 0).str("t").u32(0xffffffff)), /n_dims|cannot parse/, /./],
  ["dims whose product overflows 64 bits", () => { const w = gguf(1, 0).str("t").u32(4); for (let i = 0; i < 4; i++) w.u64(1n << 20n); return file(w.u32(0).u64(0)); }, /absurd element count/, /./],
  ["a dim of 2^64-1", () => file(gguf(1, 0).str("t").u32(2).u64(MAX64).u64(2).u32(0).u64(0)), /absurd dimension|exceeds the maximum allowed/, /./],
  ["a tensor offset past the end", () => file(gguf(1, 0).str("t").u32(1).u64(32).u32(0).u64(1n << 50n)), /extends past the end of the file/, /./],
  ["a tensor whose bytes run past the end", () => file(gguf(1, 0).str("t").u32(2).u64(4096).u64(4096).u32(0).u64(0)), /extends past the end of the file/, /./],
];

describe("hostile GGUF headers", () => {
  for (const [what, make, modelRe, tokRe] of GGUF_CASES) {
    it(`${what}: refused by the model loader and the tokenizer's reader`, async () => {
      const f = make();
      await refused(() => loadGguf(f, { logLayout: false }), modelRe);
      // the tokenizer reader reads only keys: tensor-info cases load (no tokenizer keys) or are refused
      try {
        readGgufTokenizerMetadata(f);
      } catch (e) {
        expect(e).toBeInstanceOf(RosettaError);
        expect((e as Error).message).toMatch(tokRe);
      }
    });
  }
});

function apr(edit: (b: Buffer) => void): string {
  const b = writeApr({ architecture: "llama" }, [{ name: "x", dtype: 0, dims: [4, 4], data: new Uint8Array(64) }]);
  edit(b);
  b.writeUInt32LE(headerCrc(b.subarray(0, 64)), 40); // a valid CRC: the bounds checks behind it are what is tested
  const p = path.join(dir, `a${k++}.apr`);
  writeFileSync(p, b);
  return p;
}
/** Byte offset of the only index entry's fields (name "x": 2 + 1 bytes, dtype, ndim, then dims). */
const entry = (b: Buffer) => Number(b.readBigUInt64LE(24));

describe("hostile APR headers", () => {
  const cases: [string, (b: Buffer) => void, RegExp][] = [
    ["a tensor count of 2^32-1", (b) => b.writeUInt32LE(0xffffffff, 8), /claims 4294967295 tensors, impossible/],
    ["a metadata offset of 2^63", (b) => b.writeBigUInt64LE(T63, 12), /metadata_offset = \d+ is beyond the end/],
    ["a metadata size of 2^32-1", (b) => b.writeUInt32LE(0xffffffff, 20), /overlaps the tensor index/],
    ["a data offset past the end", (b) => b.writeBigUInt64LE(1n << 40n, 32), /data_offset = \d+ is beyond the end/],
    ["a dim of 2^63", (b) => b.writeBigUInt64LE(T63, entry(b) + 5), /absurd dimension/],
    ["dims whose product overflows", (b) => { b.writeBigUInt64LE(T40, entry(b) + 5); b.writeBigUInt64LE(T40, entry(b) + 13); }, /absurd element count/],
    ["a tensor offset past the end", (b) => b.writeBigUInt64LE(T63, entry(b) + 21), /extends past the end/],
    ["a tensor size of 2^64-1", (b) => b.writeBigUInt64LE(MAX64, entry(b) + 29), /extends past the end/],
  ];
  for (const [what, edit, re] of cases) it(`${what}: refused`, async () => refused(() => loadApr(apr(edit), { logLayout: false }), re));
});

describe("hostile safetensors headers", () => {
  const st = (headerLen: bigint, json: string, data = 0) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(headerLen);
    return Buffer.concat([b, Buffer.from(json), Buffer.alloc(data)]);
  };
  it("a header length of 2^64-1: refused", () => refused(() => decodeSafetensors(st(MAX64, "{}"), "t.safetensors"), /header length \d+ exceeds the file/));
  it("a shape of 2^53 elements claiming 16 bytes: refused before allocating", () => {
    const json = JSON.stringify({ x: { dtype: "F32", shape: [2 ** 26, 2 ** 27], data_offsets: [0, 16] } });
    return refused(() => decodeSafetensors(st(BigInt(json.length), json, 16), "t.safetensors"), /do not match F32 shape/);
  });
  it("data offsets past the data: refused", () => {
    const json = JSON.stringify({ x: { dtype: "F32", shape: [2 ** 40], data_offsets: [0, 2 ** 42] } });
    return refused(() => decodeSafetensors(st(BigInt(json.length), json, 16), "t.safetensors"), /do not match F32 shape/);
  });
});
