/**
 * rosetta against real llama.cpp: `rosetta model.gguf model.gguf --engine-b llama.cpp --assert-match` on the
 * fixtures, in rosetta's default (ggml) numerics, prompt + 2 decode steps. Asserted on llama, qwen2 and qwen3:
 * F32, Q8_0, Q4_K_M and the types made bit-exact in 1825c06 (Q5_K, Q4_1, Q5_1, Q3_K, Q2_K, BF16), all measured
 * bit-identical to llama.cpp by bench/measure-bands.ts (NMSE 0 at every point, 2026-11-22): the test holds them
 * to 1e-9 (the engine:quant-ggml band). Skips without the llama.cpp libraries.
 */
import { describe, expect, it } from "vitest";

import { exitCodeOf } from "../../src/cli/commands/CompareCommand.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { worstNmse } from "../../src/compare/metrics.js";
import { ARCHS, getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";

const bridge = tryBridge("default");
const PROMPT = "Once upon a time there was a little girl named Lily";

describe.skipIf(!bridge)("rosetta (ggml) vs llama.cpp on the fixtures", () => {
  for (const type of ["F32", "Q8_0", "Q4_K_M", "Q5_K", "Q4_1", "Q5_1", "Q3_K", "Q2_K", "BF16"]) {
    it(`${type}: every point matches on llama, qwen2, qwen3 (exit 0 under --assert-match)`, async () => {
      for (const arch of ARCHS) {
        const file = await getFixture(arch, type);
        const r = await runComparison({ a: { path: file }, b: { path: file, engine: "llama.cpp" }, prompt: PROMPT, gen: 2 });
        const compared = r.points.filter((p) => p.all !== null);
        const worst = Math.max(...compared.map((p) => worstNmse(p.all, p.last) ?? Infinity));
        expect(compared.length, arch).toBeGreaterThan(40);
        expect(r.a.tokens, arch).toEqual(r.b.tokens);
        expect(r.a.generated, arch).toEqual(r.b.generated);
        expect(r.counts["sample-mismatch"] + r.counts.diverged + r.counts.nonfinite, `${arch}: ${r.diagnosis?.evidence.join("; ")}`).toBe(0);
        expect(r.verdict, arch).toBe("MATCH");
        expect(exitCodeOf(r, true), arch).toBe(0);
        expect(r.b.engine).toBe("llama.cpp");
        // the llama.cpp side also ran untraced: tracing did not change its logits (docs/conditions.md)
        expect((r.b.settings.tracing as { equal: boolean }).equal, arch).toBe(true);
        expect(r.notes?.some((n) => /traced logits equal the untraced run's \(bit-identical/.test(n))).toBe(true);
        expect(worst, arch).toBeLessThanOrEqual(1e-9);
        expect(r.band?.id, arch).toBe(type === "F32" || type === "BF16" ? "engine:float" : "engine:quant-ggml");
      }
    });
  }

  it("a defect is still caught against llama.cpp (diagnosed from the weights side's trace)", async () => {
    const file = await getFixture("llama", "F32");
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const { readGgufIr, irToGguf } = await import("../../src/convert/ir.js");
    const { injectDefect, parseDefect } = await import("../../src/convert/defects.js");
    const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-cmp-llama-"));
    try {
      const ir = await readGgufIr(file);
      injectDefect(ir, parseDefect("swap-gate-up@1"), "gguf");
      const bad = path.join(dir, "bad.gguf");
      writeFileSync(bad, irToGguf(ir));
      const r = await runComparison({ a: { path: bad }, b: { path: file, engine: "llama.cpp" }, prompt: PROMPT });
      expect(r.verdict).toBe("DIVERGED");
      expect(r.firstDivergence?.key).toBe("blk.1.ffn_gate");
      expect(exitCodeOf(r, true)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
