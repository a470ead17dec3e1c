/**
 * The llama.cpp reference is reproducible and unperturbed by tracing: two runs give bit-identical points
 * and logits; no callback, the canonical-point callback and an observe-every-node callback give
 * bit-identical logits; `lastLogits` keeps each decode call's last row. Also prints the timing of a full stories260K trace (16 tokens, all points, full
 * tensors).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { runLlamaCppTrace } from "../../src/reference/llamacpp.js";
import { writeTrace } from "../../src/trace/io.js";
import { getFixture } from "../fixtures/lib/index.js";
import { HAVE_SHARED, STORIES } from "../helpers/shared.js";
import { sameBits, tryBridge } from "../helpers/bridge.js";

const bridge = tryBridge("default");
const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-det-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PROMPT16 = [1, 403, 407, 261, 378, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338];

describe.skipIf(!bridge)("llama.cpp reference: determinism", () => {
  const cases: [string, () => Promise<string>][] = [
    ["llama F32 fixture", () => getFixture("llama", "F32")],
    ["qwen2 F32 fixture", () => getFixture("qwen2", "F32")],
    ["qwen3 Q8_0 fixture", () => getFixture("qwen3", "Q8_0")],
    ["llama Q4_K_M fixture", () => getFixture("llama", "Q4_K_M")],
  ];
  for (const [name, model] of cases) {
    it(`${name}: two runs are bit-identical (points, full tensors, logits, 2 gen steps)`, async () => {
      const file = await model();
      const tokens = [1, 20, 300, 41, 55, 77, 90, 402];
      const a = await bridge!.run({ model: file, tokens, gen: 2, full: ["*"] });
      const b = await bridge!.run({ model: file, tokens, gen: 2, full: ["*"] });
      expect(a.errors).toEqual([]);
      expect(a.points.length).toBe(3 * (1 + 16 * a.model.nLayer + 2));
      expect(b.points.length).toBe(a.points.length);
      for (let i = 0; i < a.points.length; i++) {
        expect(b.points[i].source).toEqual(a.points[i].source);
        expect(sameBits(a.points[i].data!, b.points[i].data!), a.points[i].source.name).toBe(true);
      }
      expect(sameBits(a.logits, b.logits)).toBe(true);
      expect(b.generated).toEqual(a.generated);
    });

    it(`${name}: tracing does not change the logits (no callback / points / every node)`, async () => {
      const file = await model();
      const tokens = [1, 33, 7, 250, 12, 99];
      const none = await bridge!.run({ model: file, tokens, gen: 1, callback: false });
      const pts = await bridge!.run({ model: file, tokens, gen: 1 });
      const all = await bridge!.run({ model: file, tokens, gen: 1, observeAll: true, full: ["*"] });
      expect(none.points.length).toBe(0);
      expect(all.dataCalls).toBeGreaterThan(pts.dataCalls);
      expect(sameBits(none.logits, pts.logits)).toBe(true);
      expect(sameBits(none.logits, all.logits)).toBe(true);
    });

    // The prompt's last row is computed by a one-row output matmul then (for f32 weights llama.cpp's
    // vec_dot instead of tinyBLAS: another order, ~1e-7 apart); the steps are one-row calls either way.
    it(`${name}: lastLogits returns each decode call's last row (bench:engine's setting)`, async () => {
      const file = await model();
      const tokens = [1, 33, 7, 250, 12, 99];
      const full = await bridge!.run({ model: file, tokens, gen: 2, callback: false });
      const last = await bridge!.run({ model: file, tokens, gen: 2, callback: false, lastLogits: true });
      const v = full.logits.length / (tokens.length + 2);
      expect(last.logits.length).toBe(3 * v);
      expect(last.generated).toEqual(full.generated);
      // prompt's last row (close), then each step's row (bit-identical)
      const a = last.logits.slice(0, v), b = full.logits.slice((tokens.length - 1) * v, tokens.length * v);
      let num = 0, den = 0;
      for (let i = 0; i < v; i++) (num += (a[i] - b[i]) ** 2), (den += b[i] ** 2);
      expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
      expect(sameBits(last.logits.slice(v), full.logits.slice(tokens.length * v))).toBe(true);
    });
  }

  it.skipIf(!HAVE_SHARED)("stories260K: 16-token trace, all points, full tensors (timing printed)", async () => {
    const t0 = performance.now();
    const { trace, tensors, raw } = await runLlamaCppTrace({ model: STORIES, tokens: PROMPT16, full: ["*"] });
    const t1 = performance.now();
    writeTrace(path.join(tmp, "stories16"), trace, tensors);
    const t2 = performance.now();
    process.stderr.write(
      `[timing] stories260K 16 tokens, ${trace.points.length} points, ${tensors.size} full tensors: ` +
        `trace ${(t1 - t0).toFixed(0)} ms (llama_decode ${raw.decodeMs.toFixed(1)} ms), write ${(t2 - t1).toFixed(0)} ms\n`,
    );
    expect(trace.points.length).toBe(1 + 16 * 5 + 2);
    expect(tensors.size).toBe(trace.points.length + 1);
  });
});
