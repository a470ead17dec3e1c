/**
 * rosetta's own reader of GGUF tokenizer keys gives exactly the TokenizerSpec that @huggingface/gguf's full
 * metadata gives, and fails with one clear error on truncated or unsupported files.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { readGgufMetadata, readGgufTokenizerMetadata, tokenizerSpecFromGgufMetadata } from "../../src/tokenizer/gguf.js";
import { InputError, UnsupportedError } from "../../src/util/errors.js";
import { llamaSource } from "../helpers/llamaSource.js";
import { BAD_V1, HAVE_SHARED, TINYLLAMA } from "../helpers/shared.js";

const src = llamaSource(["models"]);
if (!src.dir) console.warn(`skipping GGUF tokenizer-reader comparison: ${src.reason}`);
const VOCABS = ["llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "bert-bge", "starcoder"];

describe.skipIf(!src.dir)("readGgufTokenizerMetadata", () => {
  for (const name of VOCABS) {
    it(`${name}: same TokenizerSpec as @huggingface/gguf`, async () => {
      const path = join(src.dir!, "models", `ggml-vocab-${name}.gguf`);
      const ours = tokenizerSpecFromGgufMetadata(readGgufTokenizerMetadata(path));
      expect(ours).toEqual(tokenizerSpecFromGgufMetadata(await readGgufMetadata(path)));
      expect(ours.tokens.length).toBeGreaterThan(1000);
    });
  }

  it("a truncated file is one InputError", () => {
    const bytes = readFileSync(join(src.dir!, "models", "ggml-vocab-gpt-2.gguf"));
    const dir = mkdtempSync(join(os.tmpdir(), "rosetta-gguftok-"));
    for (const cut of [3, 20, 100, 5000, Math.floor(bytes.length / 2)]) {
      const p = join(dir, `cut${cut}.gguf`);
      writeFileSync(p, bytes.subarray(0, cut));
      expect(() => readGgufTokenizerMetadata(p)).toThrow(InputError);
    }
    expect(() => readGgufTokenizerMetadata(join(dir, "missing.gguf"))).toThrow(/cannot open/);
  });
});

describe.skipIf(!HAVE_SHARED)("readGgufTokenizerMetadata on ../shared/models", () => {
  it("TinyLlama: same TokenizerSpec as @huggingface/gguf", async () => {
    const ours = tokenizerSpecFromGgufMetadata(readGgufTokenizerMetadata(TINYLLAMA));
    expect(ours).toEqual(tokenizerSpecFromGgufMetadata(await readGgufMetadata(TINYLLAMA)));
  });
  it("GGUF v1 is unsupported", () => {
    expect(() => readGgufTokenizerMetadata(BAD_V1)).toThrow(UnsupportedError);
    expect(() => readGgufTokenizerMetadata(BAD_V1)).toThrow(/GGUF v1 is not supported/);
  });
});
