/**
 * Differential test against the pinned libllama (node-llama-cpp's prebuilt binaries, the same library rosetta
 * compares against): for >= 2,000 seeded strings per vocabulary the ids equal llama_tokenize's, and
 * llama_detokenize's text equals ours (so the text round-trips exactly where llama.cpp's does).
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llamaSource } from "../helpers/llamaSource.js";
import { loadTokenizer, type Tokenizer } from "../../src/tokenizer/index.js";
import { generateSpecialStrings, generateStrings } from "./corpus.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModule = any;
let nlc: AnyModule;
try {
  nlc = await import("node-llama-cpp");
} catch (e) {
  console.warn(`skipping llama.cpp tokenizer oracle: node-llama-cpp not loadable (${(e as Error).message})`);
}
const src = nlc ? llamaSource(["models"]) : { reason: "node-llama-cpp missing" };
if (nlc && !src.dir) console.warn(`skipping llama.cpp tokenizer oracle: ${src.reason}`);

const N = 2000;
const VOCABS: Array<{ name: string; seed: number }> = [
  { name: "llama-spm", seed: 1 },
  { name: "llama-bpe", seed: 2 },
  { name: "qwen2", seed: 3 },
  { name: "gpt-2", seed: 4 },
];
const TINYLLAMA = join(process.cwd(), "../shared/models/TinyLLama-v0-Q4_0.gguf");

interface Mismatch {
  text: string;
  ours: number[];
  llama: number[];
}

function compareAll(ours: Tokenizer, model: AnyModule, texts: string[], parseSpecial: boolean) {
  const idMismatches: Mismatch[] = [];
  const textMismatches: Array<{ ids: number[]; ours: string; llama: string }> = [];
  let roundTrips = 0;
  for (const text of texts) {
    const llama: number[] = Array.from(model.tokenize(text, parseSpecial));
    const got = ours.tokenize(text, { addSpecial: false, parseSpecial });
    if (JSON.stringify(got) !== JSON.stringify(llama)) {
      idMismatches.push({ text, ours: got, llama });
      continue;
    }
    const llamaText: string = model.detokenize(llama, parseSpecial);
    const ourText = ours.detokenize(got, { unparseSpecial: parseSpecial });
    if (ourText !== llamaText) textMismatches.push({ ids: got, ours: ourText, llama: llamaText });
    if (llamaText === text) {
      roundTrips++;
      expect(ourText).toBe(text);
    }
  }
  return { idMismatches: idMismatches.slice(0, 5), nIdMismatches: idMismatches.length, textMismatches: textMismatches.slice(0, 5), roundTrips };
}

describe.skipIf(!nlc || !src.dir)("tokenizer vs llama.cpp (node-llama-cpp, pinned libllama)", () => {
  let llama: AnyModule;
  beforeAll(async () => {
    llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: "error" });
  });
  afterAll(async () => {
    await llama?.dispose();
  });

  async function check(modelPath: string, seed: number) {
    const model = await llama.loadModel({ modelPath, vocabOnly: true });
    try {
      const ours = await loadTokenizer(modelPath);
      // BOS/EOS: llama.cpp's add_bos decision, and that tokenize(addSpecial) adds exactly it
      expect(ours.vocab.addBos).toBe(model.tokens.shouldPrependBosToken);
      expect(ours.bos).toBe(model.tokens.bos ?? -1);
      const withBos = ours.tokenize("Hello world", { addSpecial: true });
      expect(withBos[0] === ours.bos).toBe(ours.vocab.addBos);

      const plain = compareAll(ours, model, generateStrings(seed, N), false);
      expect(plain.idMismatches).toEqual([]);
      expect(plain.textMismatches).toEqual([]);
      // mostly everything round-trips; the rest is where llama.cpp itself does not (e.g. SPM's leading space)
      expect(plain.roundTrips).toBeGreaterThan(N / 4);

      const specials = ours.vocab.specialTokens.slice(0, 40).map((id) => ours.vocab.tokens[id]);
      const special = compareAll(ours, model, generateStrings(seed + 100, 300, specials), true);
      expect(special.idMismatches).toEqual([]);
      expect(special.textMismatches).toEqual([]);

      // every special token of the vocabulary, cut up and overlapped: the cutting order must be llama.cpp's
      const all = ours.vocab.specialTokens.map((id) => ours.vocab.tokens[id]);
      const dense = generateSpecialStrings(seed + 200, 300, all);
      for (const parseSpecial of [true, false]) {
        const r = compareAll(ours, model, dense, parseSpecial);
        expect(r.idMismatches).toEqual([]);
        expect(r.textMismatches).toEqual([]);
      }
      return plain;
    } finally {
      await model.dispose();
    }
  }

  for (const { name, seed } of VOCABS) {
    it(`${name}: ${N} generated strings give llama.cpp's ids and text`, async () => {
      await check(join(src.dir!, "models", `ggml-vocab-${name}.gguf`), seed);
    });
  }

  it.skipIf(!existsSync(TINYLLAMA))("TinyLlama (../shared/models): generated strings give llama.cpp's ids", async () => {
    await check(TINYLLAMA, 5);
  });
});
