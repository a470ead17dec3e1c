/**
 * The Hugging Face folder reader (src/formats/hf.ts) without Python: folders written here from the qwen2
 * fixtures (HF names, config.json; qwen2's Q/K rows need no permutation between the formats), so these run
 * everywhere. A folder is the same model as its GGUF (weights byte-identical, every point bit-identical),
 * sharded or not, F32 or F16; `inspect`, `diff-weights`, `trace` and `rosetta A B` take a folder; every
 * broken or hostile folder (header lengths, JSON, dtypes, offsets, truncation, index entries outside the
 * folder or inconsistent with the shards, config values) is one line, exit 2, or for `inspect` a
 * "not runnable" line. tests/compare/hf-conversion.test.ts runs real transformers-made folders.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { diffWeights } from "../../src/compare/weight-diff.js";
import { readGgufIr, type ModelIr } from "../../src/convert/ir.js";
import { inspectModel, loadModel, sniffFile } from "../../src/formats/index.js";
import { hfNameOf, roleOfName } from "../../src/formats/roles.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { getFixture } from "../fixtures/lib/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-hf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DTYPE: Record<number, string> = { 0: "F32", 1: "F16" };

interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** A safetensors file from raw little-endian bytes (header padded to 8 bytes, as the reference writer does). */
function safetensors(ts: RawTensor[]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0;
  for (const t of ts) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...ts.map((t) => Buffer.from(t.data))]);
}

const HF_CLASS: Record<string, string> = { qwen2: "Qwen2ForCausalLM", mistral: "MistralForCausalLM", llama: "LlamaForCausalLM" };

function hfConfig(ir: ModelIr, modelType: string): Record<string, unknown> {
  const c = ir.config;
  return {
    architectures: [HF_CLASS[modelType]], model_type: modelType, hidden_size: c.nEmbd, num_attention_heads: c.nHead, num_key_value_heads: c.nHeadKv,
    num_hidden_layers: c.nLayer, intermediate_size: c.nFf, vocab_size: c.nVocab, max_position_embeddings: c.nCtxTrain, rms_norm_eps: c.rmsEps,
    rope_theta: c.ropeBase, tie_word_embeddings: c.tiedEmbeddings, torch_dtype: "float32",
  };
}

/**
 * GGUF's llama Q/K rows back in Hugging Face order (an independent transcription of llama.cpp's converter
 * permutation: GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i), F32 rows of `cols` floats.
 */
function unpermute(data: Uint8Array, nHead: number, rows: number, cols: number): Uint8Array {
  const src = new Float32Array(data.slice().buffer), out = new Float32Array(src.length);
  const hd = rows / nHead;
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < hd / 2; i++)
      for (let j = 0; j < 2; j++) out.set(src.subarray((h * hd + 2 * i + j) * cols, (h * hd + 2 * i + j + 1) * cols), (h * hd + j * (hd / 2) + i) * cols);
  return new Uint8Array(out.buffer);
}

/**
 * The fixture as a HF folder: HF names, config.json (model_type `modelType`), optionally split into
 * `shards` files with an index; a llama-family GGUF's Q/K rows are put back in HF order.
 */
function writeFolder(ir: ModelIr, name: string, shards = 1, modelType = "qwen2", edit?: (ts: RawTensor[]) => void): string {
  const out = path.join(dir, name);
  mkdirSync(out, { recursive: true });
  const ts: RawTensor[] = ir.tensors.map((t) => {
    const ref = roleOfName(t.name)!;
    const qk = ir.config.ropeLayout === "norm" && (ref.role === "attn_q" || ref.role === "attn_k");
    const data = qk ? unpermute(t.data, ref.role === "attn_q" ? ir.config.nHead : ir.config.nHeadKv, t.dims[0], t.dims[1]) : t.data;
    return { name: hfNameOf(ref.role, ref.layer), dtype: DTYPE[t.type], shape: t.dims, data };
  });
  edit?.(ts);
  writeFileSync(path.join(out, "config.json"), JSON.stringify(hfConfig(ir, modelType), null, 2));
  if (shards === 1) {
    writeFileSync(path.join(out, "model.safetensors"), safetensors(ts));
    return out;
  }
  const weightMap: Record<string, string> = {};
  const per = Math.ceil(ts.length / shards);
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
    const part = ts.slice(s * per, (s + 1) * per);
    for (const t of part) weightMap[t.name] = file;
    writeFileSync(path.join(out, file), safetensors(part));
  }
  writeFileSync(path.join(out, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return out;
}

function expectOneLine(r: CliResult, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(message);
}

let gguf = "", gguf16 = "";
let ir: ModelIr;
let folder = "";

beforeAll(async () => {
  gguf = await getFixture("qwen2", "F32");
  gguf16 = await getFixture("qwen2", "F16");
  ir = await readGgufIr(gguf);
  folder = writeFolder(ir, "qwen2");
});

describe("a Hugging Face folder is the same model as its GGUF", () => {
  it("config from config.json; roles from HF names; q/k rows in HF order (NEOX); tensors point into their shard", async () => {
    expect(await sniffFile(folder)).toBe("hf");
    const m = await loadModel(folder);
    expect(m.format).toBe("hf");
    const g = await loadModel(gguf);
    expect({ ...m.config }).toEqual({ ...g.config });
    expect(m.config.ropeLayout).toBe("neox");
    expect(m.byRole.get("blk.1.attn_k_bias")!.name).toBe("model.layers.1.self_attn.k_proj.bias");
    expect(m.byRole.get("blk.0.attn_q")!.file).toBe(path.join(folder, "model.safetensors"));
    expect(diffWeights(m, g).tensors.every((t) => t.status === "identical" || t.status === "not-compared")).toBe(true);
  });

  it("every point bit-identical to the GGUF (exact regime), sharded (3 files + index) or not; F16 folder = F16 GGUF", async () => {
    const sharded = writeFolder(ir, "qwen2-sharded", 3);
    expect(new Set((await loadModel(sharded)).tensors.map((t) => t.file)).size).toBe(3);
    const f16 = writeFolder(await readGgufIr(gguf16), "qwen2-f16");
    for (const [a, b] of [[folder, gguf], [sharded, gguf], [f16, gguf16]]) {
      const r = await runComparison({ a: { path: a }, b: { path: b }, tokens: [3, 17, 42, 99, 7], gen: 1 });
      expect(r.verdict, a).toBe("MATCH");
      expect(r.regime?.id, a).toBe("exact");
      expect(r.counts.match, a).toBeGreaterThan(30);
      expect(r.points.every((p) => p.status === "match" && (p.all?.nmse ?? 0) === 0), a).toBe(true);
    }
  });

  it("mistral and llama folders (Q/K back in HF order) against the llama GGUF: the same function, compared modulo the RoPE row order", async () => {
    const llama = await getFixture("llama", "F32");
    const lir = await readGgufIr(llama);
    for (const mt of ["mistral", "llama"]) {
      const f = writeFolder(lir, `llama-as-${mt}`, 1, mt);
      const m = await loadModel(f);
      expect(m.config.arch).toBe(mt);
      expect(m.config.ropeLayout).toBe("neox");
      const r = await runComparison({ a: { path: f }, b: { path: llama }, tokens: [3, 17, 42, 99, 7] });
      expect(r.verdict, mt).toBe("MATCH");
      expect(r.findings.filter((x) => x.fatal), mt).toEqual([]);
      expect(r.findings.some((x) => x.id === "equivalent-reparametrization"), mt).toBe(true);
      if (mt === "mistral") expect(r.findings.some((x) => x.id === "architecture-differs" && !x.fatal)).toBe(true);
      // the reparametrization band: rounding only
      expect(Math.max(...r.points.map((p) => p.all?.nmse ?? 0)), mt).toBeLessThan(1e-9);
    }
  });

  it("saved traces of a llama folder and its GGUF: the RoPE layout difference is the Q/K row order (the activations decide, informational)", async () => {
    const llama = await getFixture("llama", "F32");
    const lir = await readGgufIr(llama);
    const good = writeFolder(lir, "llama-trace", 1, "llama");
    // the defect: the GGUF's permuted rows copied into the folder as they are
    const bad = writeFolder({ ...lir, config: { ...lir.config, ropeLayout: "neox" } }, "llama-trace-unpermuted", 1, "llama");
    const trace = (model: string, out: string) => {
      const r = runCli(["trace", model, "--engine", "rosetta", "--tokens", "3,17,42,99,7", "--tensors", "--out", path.join(dir, out), "-q"]);
      expect(r.code, r.stderr).toBe(0);
      return path.join(dir, `${out}.json`);
    };
    const [tg, tGood, tBad] = [trace(llama, "tr-gguf"), trace(good, "tr-good"), trace(bad, "tr-bad")];
    expect(JSON.parse(readFileSync(tGood, "utf8")).model.format).toBe("hf");
    const r = await runComparison({ a: { path: tGood }, b: { path: tg } });
    expect(r.verdict).toBe("MATCH");
    expect(r.findings.filter((f) => f.fatal)).toEqual([]);
    const rope = r.findings.find((f) => f.id === "rope-layout-mismatch" && f.where === "metadata");
    expect(rope?.fatal).toBe(false);
    expect(rope?.evidence.join()).toMatch(/compared modulo the NORM\/NEOX row order within each head: the activations decide/);
    const rb = await runComparison({ a: { path: tBad }, b: { path: tg } });
    expect(rb.verdict).toBe("DIVERGED");
    expect(rb.firstDivergence?.key).toBe("blk.0.q_rope");
  });

  it("a renamed optional key (a bias): tensor-missing at its role, and the unknown name in the load warning", async () => {
    const f = writeFolder(ir, "qwen2-renamed-bias", 1, "qwen2", (ts) => {
      ts.find((t) => t.name === "model.layers.1.self_attn.k_proj.bias")!.name = "model.layers.1.self_attn.k_proj.b";
    });
    const r = await runComparison({ a: { path: f }, b: { path: gguf }, tokens: [3, 17, 42] });
    expect(`${r.diagnosis?.id} at ${r.diagnosis?.where}`).toBe("tensor-missing at blk.1.attn_k_bias");
    expect(r.firstDivergence?.key).toBe("blk.1.k");
    const c = runCli([f, gguf, "--tokens", "3,17,42", "-q"]);
    expect(c.code).toBe(0);
    expect(c.stderr).toMatch(/1 tensor\(s\) rosetta does not know, not used: model\.layers\.1\.self_attn\.k_proj\.b \(renamed\?\)/);
  });

  it("inspect, diff-weights, trace and rosetta A B take the folder", () => {
    const i = runCli(["inspect", folder, "-q"]);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/Hugging Face folder \(1 safetensors file\)/);
    expect(i.stdout).toMatch(/arch qwen2: 2 layers/);
    expect(i.stdout).toMatch(/model\.layers\.0\.self_attn\.q_proj\.weight\s+blk\.0\.attn_q/);
    const d = runCli(["diff-weights", folder, gguf, "-q"]);
    expect(d.code, d.stderr).toBe(0);
    const t = runCli(["trace", folder, "--engine", "rosetta", "--tokens", "3,17,42", "--out", path.join(dir, "trace"), "-q"]);
    expect(t.code, t.stderr).toBe(0);
    const c = runCli([folder, gguf, "--tokens", "3,17,42", "--assert-match", "-q"]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    // llama.cpp runs GGUF files: a folder given to it is one line
    expectOneLine(runCli(["trace", folder, "--engine", "llama.cpp", "--tokens", "3", "--out", path.join(dir, "t2"), "-q"]), /is a Hugging Face folder; llama\.cpp runs GGUF files/);
    expectOneLine(runCli([folder, gguf, "--engine-a", "llama.cpp", "--tokens", "3", "-q"]), /is a Hugging Face folder; llama\.cpp runs GGUF files/);
    expectOneLine(runCli(["parity", folder, "-q"]), /a Hugging Face folder is not a parity model/);
    // without tokenizer.json a prompt cannot be tokenized: one line
    expectOneLine(runCli(["tokenize", folder, "hi", "-q"]), /no tokenizer: no tokenizer\.json in the folder/);
  });
});

describe("broken and hostile folders: one line, exit 2 (inspect: the container errors too)", () => {
  /** A copy of the folder with model.safetensors replaced by `bytes` (or edited by `edit`). */
  function variant(name: string, edit: (d: string) => void): string {
    const d = path.join(dir, `bad-${name}`);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
    for (const f of ["config.json", "model.safetensors"]) writeFileSync(path.join(d, f), readFileSync(path.join(folder, f)));
    edit(d);
    return d;
  }
  const st = (d: string) => path.join(d, "model.safetensors");
  const withHeader = (d: string, header: unknown, data = Buffer.alloc(0)) => {
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(st(d), Buffer.concat([len, json, data]));
  };

  const CASES: [string, (d: string) => void, RegExp][] = [
    ["header length past the end", (d) => { const b = readFileSync(st(d)); b.writeBigUInt64LE(BigInt(b.length)); writeFileSync(st(d), b); }, /header length \d+ exceeds the file/],
    ["header length 2^63", (d) => { const b = readFileSync(st(d)); b.writeBigUInt64LE(1n << 63n); writeFileSync(st(d), b); }, /header length \d+ exceeds the file/],
    ["shorter than 8 bytes", (d) => writeFileSync(st(d), Buffer.from([1, 2, 3])), /shorter than its 8-byte header length/],
    ["header not JSON", (d) => { const b = readFileSync(st(d)); b.write("#", 8); writeFileSync(st(d), b); }, /header is not JSON/],
    ["unknown dtype", (d) => withHeader(d, { x: { dtype: "F99", shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(4)), /tensor x: dtype F99 is not a safetensors dtype/],
    ["offsets past the data", (d) => withHeader(d, { x: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, Buffer.alloc(8)), /data_offsets \[0, 16\] do not match F32 shape \[4\]/],
    ["overlapping tensors", (d) => withHeader(d, { x: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, y: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, Buffer.alloc(12)), /overlap the previous tensor/],
    ["negative / fractional shape", (d) => withHeader(d, { x: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, Buffer.alloc(4)), /tensor x: bad shape/],
    ["truncated data", (d) => truncateSync(st(d), readFileSync(st(d)).length - 100), /do not match F32 shape|cover \d+ of \d+ data bytes/],
    ["config.json not JSON", (d) => writeFileSync(path.join(d, "config.json"), "{nope"), /config\.json: not valid JSON/],
    ["no safetensors", (d) => rmSync(st(d)), /no \*\.safetensors file/],
    ["only a PyTorch pickle", (d) => { rmSync(st(d)); writeFileSync(path.join(d, "pytorch_model.bin"), "x"); }, /holds pytorch_model\.bin: PyTorch pickles, which rosetta does not read/],
    ["index entry outside the folder", (d) => writeFileSync(path.join(d, "model.safetensors.index.json"), JSON.stringify({ weight_map: { "model.norm.weight": "../../etc/passwd" } })), /weight_map names "\.\.\/\.\.\/etc\/passwd" for model\.norm\.weight, not a \*\.safetensors file in the folder/],
    ["index inconsistent with the shard", (d) => writeFileSync(path.join(d, "model.safetensors.index.json"), JSON.stringify({ weight_map: { "model.norm.weight": "model.safetensors", "model.nope.weight": "model.safetensors" } })), /model\.safetensors, but the index does not list it|does not hold it/],
  ];
  for (const [name, edit, msg] of CASES) {
    it(name, () => {
      const d = variant(name.replace(/\W+/g, "-"), edit);
      for (const args of [["inspect", d], [d, gguf, "--tokens", "1,2"]]) expectOneLine(runCli([...args, "-q"]), msg);
    });
  }

  const NOT_RUNNABLE: [string, (c: Record<string, unknown>) => void, RegExp][] = [
    ["an unsupported model_type", (c) => void (c.model_type = "gpt2"), /architecture 'gpt2' is not supported/],
    ["a missing hidden_size", (c) => void delete c.hidden_size, /config\.json key hidden_size is missing/],
    ["heads not a multiple of kv heads", (c) => void (c.num_key_value_heads = 3), /num_attention_heads 4 is not a multiple of num_key_value_heads 3/],
    ["rms_norm_eps out of range", (c) => void (c.rms_norm_eps = 2), /rms_norm_eps 2 is out of range/],
  ];
  for (const [name, edit, msg] of NOT_RUNNABLE) {
    it(`${name}: inspect lists the folder with 'not runnable'; the comparison refuses it in one line`, () => {
      const d = variant(name.replace(/\W+/g, "-"), (x) => {
        const c = JSON.parse(readFileSync(path.join(x, "config.json"), "utf8"));
        edit(c);
        writeFileSync(path.join(x, "config.json"), JSON.stringify(c));
      });
      const i = runCli(["inspect", d, "-q"]);
      expect(i.code, i.stderr).toBe(0);
      expect(i.stdout).toMatch(new RegExp(`not runnable by the engine: .*${msg.source}`));
      expectOneLine(runCli([d, gguf, "--tokens", "1,2", "-q"]), msg);
    });
  }

  it("a role tensor in a dtype the engine does not run (I32) is listed by inspect and refused by the engine", async () => {
    const d = variant("i32", (x) => {
      const ts: RawTensor[] = ir.tensors.map((t) => {
        const ref = roleOfName(t.name)!;
        return { name: hfNameOf(ref.role, ref.layer), dtype: t.name === "blk.0.ffn_norm.weight" ? "I32" : "F32", shape: t.dims, data: t.data };
      });
      writeFileSync(st(x), safetensors(ts));
    });
    const r = await inspectModel(d);
    expect(r.notRunnable).toMatch(/model\.layers\.0\.post_attention_layernorm\.weight has dtype I32, which rosetta does not run/);
    expect(r.file.tensors.find((t) => t.name === "model.layers.0.post_attention_layernorm.weight")?.typeName).toBe("I32");
    expectOneLine(runCli([d, gguf, "--tokens", "1,2", "-q"]), /dtype I32, which rosetta does not run/);
  });
});
