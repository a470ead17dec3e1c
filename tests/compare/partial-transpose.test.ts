/**
 * A tensor too large for the weight diff's working set (maxElements) is read only in part: the first
 * rows. A square tensor stored transposed must still be found transposed: A's first rows are tested
 * against B's first columns, B streamed row by row (readLeadingColumns). At 7B dims (3584 x 3584 over
 * the 8M-element default) this is what told the bench:compare pair's transposed attn_q from "weights
 * differ"; here the fixture's square attn_q and a working set of a few rows make the same case small.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { readGgufIr } from "../../src/convert/ir.js";
import { irToApr } from "../../src/convert/to-apr.js";
import { diffWeights } from "../../src/compare/weight-diff.js";
import { loadModel } from "../../src/formats/index.js";
import { getFixture } from "../fixtures/lib/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-partial-t-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("weight diff: a square tensor read only in part", () => {
  for (const base of ["F32", "Q4_K_M"] as const)
    it(`is found transposed from its first rows (${base} base, APR side stored transposed)`, async () => {
      const gguf = await getFixture("llama", base);
      const ir = await readGgufIr(gguf);
      injectDefect(ir, parseDefect("transpose:attn_q@0"), "apr");
      const apr = path.join(dir, `t-${base}.apr`);
      writeFileSync(apr, await irToApr(ir));
      const [a, b] = [await loadModel(apr, { logLayout: false }), await loadModel(gguf, { logLayout: false })];
      const cols = b.byRole.get("blk.0.attn_q")!.dims[1];
      // a working set of 3 rows: every square projection is read in part
      const d = diffWeights(a, b, { maxElements: 3 * cols });
      const q = d.tensors.find((t) => t.key === "blk.0.attn_q")!;
      expect(q.status, q.note).toBe("transposed");
      expect(q.note).toMatch(/first 3 rows against B's first 3 columns/);
      expect(q.relation).toMatchObject({ kind: "transposed" });
      // the other square projections are byte-identical, not transposed
      expect(d.tensors.find((t) => t.key === "blk.0.attn_output")!.status).not.toBe("transposed");
      // with the whole tensor in the working set the finding is the same, without the note
      const full = diffWeights(a, b).tensors.find((t) => t.key === "blk.0.attn_q")!;
      expect(full.status).toBe("transposed");
      expect(full.note).not.toMatch(/first \d+ rows/);
    });
});
