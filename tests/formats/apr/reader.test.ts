/**
 * APR reader vs writer on every dtype (APR_Q4 / APR_Q8 round trips included), HF names, a fused
 * qkv_proj split by rows, per-row padded Q4_K, and refusals: foreign "APR" files, column-major flag,
 * bad CRCs, truncation. Each refusal is a RosettaError with the file name and exit code 2.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { dequantizeAprQ4Js, dequantizeAprQ8, f16ToF32, f32ToF16, quantizeAprQ4, quantizeAprQ8 } from "../../../src/convert/apr-quant.js";
import { loadApr } from "../../../src/formats/apr.js";
import { headerCrc } from "../../../src/formats/apr-crc.js";
import { writeApr, type AprTensorIn } from "../../../src/formats/apr-writer.js";
import { loadModel } from "../../../src/formats/index.js";
import { dequantize } from "../../../src/bindings/kernels.js";
import { RosettaError } from "../../../src/util/errors.js";
import { rng } from "../../helpers/rng.js";
import { APR_FOREIGN_DIR, HAVE_SHARED } from "../../helpers/shared.js";
import { goldenFile } from "./golden.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-aprr-"));
let k = 0;
const put = (b: Buffer) => {
  const p = path.join(dir, `m${k++}.apr`);
  writeFileSync(p, b);
  return p;
};
const H = 64, NH = 4, HD = 16, FF = 128, V = 96;
const META = { model_type: "llama", architecture: "llama", hidden_size: H, num_layers: 1, num_heads: NH, num_kv_heads: NH, vocab_size: V, intermediate_size: FF, rms_norm_eps: 1e-5, rope_theta: 10000 };

function randF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() - 0.5) * 2);
}
const bytes = (x: Float32Array) => new Uint8Array(x.buffer);
const f16Bytes = (x: Float32Array) => new Uint8Array(Uint16Array.from(x, (v) => f32ToF16(v)).buffer);
const bf16Bytes = (x: Float32Array) => new Uint8Array(Uint16Array.from(new Uint32Array(x.buffer), (u) => u >>> 16).buffer);

function model(overrides: Partial<Record<string, AprTensorIn>> = {}, meta: Record<string, unknown> = META): AprTensorIn[] {
  const t = (name: string, dims: number[], seed: number): AprTensorIn => ({ name, dtype: 0, dims, data: bytes(randF32(dims.reduce((a, b) => a * b), seed)) });
  const base: Record<string, AprTensorIn> = {
    "model.embed_tokens.weight": t("model.embed_tokens.weight", [V, H], 1),
    "model.norm.weight": t("model.norm.weight", [H], 2),
    "lm_head.weight": t("lm_head.weight", [V, H], 3),
    "model.layers.0.input_layernorm.weight": t("model.layers.0.input_layernorm.weight", [H], 4),
    "model.layers.0.self_attn.q_proj.weight": t("model.layers.0.self_attn.q_proj.weight", [H, H], 5),
    "model.layers.0.self_attn.k_proj.weight": t("model.layers.0.self_attn.k_proj.weight", [H, H], 6),
    "model.layers.0.self_attn.v_proj.weight": t("model.layers.0.self_attn.v_proj.weight", [H, H], 7),
    "model.layers.0.self_attn.o_proj.weight": t("model.layers.0.self_attn.o_proj.weight", [H, H], 8),
    "model.layers.0.post_attention_layernorm.weight": t("model.layers.0.post_attention_layernorm.weight", [H], 9),
    "model.layers.0.mlp.gate_proj.weight": t("model.layers.0.mlp.gate_proj.weight", [FF, H], 10),
    "model.layers.0.mlp.up_proj.weight": t("model.layers.0.mlp.up_proj.weight", [FF, H], 11),
    "model.layers.0.mlp.down_proj.weight": t("model.layers.0.mlp.down_proj.weight", [H, FF], 12),
  };
  void meta;
  return Object.values({ ...base, ...overrides }).filter((x): x is AprTensorIn => x !== undefined);
}

async function fileBytes(p: string, off: number, len: number) {
  const { readFileSync } = await import("node:fs");
  return new Uint8Array(readFileSync(p).subarray(off, off + len));
}

describe("APR reader and writer agree", () => {
  it("loads HF names into roles with [out, in] dims and a clean layout", async () => {
    const m = await loadApr(put(writeApr(META, model())), { logLayout: false });
    expect(m.format).toBe("apr");
    expect(m.config).toMatchObject({ arch: "llama", nEmbd: H, nHead: NH, nFf: FF, nVocab: V, rmsEps: Math.fround(1e-5), ropeLayout: "norm", tiedEmbeddings: false });
    expect(m.byRole.get("blk.0.ffn_down")!.dims).toEqual([H, FF]);
    expect(m.layout.filter((c) => c.verdict !== "OK")).toEqual([]);
  });

  it("every dtype round trips: F32, F16, BF16, Q4_K, Q6_K verbatim; APR_Q4 / APR_Q8 quantized and decoded", async () => {
    const x = randF32(FF * H, 99);
    const q4k = Uint8Array.from({ length: (FF * H / 256) * 144 }, (_, i) => (i * 37) & 0xff);
    const q6k = Uint8Array.from({ length: (FF * H / 256) * 210 }, (_, i) => (i * 11) & 0xff);
    for (let b = 0; b < q4k.length; b += 144) q4k.set([0, 0x3c, 0, 0x38], b); // finite d / dmin
    for (let b = 0; b < q6k.length; b += 210) q6k.set([0, 0x3c], b + 208);
    const cases: [number, Uint8Array, number][] = [
      [0, bytes(x), 0], [1, f16Bytes(x), 1], [30, bf16Bytes(x), 30], [12, q4k, 12], [14, q6k, 14],
      [128, quantizeAprQ4(x), 128], [129, quantizeAprQ8(x), 129], [8, quantizeAprQ4(x), 128], [9, quantizeAprQ8(x), 129],
    ];
    for (const [dtype, data, type] of cases) {
      const name = "model.layers.0.mlp.up_proj.weight";
      const p = put(writeApr(META, model({ [name]: { name, dtype, dims: [32, 256], data } }))); // rows of 256: K-quants flat
      const v = (await loadApr(p, { logLayout: false })).byRole.get("blk.0.ffn_up")!;
      expect(v.type, `dtype ${dtype}`).toBe(type);
      const got = await fileBytes(p, v.offset, v.byteLength);
      expect(Buffer.from(got).equals(Buffer.from(data)), `dtype ${dtype}`).toBe(true);
      const vals = type === 129 ? dequantizeAprQ8(got, FF * H) : dequantize({ source: got, offset: 0, type, nElements: FF * H });
      if (type === 0) expect(vals).toEqual(x);
      if (type === 1) expect(Array.from(vals)).toEqual(Array.from(x, (v) => f16ToF32(f32ToF16(v))));
      if (type === 128) {
        expect(Buffer.from(vals.buffer).equals(Buffer.from(dequantizeAprQ4Js(got, FF * H).buffer))).toBe(true);
        const err = Math.max(...Array.from(vals, (v, i) => Math.abs(v - x[i])));
        expect(err).toBeLessThan(0.08); // half a step of max|x|/7 with |x| <= 1, plus f16 scale rounding
      }
      if (type === 129) expect(Math.max(...Array.from(vals, (v, i) => Math.abs(v - x[i])))).toBeLessThan(0.5 / 127 + 1e-6);
    }
  });

  it("APR_Q4 puts even elements in low nibbles; scale max|x|/7 in f16", () => {
    const x = new Float32Array(32);
    x[0] = 7; x[1] = -7; x[2] = 3;
    const q = quantizeAprQ4(x);
    expect(f16ToF32(q[0] | (q[1] << 8))).toBe(1);
    expect(q[2]).toBe(((-7 + 8) << 4) | (7 + 8));
    expect(q[3] & 15).toBe(3 + 8);
    expect(Array.from(dequantizeAprQ4Js(q, 32).subarray(0, 3))).toEqual([7, -7, 3]);
  });

  it("splits a legacy fused qkv_proj by rows and reads per-row padded Q4_K", async () => {
    const ts = model({ "model.layers.0.self_attn.q_proj.weight": undefined, "model.layers.0.self_attn.k_proj.weight": undefined, "model.layers.0.self_attn.v_proj.weight": undefined });
    const qkv = randF32(3 * H * H, 5);
    ts.push({ name: "model.layers.0.self_attn.qkv_proj.weight", dtype: 0, dims: [3 * H, H], data: bytes(qkv) });
    const padded = { name: "model.layers.0.mlp.gate_proj.weight", dtype: 12, dims: [FF, H], data: new Uint8Array(FF * 144) };
    const m = await loadApr(put(writeApr(META, [...ts.filter((t) => t.name !== padded.name), padded])), { logLayout: false });
    const q = m.byRole.get("blk.0.attn_q")!, kk = m.byRole.get("blk.0.attn_k")!, v = m.byRole.get("blk.0.attn_v")!;
    expect([q.dims, kk.dims, v.dims]).toEqual([[H, H], [H, H], [H, H]]);
    expect(kk.offset - q.offset).toBe(H * H * 4);
    expect(v.offset - kk.offset).toBe(H * H * 4);
    expect(m.byRole.get("blk.0.ffn_gate")!.rowBytes).toBe(144);
  });
});

async function refusal(p: string): Promise<RosettaError> {
  try {
    await loadModel(p, { logLayout: false });
  } catch (e) {
    expect(e).toBeInstanceOf(RosettaError);
    expect((e as RosettaError).exitCode).toBe(2);
    expect((e as Error).message).toContain(p);
    return e as RosettaError;
  }
  throw new Error(`${p} loaded but should have been refused`);
}

describe("APR refusals", () => {
  it.skipIf(!HAVE_SHARED)("foreign APR-magic files say what they are", async () => {
    expect((await refusal(path.join(APR_FOREIGN_DIR, "apr-v1-mnist_784x2.apr"))).message).toMatch(/APR v1.*classic-ML.*not a transformer/);
    expect((await refusal(path.join(APR_FOREIGN_DIR, "aprender-tsp-att48-aco.apr"))).message).toMatch(/aprender-tsp solver model/);
  });
  it("column-major flag, bad header CRC, bad footer CRC, truncation, unknown dtype", async () => {
    const good = writeApr(META, model());
    const col = Buffer.from(good);
    col.writeUInt16LE(0x0c00, 6);
    col.writeUInt32LE(headerCrc(col.subarray(0, 64)), 40);
    expect((await refusal(put(col))).message).toMatch(/COLUMN_MAJOR/);
    const crc = Buffer.from(good);
    crc[8] ^= 1;
    expect((await refusal(put(crc))).message).toMatch(/header checksum mismatch/);
    const foot = Buffer.from(good);
    foot[foot.length - 100] ^= 1;
    expect((await refusal(put(foot))).message).toMatch(/footer checksum mismatch/);
    expect((await refusal(put(good.subarray(0, good.length - 300)))).message).toMatch(/past the end|truncated/);
    const gf = goldenFile();
    const bad = Buffer.from(gf);
    bad[0x100 + 2 + 4] = 77; // bias dtype
    bad.writeUInt32LE(0, bad.length - 4);
    expect((await refusal(put(bad))).message).toMatch(/unknown dtype 77/);
  });
});
