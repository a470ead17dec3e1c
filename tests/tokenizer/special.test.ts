/**
 * The order in which special tokens cut the text (llama.cpp's tokenizer_st_partition: longest UTF-8 text
 * first) on a synthetic SPM vocabulary whose user-defined and control tokens overlap and contain each other,
 * against the pinned libllama. The real vocabularies' special tokens never overlap, so only this file can
 * tell a wrong order from the right one.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Tokenizer } from "../../src/tokenizer/index.js";
import { readGgufTokenizerMetadata, tokenizerSpecFromGgufMetadata } from "../../src/tokenizer/gguf.js";
import { encodeGguf, type GgufValue } from "../fixtures/lib/gguf-writer.js";
import { spmVocab } from "../fixtures/lib/vocab.js";
import { rng } from "../helpers/rng.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModule = any;
let nlc: AnyModule;
try {
  nlc = await import("node-llama-cpp");
} catch (e) {
  console.warn(`skipping special-token order test: node-llama-cpp not loadable (${(e as Error).message})`);
}

const USER_DEFINED = 4, CONTROL = 3;
// Pairs that overlap or nest, with different UTF-8 lengths (llama.cpp's order among equal lengths is
// std::sort's, unspecified); "ññññ" (8 bytes, 4 chars) vs "ñxyzw" (6 bytes, 5 chars) tells bytes from chars.
const SPECIALS: Array<[string, number]> = [
  ["<<x>>", USER_DEFINED], ["<x>", USER_DEFINED], ["abcdef", USER_DEFINED], ["efgh", USER_DEFINED],
  ["qrst", USER_DEFINED], ["stuvw", USER_DEFINED], ["zz", USER_DEFINED], ["zzz", USER_DEFINED],
  ["ññññ", USER_DEFINED], ["ñxyzw", USER_DEFINED], ["[[ctl]]", CONTROL], ["ctl]]x", CONTROL], ["好世界啊啊", CONTROL],
  ["你好世界", USER_DEFINED],
];

function vocabFile(): string {
  const kv = spmVocab();
  const tokens = (kv.find(([k]) => k === "tokenizer.ggml.tokens")![1] as { value: string[] }).value;
  const types = (kv.find(([k]) => k === "tokenizer.ggml.token_type")![1] as { value: number[] }).value;
  const scores = (kv.find(([k]) => k === "tokenizer.ggml.scores")![1] as { value: number[] }).value;
  for (const [text, type] of SPECIALS) {
    tokens.push(text);
    types.push(type);
    scores.push(0);
  }
  const arch: [string, GgufValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: "rosetta-special-order" }],
    ["llama.context_length", { type: "u32", value: 64 }],
    ["llama.embedding_length", { type: "u32", value: 8 }],
    ["llama.block_count", { type: "u32", value: 1 }],
    ["llama.feed_forward_length", { type: "u32", value: 8 }],
    ["llama.attention.head_count", { type: "u32", value: 1 }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-6 }],
    ["llama.vocab_size", { type: "u32", value: tokens.length }],
  ];
  const dir = mkdtempSync(join(os.tmpdir(), "rosetta-special-"));
  const path = join(dir, "vocab.gguf");
  writeFileSync(path, encodeGguf([...arch, ...kv], []));
  return path;
}

function strings(n: number): string[] {
  const r = rng(77);
  const pieces = [...SPECIALS.map(([t]) => t), "abcdefgh", "qrstuvw", "zzzzz", "ññññxyzw", "[[ctl]]x", "你好世界啊啊", " ", "\n", "Lily", "a", "<"];
  return Array.from({ length: n }, () => {
    let s = "";
    for (let i = 0, parts = 1 + Math.floor(r() * 6); i < parts; i++) {
      const p = pieces[Math.floor(r() * pieces.length)];
      const cut = Math.floor(r() * 3);
      s += r() < 0.7 ? p : cut === 0 ? p.slice(1) : p.slice(0, -1);
    }
    return s;
  });
}

describe.skipIf(!nlc)("special-token cutting order vs llama.cpp", () => {
  let llama: AnyModule;
  let model: AnyModule;
  let ours: Tokenizer;
  beforeAll(async () => {
    const path = vocabFile();
    ours = new Tokenizer(tokenizerSpecFromGgufMetadata(readGgufTokenizerMetadata(path)));
    llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: "error" });
    model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  });
  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
  });

  it("the decisive cases cut as llama.cpp does", () => {
    for (const text of ["abcdefgh", "qrstuvw", "zzzzz", "ññññxyzw", "[[ctl]]x", "你好世界啊啊", "<<x>>"]) {
      for (const parseSpecial of [true, false]) {
        expect({ text, parseSpecial, ids: ours.tokenize(text, { addSpecial: false, parseSpecial }) }).toEqual({
          text, parseSpecial, ids: Array.from(model.tokenize(text, parseSpecial)),
        });
      }
    }
  });

  it("500 strings of overlapping special-token texts give llama.cpp's ids", () => {
    const bad: Array<{ text: string; parseSpecial: boolean; ours: number[]; llama: number[] }> = [];
    for (const text of strings(500)) {
      for (const parseSpecial of [true, false]) {
        const llamaIds: number[] = Array.from(model.tokenize(text, parseSpecial));
        const got = ours.tokenize(text, { addSpecial: false, parseSpecial });
        if (JSON.stringify(got) !== JSON.stringify(llamaIds)) bad.push({ text, parseSpecial, ours: got, llama: llamaIds });
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});
