/**
 * llama.cpp's own tokenizer test vectors (models/ggml-vocab-*.gguf with .inp/.out, the files
 * tests/test-tokenizer-0.cpp reads) must give exactly the same ids (add_special = false, parse_special = false).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { llamaSource } from "../helpers/llamaSource.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";

const src = llamaSource(["models"]);
if (!src.dir) console.warn(`skipping llama.cpp tokenizer vectors: ${src.reason}`);

// every vocabulary type rosetta implements: SPM (llama, phi-3), BPE with the llama3, qwen2, gpt2, starcoder pre-tokenizers
const VOCABS = ["llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "mpt", "starcoder", "refact"];

/** test-tokenizer-0.cpp's format: inputs separated by "\n__ggml_vocab_test__\n", one line of ids per input. */
function readVectors(base: string): Array<{ text: string; ids: number[] }> {
  const inputs = readFileSync(`${base}.inp`, "utf8").split("\n__ggml_vocab_test__\n");
  if (inputs.at(-1) === "") inputs.pop(); // like the C++ reader: a trailing separator ends the list
  const lines = readFileSync(`${base}.out`, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  expect(lines.length).toBe(inputs.length);
  return inputs.map((text, i) => {
    const o = lines[i].trim();
    return { text, ids: o === "" ? [] : o.split(" ").map(Number) };
  });
}

describe.skipIf(!src.dir)("llama.cpp tokenizer test vectors", () => {
  for (const name of VOCABS) {
    it(`${name}: every .inp string tokenizes to its .out ids`, async () => {
      const base = join(src.dir!, "models", `ggml-vocab-${name}.gguf`);
      const tok = await loadTokenizer(base);
      const vectors = readVectors(base);
      expect(vectors.length).toBeGreaterThan(30);
      const mismatches = vectors
        .map(({ text, ids }) => ({ text, expected: ids, got: tok.tokenize(text, { addSpecial: false }) }))
        .filter((m) => JSON.stringify(m.expected) !== JSON.stringify(m.got));
      expect(mismatches).toEqual([]);
    });
  }
});
