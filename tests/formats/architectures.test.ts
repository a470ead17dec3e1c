/**
 * The architecture table (src/formats/architectures.ts) and what the loaders do with it: the config's
 * architecture facts come from the table, a qwen3 file without q/k norms is refused naming the tensor
 * (llama.cpp refuses it too), a role the architecture does not have is refused, and inspectModel reads
 * files of architectures the engine does not run.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { irToGguf, readGgufIr } from "../../src/convert/ir.js";
import { aprModel, readAprFile } from "../../src/formats/apr.js";
import { ARCHITECTURES, requiredRoles, SUPPORTED_ARCHS } from "../../src/formats/architectures.js";
import { inspectModel, loadModel } from "../../src/formats/index.js";
import { InputError, UnsupportedError } from "../../src/util/errors.js";
import { goldenFile } from "./apr/golden.js";
import { encodeGguf } from "../fixtures/lib/gguf-writer.js";
import { buildModel } from "../fixtures/lib/models.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-arch-"));
const put = (name: string, b: Uint8Array) => {
  const p = path.join(tmp, name);
  writeFileSync(p, b);
  return p;
};

/** The synthetic fixture of `arch` with the tensors whose names match `drop` removed. */
async function variant(arch: "llama" | "qwen2" | "qwen3", name: string, drop: RegExp): Promise<string> {
  const ir = await readGgufIr(put(`${arch}.gguf`, buildModel(arch)));
  ir.tensors = ir.tensors.filter((t) => !drop.test(t.name));
  return put(name, irToGguf(ir));
}

describe("the architecture table", () => {
  it("has one row per supported architecture, with llama.cpp's rope types and qwen3's q/k norms", () => {
    expect([...SUPPORTED_ARCHS].sort()).toEqual(["llama", "mistral", "qwen2", "qwen3"]);
    expect(Object.fromEntries(SUPPORTED_ARCHS.map((a) => [a, ARCHITECTURES[a].ropeLayout]))).toEqual({ llama: "norm", mistral: "norm", qwen2: "neox", qwen3: "neox" });
    expect(SUPPORTED_ARCHS.filter((a) => ARCHITECTURES[a].qkNorm)).toEqual(["qwen3"]);
    expect(SUPPORTED_ARCHS.every((a) => ARCHITECTURES[a].tiedEmbeddings)).toBe(true);
  });

  it("lists the roles an architecture requires", () => {
    const q3 = requiredRoles("qwen3", 2);
    expect(q3.filter((r) => r.layer === null).map((r) => r.role)).toEqual(["token_embd", "output_norm"]);
    expect(q3.filter((r) => r.layer === 1).map((r) => r.role)).toContain("attn_k_norm");
    expect(q3).toHaveLength(2 + 2 * 11);
    expect(requiredRoles("llama").map((r) => r.role)).not.toContain("attn_q_norm");
    expect(requiredRoles("qwen2").map((r) => r.role)).not.toContain("attn_q_bias"); // expected, not required
  });
});

describe("loaders read the table", () => {
  it("config facts come from the table", async () => {
    for (const arch of ["llama", "qwen2", "qwen3"] as const) {
      const m = await loadModel(put(`${arch}-ok.gguf`, buildModel(arch)), { logLayout: false });
      expect(m.config.ropeLayout).toBe(ARCHITECTURES[arch].ropeLayout);
      expect(m.config.qkNorm).toBe(ARCHITECTURES[arch].qkNorm);
      expect(m.config.qkvBias).toBe(arch === "qwen2");
    }
  });

  it("refuses a qwen3 file without attn_q_norm / attn_k_norm, naming the tensor", async () => {
    const p = await variant("qwen3", "qwen3-no-qknorm.gguf", /attn_[qk]_norm/);
    const err = await loadModel(p, { logLayout: false }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    expect((err as Error).message).toBe(`${p}: tensor blk.0.attn_q_norm.weight is missing (required by qwen3); qwen3 normalizes q and k per head (llama.cpp refuses the file too)`);
    const k = await variant("qwen3", "qwen3-no-knorm.gguf", /blk\.1\.attn_k_norm/);
    await expect(loadModel(k, { logLayout: false })).rejects.toThrow(/tensor blk\.1\.attn_k_norm\.weight is missing/);
  });

  it("still loads a qwen2 file without its expected biases (the comparator names the missing tensor)", async () => {
    const p = await variant("qwen2", "qwen2-no-bias.gguf", /blk\.0\.attn_q\.bias/);
    const m = await loadModel(p, { logLayout: false });
    expect(m.byRole.has("blk.0.attn_q_bias")).toBe(false);
  });

  it("refuses a role tensor the architecture does not have", async () => {
    const ir = await readGgufIr(put("qwen3-b.gguf", buildModel("qwen3")));
    const q = ir.tensors.find((t) => t.name === "blk.0.attn_q_norm.weight")!;
    ir.tensors.push({ ...q, name: "blk.0.attn_output.bias", dims: [256], data: new Uint8Array(256 * 4) });
    const p = put("qwen3-bias.gguf", irToGguf(ir));
    await expect(loadModel(p, { logLayout: false })).rejects.toThrow(/tensor blk\.0\.attn_output\.bias \(attn_output_bias\) is not part of a qwen3 model/);
  });
});

describe("inspectModel reads any valid file", () => {
  it("a GGUF of an architecture the engine does not run: listed, with the reason", async () => {
    const p = put("gpt2.gguf", encodeGguf([["general.architecture", { type: "string", value: "gpt2" }], ["gpt2.block_count", { type: "u32", value: 1 }]], [
      { name: "token_embd.weight", ne: [4, 8], data: new Float32Array(32) },
      { name: "blk.0.attn_qkv.weight", ne: [4, 12], data: new Float32Array(48) },
    ]));
    await expect(loadModel(p, { logLayout: false })).rejects.toThrow(UnsupportedError);
    await expect(loadModel(p, { logLayout: false })).rejects.toThrow(`${p}: architecture 'gpt2' is not supported (supported: llama, mistral, qwen2, qwen3)`);
    const r = await inspectModel(p, { logLayout: false });
    expect(r.model).toBeNull();
    expect(r.notRunnable).toBe("architecture 'gpt2' is not supported (supported: llama, mistral, qwen2, qwen3)");
    expect(r.file).toMatchObject({ format: "gguf", container: "GGUF v3", archName: "gpt2" });
    expect(r.file.tensors.map((t) => [t.name, t.dims, t.typeName])).toEqual([["token_embd.weight", [8, 4], "f32"], ["blk.0.attn_qkv.weight", [12, 4], "f32"]]);
  });

  it("an APR v2 linear model (aprender's golden file): listed with its checksums", async () => {
    const p = put("golden.apr", goldenFile());
    const f = await readAprFile(p);
    expect(f.checksums).toEqual(["header CRC32 0x3bc08c02 verified", "footer CRC32 0x550f3f35 verified"]);
    expect(() => aprModel(f)).toThrow(/architecture 'linear_regression' is not supported/);
    await expect(loadModel(p, { logLayout: false })).rejects.toThrow(UnsupportedError);
    const r = await inspectModel(p, { logLayout: false });
    expect(r.notRunnable).toMatch(/^architecture 'linear_regression' is not supported/);
    expect(r.file.tensors.map((t) => `${t.name} ${t.typeName} [${t.dims}]`)).toEqual(["bias f32 [1]", "weights f32 [8]"]);
  });

  it("a llama-family file the engine cannot run keeps its config", async () => {
    const p = await variant("qwen3", "qwen3-no-qknorm-2.gguf", /attn_[qk]_norm/);
    const r = await inspectModel(p, { logLayout: false });
    expect(r.model?.config.arch).toBe("qwen3");
    expect(r.notRunnable).toMatch(/^tensor blk\.0\.attn_q_norm\.weight is missing \(required by qwen3\)/);
  });
});
