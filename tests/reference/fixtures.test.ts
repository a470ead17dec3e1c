/**
 * The synthetic fixtures: every arch x type is generated (or served from the cache), loads in llama.cpp
 * with the expected file type, and the tokenizers work (llama_tokenize round trip).
 */
import { describe, expect, it } from "vitest";

import { generateAll } from "../fixtures/generate.js";
import { getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";

const bridge = tryBridge("default");

describe.skipIf(!bridge)("synthetic GGUF fixtures", () => {
  it("all archs x types generate and load", async () => {
    const t0 = performance.now();
    const all = await generateAll();
    process.stderr.write(`[fixtures] ${all.length} fixtures ready in ${(performance.now() - t0).toFixed(0)} ms\n`);
    for (const f of all) {
      const r = await bridge!.run({ model: f.file, tokens: [1, 2, 3], points: false });
      expect(r.model.arch).toBe(f.arch);
      expect(r.model.nVocab).toBe(512);
      // llama.cpp's names: "all F32", "F16", "Q8_0", "Q4_K - Medium", "Q3_K - Small"...
      const want = f.type === "F32" ? "all F32" : f.type.slice(0, 4);
      expect(r.model.ftype.startsWith(want), `${f.arch} ${f.type}: ${r.model.ftype}`).toBe(true);
      expect(r.logits.every(Number.isFinite)).toBe(true);
    }
  }, 120_000);
  it("tokenizers: SPM (llama, BOS, byte fallback) and byte-level BPE (qwen, no BOS) round trip", async () => {
    const text = "Once upon a time, Lily played with Zoë!";
    const llama = await getFixture("llama", "F32");
    const ids = bridge!.tokenize(llama, text, true, false);
    expect(ids[0]).toBe(1);
    expect(ids.length).toBeLessThan(text.length);
    // SPM adds a word-boundary space before the first piece; llama.cpp keeps it when detokenizing.
    expect(bridge!.detokenize(llama, ids, true).trimStart()).toBe(text);
    const qwen = await getFixture("qwen2", "F32");
    const q = bridge!.tokenize(qwen, text, true, false);
    expect(q[0]).not.toBe(509);
    expect(bridge!.detokenize(qwen, q)).toBe(text);
  });
});
