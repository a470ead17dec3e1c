/**
 * The arbiter (src/compare/arbiter.ts) on hand-made traces: a third trace judges A and B point by point.
 * Oracle: the traces are built so that the answer is known (the arbiter equals B exactly; A is perturbed
 * from one point on, or by a small amount everywhere), independent of the comparator's code.
 */
import { describe, expect, it } from "vitest";

import { diffMetrics } from "../../src/bindings/kernels.js";
import { arbitrate, closerOf } from "../../src/compare/arbiter.js";
import { compareTraces, type CompareSide } from "../../src/compare/compare.js";
import { renderHtml } from "../../src/compare/report/html.js";
import { renderJson } from "../../src/compare/report/json.js";
import { renderText } from "../../src/compare/report/text.js";
import { accessor, clone, makeTrace, perturb, type MadeTrace } from "./make-trace.js";

const side = (m: MadeTrace, source: string): CompareSide => ({ trace: m.trace, source, tensor: accessor(m) });

describe("arbiter", () => {
  it("closerOf: the smaller NMSE, tie when equal, null without both", () => {
    expect(closerOf(1e-3, 1e-9)).toBe("B");
    expect(closerOf(0, 1e-12)).toBe("A");
    expect(closerOf(0, 0)).toBe("tie");
    expect(closerOf(null, 1)).toBeNull();
    expect(closerOf(NaN, 1)).toBeNull();
  });

  it("A perturbed from blk.1.ffn_gate on, the arbiter equal to B: A leaves it there, B closer from there on, tie before", async () => {
    const b = makeTrace({ engine: "b", seed: 7 });
    const a = clone(b);
    a.trace.engine.name = "a";
    perturb(a, "blk.1.ffn_gate", 0, (v) => v * 1.5);
    const c = clone(b);
    c.trace.engine.name = "arbiter-engine";
    const ab = await compareTraces(side(a, "A"), side(b, "B"), { diff: diffMetrics });
    const x = await arbitrate(ab, side(a, "A"), side(b, "B"), side(c, "C"), { diff: diffMetrics });
    expect(x.engine).toBe("arbiter-engine");
    expect(x.firstDivergenceA?.key).toBe("blk.1.ffn_gate");
    expect(x.firstDivergenceB).toBeNull();
    const at = (k: string) => x.points.find((p) => p.key === k)!;
    expect(at("blk.0.l_out").closer).toBe("tie");
    expect(at("blk.1.ffn_gate").closer).toBe("B");
    expect(at("blk.1.ffn_gate").nmseB).toBe(0);
    expect(at("blk.1.ffn_gate").nmseA).toBeCloseTo(0.25, 6); // (1.5x - x)^2 / x^2
    expect(at("logits").closer).toBe("B");
    expect(x.points).toHaveLength(ab.points.length);
    expect(x.counts.A).toBe(0);
    expect(x.counts.B + x.counts.tie).toBe(ab.points.length);
    expect(x.verdict).toMatch(/B agrees with the arbiter everywhere; A leaves it at blk\.1\.ffn_gate/);
    // the reports carry it: text section with the first point off the arbiter, JSON field
    const text = renderText({ ...ab, arbiter: x });
    expect(text).toMatch(/=== Arbiter ===  C \(arbiter-engine, exact numerics\): closer to it A at 0 point\(s\), B at \d+, tie \d+, not comparable 0/);
    expect(text).toMatch(/blk\.1\.ffn_gate +0\.25\S* \(diverged\) +0 \(match\) +B/);
    expect(JSON.parse(renderJson({ ...ab, arbiter: x })).arbiter.firstDivergenceA.key).toBe("blk.1.ffn_gate");
    const html = renderHtml({ ...ab, arbiter: x });
    expect(html).toContain("arbiter-table");
    expect(html).toContain("A leaves it at blk.1.ffn_gate");
  });

  it("an arbiter trace of other tokens compares nowhere, and the verdict says why", async () => {
    const b = makeTrace({ seed: 5 });
    const c = makeTrace({ seed: 5, tokens: [1, 2, 3, 4] });
    const ab = await compareTraces(side(b, "A"), side(b, "B"), { diff: diffMetrics });
    const x = await arbitrate(ab, side(b, "A"), side(b, "B"), side(c, "C"), { diff: diffMetrics });
    expect(x.counts.none).toBe(ab.points.length);
    expect(x.inputDiffers).toBe("it ran tokens [1, 2, 3, 4], the sides [1, 15, 43, 7]");
    expect(x.verdict).toMatch(/comparable at no point .*nothing to judge/);
  });

  it("both sides off the arbiter by different amounts: per point the smaller error is closer", async () => {
    const c = makeTrace({ engine: "c", seed: 3 });
    const a = clone(c), b = clone(c);
    for (const p of a.trace.points) perturb(a, p.key, p.step, (v, i) => v + (i % 2 ? 1e-4 : -1e-4), { inherit: false });
    for (const p of b.trace.points) perturb(b, p.key, p.step, (v, i) => v + (i % 2 ? 1e-2 : -1e-2), { inherit: false });
    const ab = await compareTraces(side(a, "A"), side(b, "B"), { diff: diffMetrics });
    const x = await arbitrate(ab, side(a, "A"), side(b, "B"), side(c, "C"), { diff: diffMetrics });
    expect(x.counts.A).toBe(ab.points.length);
    expect(x.points.every((p) => p.closer === "A" && p.basis === "tensor")).toBe(true);
  });
});
