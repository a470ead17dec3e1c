/**
 * Tokenizer mismatch (`rosetta A B --prompt`): each side tokenizes the prompt with its own tokenizer
 * (GGUF metadata, APR custom keys); different ids are reported with both lists and never compared as a
 * divergence; `--tokens` runs both sides on the same ids. Fixtures: the llama model (SPM vocabulary) and a
 * copy of it carrying the qwen2 fixture's GPT-2 BPE vocabulary (same 512-token size, different pieces).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { exitCodeOf } from "../../src/cli/commands/CompareCommand.js";
import { renderText } from "../../src/compare/report/text.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { irToGguf, readGgufIr } from "../../src/convert/ir.js";
import { irToApr } from "../../src/convert/to-apr.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { getFixture } from "../fixtures/lib/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-tok-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROMPT = "Once upon a time there was a little girl";
let llama = "";
let otherGguf = "";
let otherApr = "";

beforeAll(async () => {
  llama = await getFixture("llama", "F32");
  const ir = await readGgufIr(llama);
  const donor = await readGgufIr(await getFixture("qwen2", "F32"));
  for (const k of Object.keys(ir.gguf)) if (k.startsWith("tokenizer.")) delete ir.gguf[k];
  for (const [k, v] of Object.entries(donor.gguf)) if (k.startsWith("tokenizer.")) ir.gguf[k] = v;
  otherGguf = path.join(dir, "llama-bpe-vocab.gguf");
  otherApr = path.join(dir, "llama-bpe-vocab.apr");
  writeFileSync(otherGguf, irToGguf(ir));
  writeFileSync(otherApr, await irToApr(ir));
});

describe("tokenizer mismatch", () => {
  it("the two vocabularies really tokenize the prompt differently", async () => {
    const a = (await loadTokenizer(otherGguf)).tokenize(PROMPT, { addSpecial: true, parseSpecial: false });
    const b = (await loadTokenizer(llama)).tokenize(PROMPT, { addSpecial: true, parseSpecial: false });
    expect(a.join()).not.toBe(b.join());
    expect((await loadTokenizer(otherApr)).tokenize(PROMPT, { addSpecial: true, parseSpecial: false })).toEqual(a);
  });

  for (const which of ["gguf", "apr"] as const) {
    it(`--prompt: each side uses its own tokenizer (${which.toUpperCase()} vs GGUF): tokenizer-mismatch with both id lists, nothing compared`, async () => {
      const a = which === "gguf" ? otherGguf : otherApr;
      const ta = (await loadTokenizer(a)).tokenize(PROMPT, { addSpecial: true, parseSpecial: false });
      const tb = (await loadTokenizer(llama)).tokenize(PROMPT, { addSpecial: true, parseSpecial: false });
      const r = await runComparison({ a: { path: a }, b: { path: llama }, prompt: PROMPT });
      expect(r.a.tokens).toEqual(ta);
      expect(r.b.tokens).toEqual(tb);
      expect(r.diagnosis?.id).toBe("tokenizer-mismatch");
      expect(r.diagnosis?.evidence).toContain(`A token ids: [${ta.join(", ")}]`);
      expect(r.diagnosis?.evidence).toContain(`B token ids: [${tb.join(", ")}]`);
      expect(r.verdict).toBe("INCOMPARABLE");
      expect(r.counts.diverged).toBe(0);
      expect(exitCodeOf(r, true)).toBe(1);
      const text = renderText(r);
      expect(text).toContain(`Token IDs: A [${ta.join(", ")}]  B [${tb.join(", ")}]`);
      expect(text).toMatch(/NOT COMPARED: tokenizer mismatch/);
    });
  }

  it("--tokens overrides both tokenizers: the same weights then match", async () => {
    const r = await runComparison({ a: { path: otherApr }, b: { path: llama }, tokens: [1, 45, 300, 7, 99] });
    expect(r.a.tokens).toEqual([1, 45, 300, 7, 99]);
    expect(r.b.tokens).toEqual([1, 45, 300, 7, 99]);
    expect(r.verdict).toBe("MATCH");
    expect(exitCodeOf(r, true)).toBe(0);
  });
});
