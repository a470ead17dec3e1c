/**
 * GGUF -> APR -> load gives the same tensors: every role's dequantized values bit identical to the
 * GGUF's (stories260K: F32 verbatim; TinyLLama Q4_0: the F32 fallback), names/dims per aprender's
 * conventions, and the same model config.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { loadApr } from "../../src/formats/apr.js";
import { loadGguf } from "../../src/formats/gguf.js";
import { convertGgufToApr } from "../../src/convert/to-apr.js";
import { values } from "./values.js";
import { HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-apr-"));

async function roundTrip(src: string, name: string) {
  const out = path.join(dir, name);
  writeFileSync(out, await convertGgufToApr(src));
  return { g: await loadGguf(src, { logLayout: false }), a: await loadApr(out, { logLayout: false }) };
}

describe.skipIf(!HAVE_SHARED)("GGUF -> APR -> load", () => {
  for (const [src, name] of [[STORIES, "stories.apr"], [TINYLLAMA, "tinyllama.apr"]] as const) {
    it(`${path.basename(src)}: same config, every role bit identical`, async () => {
      const { g, a } = await roundTrip(src, name);
      expect(a.config).toEqual(g.config);
      expect([...a.byRole.keys()].sort()).toEqual([...g.byRole.keys()].sort());
      for (const [key, gv] of g.byRole) {
        const av = a.byRole.get(key)!;
        expect(av.dims, key).toEqual(gv.dims);
        expect(av.name, key).toBe(gv.name); // llama keeps GGUF names
        const x = values(g, gv);
        const y = values(a, av);
        expect(Buffer.from(y.buffer).equals(Buffer.from(x.buffer)), key).toBe(true);
      }
      expect(a.layout.every((c) => c.verdict === "OK" || c.verdict === "UNUSED")).toBe(true);
      expect(a.metadata["tokenizer.vocabulary"]).toEqual(g.metadata["tokenizer.ggml.tokens"]);
      expect(a.metadata["tokenizer.bos_token_id"]).toBe(1);
    });
  }
});
