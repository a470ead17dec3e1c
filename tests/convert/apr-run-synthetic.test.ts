/**
 * GGUF -> APR -> run is bit-identical to running the GGUF (issue 5, "Must show"): the synthetic llama /
 * qwen2 / qwen3 fixtures in every type the writer passes through (F32, F16, Q4_K, Q6_K) and the
 * Q4_K_M mix (Q4_K / Q6_K bytes verbatim, F32 norms), both numerics modes: same points with the same
 * all/last summaries, same full tensors (every point, kq_softmax included), same logits and tokens.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { convertGgufToApr } from "../../src/convert/to-apr.js";
import { loadApr } from "../../src/formats/apr.js";
import { ARCHS, getFixture } from "../fixtures/lib/index.js";
import { expectSameTrace, NUMERICS, trace } from "./run-helpers.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-aprrun-"));
const TYPES = ["F32", "F16", "Q4_K", "Q6_K", "Q4_K_M"];

describe("GGUF -> APR -> run: synthetic fixtures, bit-identical traces", () => {
  for (const arch of ARCHS) {
    for (const type of TYPES) {
      it(`${arch} ${type}`, async () => {
        const gguf = await getFixture(arch, type);
        const apr = path.join(dir, `${arch}-${type}.apr`);
        writeFileSync(apr, await convertGgufToApr(gguf));
        const m = await loadApr(apr, { logLayout: false });
        // the run really is over the APR's own tensors (HF names for qwen), in the GGUF's types
        if (arch !== "llama") expect(m.byRole.get("blk.1.attn_q")!.name).toBe("model.layers.1.self_attn.q_proj.weight");
        for (const mode of NUMERICS) {
          const a = await trace(apr, mode);
          const g = await trace(gguf, mode);
          expect(a.trace.engine.settings.numerics).toBe(mode);
          expect(a.tensors.size).toBeGreaterThan(a.trace.points.length / 2);
          expectSameTrace(a, g, `${arch} ${type} ${mode}`);
        }
      });
    }
  }
});

describe("the comparison is sensitive", () => {
  it("an APR of another type, or the other numerics mode, is not bit-identical", async () => {
    const f16 = path.join(dir, "control-F16.apr");
    writeFileSync(f16, await convertGgufToApr(await getFixture("qwen2", "F16")));
    const f32 = await getFixture("qwen2", "F32");
    const a = await trace(f16, "exact");
    const b = await trace(f32, "exact");
    expect(() => expectSameTrace(a, b, "F16 APR vs F32 GGUF")).toThrow();
    const c = await trace(f16, "ggml");
    expect(() => expectSameTrace(a, c, "exact vs ggml")).toThrow();
  });
});
