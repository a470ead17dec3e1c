/**
 * Fuzz targets for every TypeScript reader of untrusted bytes (fast-check, structure-aware): GGUF, the
 * tokenizer's own GGUF reader, APR v2, safetensors, trace JSON and the importers of other engines' dumps.
 * Each target draws either a structured input (every count, length and offset true or hostile) or a
 * mutation of a committed seed (fuzz/corpus/<target>/, real headers and dumps). The property is the
 * project's rule for bad input: the reader returns, or throws a RosettaError with one line; any other
 * exception, a message over several lines, or a case that takes over CASE_MS is a finding.
 * Run by tests/fuzz/readers.test.ts (a few hundred cases per target) and fuzz/ts/run.ts (time-boxed, with
 * coverage: npm run fuzz, npm run fuzz:long).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import fc from "fast-check";

import { loadApr } from "../../src/formats/apr.js";
import { headerCrc } from "../../src/formats/apr-crc.js";
import { writeApr } from "../../src/formats/apr-writer.js";
import { loadGguf } from "../../src/formats/gguf.js";
import { loadHf } from "../../src/formats/hf.js";
import { readAnyTrace } from "../../src/importers/index.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { parseTrace } from "../../src/trace/io.js";
import { decodeSafetensors } from "../../src/trace/safetensors.js";
import { RosettaError } from "../../src/util/errors.js";
import { ggufFile, hostileU64 } from "./gguf-gen.js";

/** A case slower than this is a finding (a hang, or work sized by a hostile count). */
export const CASE_MS = 5000;

export interface Target {
  name: string;
  /** Source files (relative to the repository root, .ts) whose coverage the runner reports. */
  sources: string[];
  input: fc.Arbitrary<Buffer>;
  /** Reads the input as the CLI would; `file` is a scratch path to write it to. */
  run(input: Buffer, file: string): Promise<unknown> | unknown;
}

/** The repository root, from this file (fuzz/ts/ under vitest, dist/fuzz/ts/ compiled). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "fuzz", "corpus"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("fuzz/corpus not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** The committed seeds of a target (fuzz/corpus/<name>/). */
export function seeds(name: string): Buffer[] {
  const dir = path.join(repoRoot(), "fuzz", "corpus", name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).sort().map((f) => readFileSync(path.join(dir, f)));
}

/** Byte-level mutations of a seed: overwrite, hostile 32/64-bit fields, cut, splice out, duplicate. */
function mutatedSeed(name: string): fc.Arbitrary<Buffer> {
  const s = seeds(name);
  if (s.length === 0) return fc.constant(Buffer.alloc(0));
  const op = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.nat(), fc.nat({ max: 255 }), hostileU64);
  return fc.tuple(fc.constantFrom(...s), fc.array(op, { minLength: 1, maxLength: 6 })).map(([seed, ops]) => {
    let b = Buffer.from(seed);
    for (const [kind, at0, byte, big] of ops) {
      if (b.length === 0) break;
      const at = at0 % b.length;
      if (kind === 0) b[at] = byte;
      else if (kind === 1 && b.length >= 8) b.writeBigUInt64LE(big, Math.min(at, b.length - 8));
      else if (kind === 2 && b.length >= 4) b.writeUInt32LE(Number(big & 0xffffffffn), Math.min(at, b.length - 4));
      else if (kind === 3) b = b.subarray(0, at);
      else b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + byte))]);
    }
    return b;
  });
}

/** A JSON document of a seed with one value replaced, deleted or duplicated (structure-aware). */
function mutatedJson(name: string): fc.Arbitrary<Buffer> {
  const docs = seeds(name).map((b) => JSON.parse(b.toString("utf8")) as unknown);
  if (docs.length === 0) return fc.constant(Buffer.from("{}"));
  const edit = fc.tuple(fc.nat(), fc.constantFrom("replace", "delete", "number"), fc.anything({ maxDepth: 2 }), fc.oneof(fc.double(), fc.constantFrom(-1, 0, 2 ** 53, 1e308, -0)));
  return fc.tuple(fc.constantFrom(...docs), fc.array(edit, { minLength: 1, maxLength: 3 })).map(([doc0, edits]) => {
    const doc = structuredClone(doc0);
    for (const [pick, how, any, num] of edits) {
      const slots: [Record<string, unknown> | unknown[], string | number][] = [];
      const walk = (v: unknown) => {
        if (Array.isArray(v)) v.forEach((x, i) => { slots.push([v, i]); walk(x); });
        else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) { slots.push([v as Record<string, unknown>, k]); walk(x); }
      };
      walk(doc);
      if (slots.length === 0) break;
      const [parent, key] = slots[pick % slots.length];
      if (how === "delete") {
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete (parent as Record<string, unknown>)[key as string];
      } else (parent as Record<string | number, unknown>)[key] = how === "number" ? num : any;
    }
    return Buffer.from(JSON.stringify(doc) ?? "null", "utf8");
  });
}

function writeCase(file: string, bytes: Buffer, sparseTo = 0): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  if (sparseTo > bytes.length) truncateSync(file, sparseTo);
}

/** GGUF inputs: structured files (sometimes extended with a hole) and mutated real headers. */
const ggufInput: fc.Arbitrary<Buffer> = fc.oneof(
  ggufFile.map((c) => (c.sparseTo ? Object.assign(c.bytes, { sparseTo: c.sparseTo }) : c.bytes)),
  // a real header cut before its data: extended with a hole of zeros, so its tensors fit again
  mutatedSeed("gguf").map((b) => Object.assign(b, { sparseTo: b.length + (2 << 20) })),
);
const sparse = (b: Buffer) => (b as Buffer & { sparseTo?: number }).sparseTo ?? 0;

/** APR v2: a valid file from the writer, then header / index fields set to hostile values, CRC mostly fixed up. */
const aprInput: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({
    tensors: fc.array(fc.record({
      name: fc.constantFrom("model.embed_tokens.weight", "lm_head.weight", "model.norm.weight", "model.layers.0.self_attn.q_proj.weight", "x"),
      dtype: fc.oneof(fc.constantFrom(0, 1, 8, 12, 14), fc.nat({ max: 255 })),
      dims: fc.array(fc.constantFrom(1, 4, 8, 32, 256), { minLength: 1, maxLength: 3 }),
    }), { maxLength: 4 }),
    meta: fc.dictionary(fc.constantFrom("architecture", "hidden_size", "num_layers", "num_heads", "vocab_size", "intermediate_size", "model_type", "tokenizer.vocabulary"), fc.jsonValue({ maxDepth: 1 })),
    edits: fc.array(fc.tuple(fc.constantFrom(8, 12, 20, 24, 32, 64, 80, 96), fc.constantFrom(4, 8), hostileU64), { maxLength: 3 }),
    fixCrc: fc.boolean(),
  }).map(({ tensors, meta, edits, fixCrc }) => {
    const seen = new Set<string>();
    const uniq = tensors.filter((t) => !seen.has(t.name) && seen.add(t.name));
    let b: Buffer;
    try {
      b = writeApr(meta, uniq.map((t) => ({ ...t, data: new Uint8Array(Math.min(4096, t.dims.reduce((a: number, d: number) => a * d, 4))) })));
    } catch {
      return Buffer.alloc(0);
    }
    for (const [at, width, v] of edits) {
      if (at + width > b.length) continue;
      if (width === 8) b.writeBigUInt64LE(v, at);
      else b.writeUInt32LE(Number(v & 0xffffffffn), at);
    }
    if (fixCrc && b.length >= 64) rewriteHeaderCrc(b);
    return b;
  }),
  // the real prefix (header, metadata, index) cut before its data: a hole of zeros holds the tensors again
  mutatedSeed("apr").map((b) => { if (b.length >= 64) rewriteHeaderCrc(b); return Object.assign(b, { sparseTo: b.length + (2 << 20) }); }),
);

/** The APR header CRC (spec §2.8), recomputed so a mutation reaches the checks behind it. */
function rewriteHeaderCrc(b: Buffer): void {
  b.writeUInt32LE(headerCrc(b.subarray(0, 64)), 40);
}

/** safetensors: a JSON header of entries with true or hostile shapes/offsets, then the data. */
const safetensorsInput: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({
    entries: fc.array(fc.record({
      name: fc.string({ maxLength: 6 }),
      dtype: fc.constantFrom("F32", "F16", "I64", "", 7),
      shape: fc.array(fc.oneof(fc.nat({ max: 8 }), fc.constantFrom(-1, 2 ** 31, 2 ** 53, 1.5, 1e300)), { maxLength: 4 }),
      offs: fc.option(fc.tuple(fc.oneof(fc.nat({ max: 256 }), fc.constantFrom(-1, 2 ** 53, 2 ** 64)), fc.oneof(fc.nat({ max: 256 }), fc.constantFrom(-1, 2 ** 53))), { freq: 3 }),
    }), { maxLength: 5 }),
    meta: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 })), { freq: 3 }),
    data: fc.uint8Array({ maxLength: 512 }),
    lenBad: fc.option(hostileU64, { freq: 6 }),
  }).map(({ entries, meta, data, lenBad }) => {
    const header: Record<string, unknown> = {};
    if (meta) header.__metadata__ = meta;
    let at = 0;
    for (const e of entries) {
      const n = Array.isArray(e.shape) ? e.shape.reduce((a, d) => a * (Number.isFinite(d) ? d : 1), 1) * 4 : 0;
      header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: e.offs ?? [at, at + n] };
      if (!e.offs) at += n;
    }
    const json = Buffer.from(JSON.stringify(header), "utf8");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(lenBad ?? BigInt(json.length));
    return Buffer.concat([len, json, Buffer.from(data)]);
  }),
  mutatedSeed("safetensors"),
);

/** A tiny llama's Hugging Face tensors (hidden 8, 2 heads, 1 kv head, ffn 16, vocab 16, 1 layer). */
const HF_TENSORS: [string, number[]][] = [
  ["model.embed_tokens.weight", [16, 8]],
  ["model.norm.weight", [8]],
  ["lm_head.weight", [16, 8]],
  ["model.layers.0.input_layernorm.weight", [8]],
  ["model.layers.0.post_attention_layernorm.weight", [8]],
  ["model.layers.0.self_attn.q_proj.weight", [8, 8]],
  ["model.layers.0.self_attn.k_proj.weight", [4, 8]],
  ["model.layers.0.self_attn.v_proj.weight", [4, 8]],
  ["model.layers.0.self_attn.o_proj.weight", [8, 8]],
  ["model.layers.0.mlp.gate_proj.weight", [16, 8]],
  ["model.layers.0.mlp.up_proj.weight", [16, 8]],
  ["model.layers.0.mlp.down_proj.weight", [8, 16]],
];
const HF_CONFIG = {
  architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1,
  intermediate_size: 16, num_hidden_layers: 1, vocab_size: 16, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 64,
  tie_word_embeddings: false, torch_dtype: "float32",
};
const hostileNumber = fc.constantFrom(-1, 0, 1.5, 2 ** 31, 2 ** 53, 1e308, Number.NaN, "8", null);

/** null 5 times in 6. */
const rarely = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: a });

/** safetensors bytes of (name, dtype, shape) entries, data zero-filled or cut short. */
function safetensorsOf(entries: { name: string; dtype: string; shape: unknown[]; extra: number }[], cut: number | null): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let at = 0;
  for (const e of entries) {
    const n = e.shape.reduce((a: number, d) => a * (typeof d === "number" && Number.isFinite(d) ? d : 1), 1) * (e.dtype === "F32" ? 4 : 2) + e.extra;
    const size = Number.isFinite(n) && n > 0 ? Math.min(n, 1 << 20) : 0;  // a hostile shape keeps its header, not its bytes
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [at, at + size] };
    at += size;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.alloc(Math.min(at, 4 << 20));
  const all = Buffer.concat([len, json, data]);
  return cut === null ? all : all.subarray(0, cut % (all.length + 1));
}

/**
 * Hugging Face folders: a tiny llama's config.json and model.safetensors with some fields, tensors and
 * files made hostile (config numbers, dtypes, shapes, offsets, a missing or extra tensor, a shard index
 * naming files that are not there, a cut file, garbage JSON). The input is the folder serialized as
 * JSON ({file name: base64 bytes}), so a finding replays from one buffer.
 */
const hfInput: fc.Arbitrary<Buffer> = fc.record({
  config: fc.oneof(
    { weight: 4, arbitrary: fc.constant(HF_CONFIG) },
    { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...Object.keys(HF_CONFIG)), fc.oneof(hostileNumber, fc.jsonValue({ maxDepth: 1 })), { maxKeys: 2 }).map((edits) => ({ ...HF_CONFIG, ...edits })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  ),
  tensors: fc.array(fc.record({
    pick: fc.nat({ max: HF_TENSORS.length - 1 }),
    how: fc.constantFrom("keep", "keep", "keep", "drop", "dtype", "shape", "rename", "extra-bytes", "dup"),
    dtype: fc.constantFrom("F16", "BF16", "I64", "F64", "U8", ""),
    shape: fc.array(fc.oneof(fc.nat({ max: 20 }), hostileNumber), { maxLength: 3 }),
    name: fc.string({ maxLength: 8 }),
  }), { maxLength: 4 }),
  // (each hostile part rarely, so that most folders get past the first check and deeper code runs)
  cut: rarely(fc.nat()),
  index: rarely(fc.record({ weight_map: fc.dictionary(fc.constantFrom(...HF_TENSORS.map((t) => t[0])), fc.constantFrom("model.safetensors", "model-00002-of-00002.safetensors", "../x.safetensors", "")) })),
  tokenizer: fc.oneof(
    fc.constant(null),
    // a sentencepiece-style BPE (byte fallback, Metaspace) as transformers writes it, its vocabulary,
    // merges, model type and special tokens edited
    fc.record({
      vocab: fc.dictionary(fc.constantFrom("a", "b", "▁ab", "<0x41>", "<unk>", "</s>", ""), fc.oneof(fc.nat({ max: 20 }), hostileNumber), { maxKeys: 3 }),
      merges: fc.array(fc.constantFrom("▁ a", "▁ b", "a b", "x y z", "", "▁a b"), { maxLength: 3 }),
      type: fc.constantFrom("BPE", "BPE", "BPE", "Unigram", "WordPiece", 3),
      added: fc.array(fc.record({ id: fc.oneof(fc.nat({ max: 20 }), hostileNumber), content: fc.constantFrom("<s>", "</s>", "", "a"), special: fc.boolean() }), { maxLength: 2 }),
    }).map(({ vocab, merges, type, added }) => ({
      model: { type, byte_fallback: true, vocab: { "<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, a: 4, b: 5, "▁a": 6, "▁b": 7, "<0x20>": 8, ...vocab }, merges: ["▁ a", "▁ b", ...merges] },
      added_tokens: [{ id: 1, content: "<s>", special: true }, ...added],
      pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "first" },
    })),
    fc.jsonValue({ maxDepth: 2 }),
  ),
}).map(({ config, tensors, cut, index, tokenizer }) => {
  const entries = HF_TENSORS.map(([name, shape]) => ({ name, dtype: "F32", shape: shape as unknown[], extra: 0 }));
  for (const t of tensors) {
    const e = entries[t.pick % entries.length];
    if (!e) continue;
    if (t.how === "drop") entries.splice(entries.indexOf(e), 1);
    else if (t.how === "dtype") e.dtype = t.dtype;
    else if (t.how === "shape") e.shape = t.shape;
    else if (t.how === "rename") e.name = t.name;
    else if (t.how === "extra-bytes") e.extra = 3;
    else if (t.how === "dup") entries.push({ ...e, name: `${e.name}.x` });
  }
  const files: Record<string, string> = {
    "config.json": Buffer.from(JSON.stringify(config) ?? "null").toString("base64"),
    "model.safetensors": safetensorsOf(entries, cut).toString("base64"),
  };
  if (index) files["model.safetensors.index.json"] = Buffer.from(JSON.stringify(index)).toString("base64");
  if (tokenizer !== null) files["tokenizer.json"] = Buffer.from(JSON.stringify(tokenizer) ?? "null").toString("base64");
  return Buffer.from(JSON.stringify(files));
});

/** Writes a serialized folder (hfInput) under `dir`; names outside a fixed set are skipped. */
function writeHfFolder(b: Buffer, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let files: Record<string, unknown>;
  try {
    files = JSON.parse(b.toString("utf8")) as Record<string, unknown>;
  } catch {
    files = {};
  }
  const allowed = new Set(["config.json", "model.safetensors", "model.safetensors.index.json", "model-00002-of-00002.safetensors", "tokenizer.json", "tokenizer_config.json"]);
  for (const [name, v] of Object.entries(files ?? {})) if (allowed.has(name) && typeof v === "string") writeFileSync(path.join(dir, name), Buffer.from(v, "base64"));
}

export const TARGETS: Target[] = [
  {
    name: "gguf",
    sources: ["src/formats/gguf.ts", "src/formats/config.ts", "src/formats/architectures.ts", "src/formats/layout.ts"],
    input: ggufInput,
    run: async (b, file) => { writeCase(file, b, sparse(b)); return loadGguf(file, { logLayout: false }); },
  },
  {
    name: "gguf-tokenizer",
    sources: ["src/tokenizer/gguf.ts", "src/tokenizer/vocab.ts", "src/tokenizer/tokenizer.ts"],
    input: ggufInput,
    run: async (b, file) => {
      writeCase(file, b, sparse(b));
      const tok = await loadTokenizer(file);
      return tok.detokenize(tok.tokenize("Once upon a time, 2+2=4"));
    },
  },
  {
    name: "apr",
    sources: ["src/formats/apr-reader.ts", "src/formats/apr.ts", "src/formats/apr-metadata.ts", "src/formats/apr-dtypes.ts"],
    input: aprInput,
    run: async (b, file) => { writeCase(file, b, sparse(b)); return loadApr(file, { logLayout: false }); },
  },
  {
    name: "safetensors",
    sources: ["src/trace/safetensors.ts"],
    input: safetensorsInput,
    run: (b) => decodeSafetensors(b, "fuzz.safetensors"),
  },
  {
    name: "hf",
    sources: ["src/formats/hf.ts", "src/formats/hf-tokenizer.ts", "src/util/safetensors-header.ts"],
    input: hfInput,
    run: async (b, file) => {
      const dir = `${file}.hf`;
      writeHfFolder(b, dir);
      const m = await loadHf(dir, { logLayout: false });
      const tok = await loadTokenizer(dir);
      return [m.tensors.length, tok.detokenize(tok.tokenize("a b ab"))];
    },
  },
  {
    name: "trace-json",
    sources: ["src/trace/io.ts"],
    input: fc.oneof(mutatedJson("trace-json"), mutatedSeed("trace-json")),
    run: (b) => parseTrace(b.toString("utf8"), "fuzz.json"),
  },
  {
    name: "importers",
    sources: ["src/importers/aprender.ts", "src/importers/transformers-debug.ts", "src/importers/llama-eval-callback.ts", "src/importers/eval-callback-trace.ts", "src/importers/index.ts"],
    input: fc.oneof(mutatedJson("importers-json"), mutatedSeed("importers-json"), mutatedSeed("importers-text")),
    run: (b, file) => { writeCase(file, b); return readAnyTrace(file); },
  },
];

/** What one case did: "ok", "rejected" (a RosettaError), or a finding (thrown, with the input attached). */
export async function runCase(t: Target, input: Buffer, file: string): Promise<"ok" | "rejected"> {
  const t0 = Date.now();
  let outcome: "ok" | "rejected" = "ok";
  try {
    await t.run(input, file);
  } catch (e) {
    if (!(e instanceof RosettaError)) throw new Error(`${t.name}: not a RosettaError: ${(e as Error)?.stack ?? String(e)}`);
    if (e.message.includes("\n")) throw new Error(`${t.name}: a message over several lines: ${e.message}`);
    outcome = "rejected";
  }
  const ms = Date.now() - t0;
  if (ms > CASE_MS) throw new Error(`${t.name}: one case took ${ms} ms (over ${CASE_MS} ms)`);
  return outcome;
}
