/**
 * Every fuzz finding, as a regression test (docs/fuzzing.md). Native findings also stay in the seed
 * corpus of their libFuzzer target (fuzz/corpus/native-*), so every `npm run fuzz` replays them.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { matmul, typeTraitsById } from "../../src/bindings/kernels.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { readGgufTokenizerMetadata } from "../../src/tokenizer/gguf.js";
import { writeGguf } from "../../src/formats/gguf-writer.js";
import { loadGguf } from "../../src/formats/gguf.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/trace/safetensors.js";
import { InputError, RosettaError } from "../../src/util/errors.js";
import { Bytes } from "../../fuzz/ts/gguf-gen.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-fuzz-regress-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A GGUF with no tensors and the given key/value bytes. */
function gguf(nKv: number, kvs: Bytes): string {
  const f = path.join(dir, `m${Math.random().toString(36).slice(2)}.gguf`);
  writeFileSync(f, Buffer.concat([new Bytes().raw(Buffer.from("GGUF")).u32(3).u64(0).u64(nKv).done(), kvs.done()]));
  return f;
}
/** A key of value type `type`. */
const key = (b: Bytes, name: string, type: number) => b.str(name).u32(type);
/** An array value's header: element type and count. */
const arrayHeader = (b: Bytes, elemType: number, n: bigint) => b.u32(elemType).u64(n);

describe("fuzz findings", () => {
  it("tokenizer GGUF reader: arrays nested 100,000 deep are refused in one line, not a stack overflow", () => {
    // found by fuzz/ts (gguf-tokenizer): skip() recursed once per level and threw RangeError (exit 3)
    const kv = key(new Bytes(), "general.deep", 9);
    for (let i = 0; i < 100_000 - 1; i++) arrayHeader(kv, 9, 1n);
    const f = gguf(1, arrayHeader(kv, 4, 0n));
    expect(() => readGgufTokenizerMetadata(f)).toThrow(InputError);
    expect(() => readGgufTokenizerMetadata(f)).toThrow(/arrays nested more than 4 deep/);
  });

  it("tokenizer GGUF reader: an array of strings longer than the file could hold is refused before it is read", async () => {
    const f = gguf(1, arrayHeader(key(new Bytes(), "tokenizer.ggml.tokens", 9), 8, 1000n).raw(Buffer.alloc(4096)));
    expect(() => readGgufTokenizerMetadata(f)).toThrow(/an array of 1000 values needs at least 8000 bytes, 4096 are left/);
    await expect(loadTokenizer(f)).rejects.toThrow(InputError);
  });

  it("matmul / getRow: rows at a stride that misaligns a block are refused, not read misaligned (UB)", () => {
    // found by fuzz/native/matmul.cc under UBSan: IQ4_NL (18-byte blocks, 2-byte fields) at an odd rowBytes
    const iq4nl = typeTraitsById(20)!;
    const nIn = iq4nl.blockSize;
    const rowBytes = iq4nl.typeSize + 1;
    const w = new Uint8Array(rowBytes * 2);
    const run = () => matmul({ source: w, offset: 0, type: 20, nOut: 2, nIn, x: new Float32Array(nIn), y: new Float32Array(2), nTok: 1, mode: "exact", rowBytes });
    expect(run).toThrow(/row stride is not a multiple of the block type's alignment/);
    // the same rows at an even stride are fine
    expect(() => matmul({ source: new Uint8Array((rowBytes + 1) * 2), offset: 0, type: 20, nOut: 2, nIn, x: new Float32Array(nIn), y: new Float32Array(2), nTok: 1, mode: "exact", rowBytes: rowBytes + 1 })).not.toThrow();
  });

  it("names from a file with newlines or control characters stay on one line in the error", async () => {
    // found by fuzz/ts (gguf, safetensors): a mutated name length made a tensor name span "\n" and binary
    const f = path.join(dir, "nl.gguf");
    writeFileSync(f, writeGguf({ "general.architecture": { type: 8, value: "llama" } }, [
      { name: "evil\nname\u0007", type: 0, dims: [3], data: new Uint8Array(12) },
      { name: "evil\nname\u0007", type: 0, dims: [3], data: new Uint8Array(12) },
    ]));
    const err = await loadGguf(f, { logLayout: false }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RosettaError);
    expect((err as Error).message).toMatch(/tensor evil\\nname\\x07 appears twice/);
    expect((err as Error).message).not.toMatch(/[\n\u0007]/);
    const st = encodeSafetensors(new Map([["out\nput", { shape: [2], data: new Float32Array(2) }]]));
    st.writeUInt8(0x30, st.length - 1); // keep it decodable, then break the shape claim below
    const bad = Buffer.from(st.toString("latin1").replace('"shape":[2]', '"shape":[3]'), "latin1");
    expect(() => decodeSafetensors(bad, "t.safetensors")).toThrow(RosettaError);
    try {
      decodeSafetensors(bad, "t.safetensors");
    } catch (e) {
      expect((e as Error).message).toMatch(/tensor out\\nput: data_offsets/);
      expect((e as Error).message).not.toContain("\n");
    }
  });
});
