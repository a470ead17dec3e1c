/** The tokenizer of an APR file (aprender's `tokenizer.*` keys) equals the GGUF's it was converted from. */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { convertGgufToApr } from "../../src/convert/to-apr.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";

const TEXTS = ["Once upon a time, 2+2=", "  leading spaces\n\nand newlines", "Grüße, 世界! 🙂 <s> </s>", ""];

describe.skipIf(!HAVE_SHARED)("APR tokenizer", () => {
  for (const model of [STORIES, TINYLLAMA]) {
    it(`${path.basename(model)} -> APR tokenizes and decodes like the GGUF`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-aprtok-"));
      const apr = path.join(dir, "m.apr");
      writeFileSync(apr, await convertGgufToApr(model));
      const [a, g] = [await loadTokenizer(apr), await loadTokenizer(model)];
      for (const t of TEXTS) {
        const ids = g.tokenize(t);
        expect(a.tokenize(t)).toEqual(ids);
        expect(a.detokenize(ids)).toEqual(g.detokenize(ids));
      }
      expect(g.tokenize("Once upon a time").length).toBeGreaterThan(3);
    });
  }
});
