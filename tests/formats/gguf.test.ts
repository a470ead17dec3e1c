import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { loadGguf } from "../../src/formats/gguf.js";
import { expectedDims } from "../../src/formats/roles.js";
import { InputError, UnsupportedError } from "../../src/util/errors.js";
import { BAD_ROW172, BAD_V1, HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-gguf-"));

describe.skipIf(!HAVE_SHARED)("GGUF loading of the real models", () => {
  it("reads stories260K's config and roles", async () => {
    const m = await loadGguf(STORIES, { logLayout: false });
    expect(m.config).toMatchObject({
      arch: "llama", nLayer: 5, nEmbd: 64, nHead: 8, nHeadKv: 4, headDim: 8, nFf: 172, nVocab: 512,
      ropeLayout: "norm", ropeBase: 10000, ropeDim: 8, tiedEmbeddings: false, qkvBias: false, qkNorm: false,
    });
    expect(m.config.rmsEps).toBeCloseTo(1e-5, 10);
    expect(m.tensors).toHaveLength(48);
    const q = m.byRole.get("blk.0.attn_q")!;
    expect(q.fileDims).toEqual([64, 64]);
    const k = m.byRole.get("blk.4.attn_k")!;
    expect(k.dims).toEqual([32, 64]); // [out = 4 kv heads x 8, in = 64]
    expect(k.typeName).toBe("f32");
    expect(k.byteLength).toBe(32 * 64 * 4);
    expect(m.layout.every((c) => c.verdict === "OK")).toBe(true);
    expect(m.byRole.get("output")!.dims).toEqual(expectedDims("output", m.config));
  });

  it("reads TinyLlama's Q4_0 config and byte sizes", async () => {
    const m = await loadGguf(TINYLLAMA, { logLayout: false });
    expect(m.config).toMatchObject({ arch: "llama", nLayer: 8, nEmbd: 64, nHead: 16, nHeadKv: 16, headDim: 4, nFf: 256, nVocab: 32000 });
    expect(m.config.rmsEps).toBeCloseTo(1e-6, 12);
    const e = m.byRole.get("token_embd")!;
    expect(e.typeName).toBe("q4_0");
    expect(e.byteLength).toBe((32000 * 64 / 32) * 18);
    expect(m.layout.filter((c) => c.verdict !== "OK")).toEqual([]);
  });

  it("refuses GGUF v1 by name", async () => {
    await expect(loadGguf(BAD_V1)).rejects.toThrow(UnsupportedError);
    await expect(loadGguf(BAD_V1)).rejects.toThrow(/GGUF v1 is not supported/);
  });

  it("refuses a Q8_0 tensor whose rows are not whole blocks, naming it", async () => {
    await expect(loadGguf(BAD_ROW172)).rejects.toThrow(/blk\.\d+\.ffn_down\.weight: 172 elements per row, not a multiple of the q8_0 block size \(32\)/);
  });

  it("refuses a truncated file, naming the tensor past the end", async () => {
    const p = path.join(tmp, "trunc.gguf");
    const buf = readFileSync(STORIES);
    writeFileSync(p, buf.subarray(0, buf.length - 1000));
    await expect(loadGguf(p)).rejects.toThrow(/tensor \S+ extends past the end of the file/);
    writeFileSync(p, buf.subarray(0, 300));
    await expect(loadGguf(p)).rejects.toThrow(InputError);
  });

  it("refuses wrong magic and absurd counts", async () => {
    const p = path.join(tmp, "magic.gguf");
    const buf = Buffer.from(readFileSync(STORIES));
    buf.write("GGUX", 0, "latin1");
    writeFileSync(p, buf);
    await expect(loadGguf(p)).rejects.toThrow(/not a GGUF file/);
    const b2 = Buffer.from(readFileSync(STORIES));
    b2.writeBigUInt64LE(0xffffffffffffffffn, 8);
    writeFileSync(p, b2);
    await expect(loadGguf(p)).rejects.toThrow(/header claims \d+ tensors/);
  });

  it("refuses an unknown or unsupported tensor type by name", async () => {
    const p = path.join(tmp, "type.gguf");
    copyFileSync(STORIES, p);
    const buf = Buffer.from(readFileSync(p));
    // The first tensor info follows the metadata; find token_embd.weight's name and patch its type field.
    const at = buf.indexOf("token_embd.weight") + "token_embd.weight".length;
    const nDims = buf.readUInt32LE(at);
    const typeAt = at + 4 + nDims * 8;
    buf.writeUInt32LE(16, typeAt); // iq2_xxs
    writeFileSync(p, buf);
    await expect(loadGguf(p)).rejects.toThrow(/token_embd\.weight has type iq2_xxs, which rosetta does not support/);
    buf.writeUInt32LE(77, typeAt);
    writeFileSync(p, buf);
    await expect(loadGguf(p)).rejects.toThrow(/unknown type id 77/);
  });
});
