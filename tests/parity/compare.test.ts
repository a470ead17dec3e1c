import { describe, expect, it } from "vitest";

import { BAND_QUANTS, MEASURED, REORDER, bandFor, deriveBand, up125 } from "../../src/parity/bands.js";
import { comparePosition, klDivergence, klStats, logSoftmax, topK } from "../../src/parity/compare.js";
import { comparePrompt } from "../../src/parity/prompt.js";

// A band wide enough for the hand-made rows below (topDelta 0.2, near-tie gap 0.4).
const band = bandFor("Q8_0", "exact")!;

function row(values: Record<number, number>, n = 16, base = -5): Float32Array {
  const r = new Float32Array(n).fill(base);
  for (const [i, v] of Object.entries(values)) r[Number(i)] = v;
  return r;
}

describe("topK", () => {
  it("orders by logit, lower id first on equal logits", () => {
    expect(topK([1, 5, 3, 5, 2], 3)).toEqual({ ids: [1, 3, 2], logits: [5, 5, 3] });
    expect(topK([0, 0, 0], 2).ids).toEqual([0, 1]);
    expect(topK([7], 5)).toEqual({ ids: [0], logits: [7] });
  });
});

describe("KL divergence", () => {
  it("is 0 for equal rows and for a constant shift (softmax is shift-invariant)", () => {
    const a = row({ 1: 3, 2: 2 });
    expect(klDivergence(a, a)).toBe(0);
    expect(klDivergence(a, a.map((x) => x + 7))).toBeLessThan(1e-12);
  });
  it("matches the closed form for two tokens", () => {
    // p = softmax([0, ln 3]) = (1/4, 3/4); q = (1/2, 1/2): KL = 1/4 ln(1/2) + 3/4 ln(3/2)
    const kl = klDivergence([0, Math.log(3)], [0, 0]);
    expect(kl).toBeCloseTo(0.25 * Math.log(0.5) + 0.75 * Math.log(1.5), 7);
    expect(logSoftmax([1000, 1000])[0]).toBeCloseTo(-Math.log(2), 12);
  });
  it("is NaN, never 0, when a logit is not finite", () => {
    expect(klDivergence([0, NaN], [0, 0])).toBeNaN();
    expect(klDivergence([0, Infinity], [0, 0])).toBeNaN();
  });
  it("stats: mean, nearest-rank p95, max; NaN poisons", () => {
    const v = Array.from({ length: 20 }, (_, i) => i);
    expect(klStats(v)).toEqual({ mean: 9.5, p95: 18, max: 19 });
    expect(klStats([1, NaN]).max).toBeNaN();
    expect(klStats([]).mean).toBeNaN();
  });
});

describe("comparePosition", () => {
  const ref = row({ 3: 10, 4: 9, 5: 8, 6: 7, 7: 6 });
  it("passes an exact match", () => {
    const p = comparePosition({ tokenIdx: 0, refToken: 3, ref, ros: ref, k: 5, band });
    expect(p).toMatchObject({ top1: "match", setEqual: true, topDelta: 0, kl: 0, reasons: [] });
  });
  it("counts a flip to rank 2 within the near-tie gap, without failing", () => {
    const ros = row({ 3: 10, 4: 10 + 2e-3, 5: 8, 6: 7, 7: 6 });
    const r2 = row({ 3: 10, 4: 10 - 1e-3, 5: 8, 6: 7, 7: 6 });
    const p = comparePosition({ tokenIdx: 1, refToken: 3, ref: r2, ros, k: 5, band });
    expect(p.top1).toBe("near-tie");
    expect(p.reasons).toEqual([]);
  });
  it("fails a flip beyond the gap, with the gap in the reason", () => {
    const ros = row({ 3: 10, 4: 10.5, 5: 8, 6: 7, 7: 6 });
    const p = comparePosition({ tokenIdx: 2, refToken: 3, ref, ros, k: 5, band });
    expect(p.top1).toBe("flip");
    expect(p.reasons.join()).toMatch(/top1 4 != 3 \(reference token at rosetta rank 2, gap 0\.5000 > near-tie 0\.4000\)/);
    expect(p.reasons.join()).toMatch(/delta 1\.500 > band/);
  });
  it("fails a flip to rank 3 even when tiny", () => {
    const ros = row({ 3: 10, 4: 10.0001, 5: 10.0002, 6: 7, 7: 6 });
    const r2 = row({ 3: 10.0003, 4: 10.0001, 5: 10.0002, 6: 7, 7: 6 });
    const p = comparePosition({ tokenIdx: 0, refToken: 3, ref: r2, ros, k: 5, band: bandFor("Q4_K_M", "exact")! });
    expect(p.top1).toBe("flip");
    expect(p.reasons[0]).toMatch(/reference token at rosetta rank 3, gap 2\.00e-4 <= near-tie/);
  });
  it("top-k sets are order-free; a different member fails unless it is a boundary near-tie", () => {
    const swapped = row({ 3: 10, 4: 9, 5: 8, 6: 6, 7: 7 });
    expect(comparePosition({ tokenIdx: 0, refToken: 3, ref, ros: swapped, k: 5, band: bandFor("Q4_K_M", "exact")! }).setEqual).toBe(true);
    const sameSet = row({ 3: 10, 4: 9, 5: 8, 6: 7 + 1e-3, 7: 7 });
    const r2 = row({ 3: 10, 4: 9, 5: 8, 6: 7, 7: 7 + 1e-3 });
    const loose = bandFor("Q4_K_M", "exact")!;
    expect(comparePosition({ tokenIdx: 0, refToken: 3, ref: r2, ros: sameSet, k: 5, band: loose }).setEqual).toBe(true);
    // id 8 enters rosetta's top-5 at the boundary, 1e-3 above id 7 (within the gap): counted, not failed
    const ros = row({ 3: 10, 4: 9, 5: 8, 6: 7, 7: 6, 8: 6.001 });
    const rr = row({ 3: 10, 4: 9, 5: 8, 6: 7, 7: 6.001, 8: 6 });
    const p = comparePosition({ tokenIdx: 0, refToken: 3, ref: rr, ros, k: 5, band: loose });
    expect(p).toMatchObject({ setEqual: false, setTie: true, reasons: [] });
    const far = row({ 3: 10, 4: 9, 5: 8, 6: 7, 7: 6, 8: 6.5 });
    expect(comparePosition({ tokenIdx: 0, refToken: 3, ref, ros: far, k: 5, band: loose }).reasons.join()).toMatch(/top5 sets differ/);
  });
  it("fails on non-finite logits and on KL over the band", () => {
    const nan = Float32Array.from(ref);
    nan[9] = NaN;
    const p = comparePosition({ tokenIdx: 0, refToken: 3, ref, ros: nan, k: 5, band });
    expect(p.reasons).toContain("non-finite logits");
    expect(p.kl).toBeNaN();
    const shifted = row({ 3: 10, 4: 9.004, 5: 8, 6: 7, 7: 6 });
    const q = comparePosition({ tokenIdx: 0, refToken: 3, ref, ros: shifted, k: 5, band: { ...band, klMax: 1e-9 } });
    expect(q.reasons.join()).toMatch(/^kl .* > band 1\.00e-9$/);
  });
  it("flags a reference whose argmax is not its generated token", () => {
    expect(comparePosition({ tokenIdx: 0, refToken: 4, ref, ros: ref, k: 5, band }).reasons.join()).toMatch(/reference argmax 3/);
  });
});

describe("comparePrompt", () => {
  it("summarizes positions; mean KL over the band fails the prompt", () => {
    const V = 16;
    const gen = [3, 4, 5];
    const refL = new Float32Array(3 * V);
    gen.forEach((g, t) => refL.set(row({ [g]: 10, 8: 9, 9: 8, 10: 7, 11: 6 }), t * V));
    const rosL = refL.map((x) => x + 1e-4);
    const meta = { model: "m", quant: "Q8_0", numerics: "ggml" as const, isa: "avx2", promptIdx: 0, promptId: "x", bucket: "code", k: 5, band };
    const r = comparePrompt({ ref: refL, ros: rosL, vocab: V, promptLen: 4, generated: gen }, meta);
    expect(r).toMatchObject({ positions: 3, top1Match: 3, failures: 0, passed: true, promptTokens: 4, genTokens: 3 });
    expect(r.maxTopDelta).toBeCloseTo(1e-4, 6);
    const missing = comparePrompt({ ref: refL, ros: rosL.subarray(0, V), vocab: V, promptLen: 4, generated: gen }, meta);
    expect(missing.passed).toBe(false);
    expect(missing.promptErrors.join()).toMatch(/logit rows missing/);
  });
});

describe("bands", () => {
  it("are looser for coarser quantization in each mode: Q4_K_M > Q8_0 > F16 >= F32, every figure", () => {
    for (const mode of ["ggml", "exact"] as const) {
      const [f32, f16, q8, q4] = ["F32", "F16", "Q8_0", "Q4_K_M"].map((q) => bandFor(q, mode)!);
      for (const k of ["topDelta", "klMax", "klMean"] as const) {
        expect(f32[k]).toBeLessThanOrEqual(f16[k]);
        expect(f16[k]).toBeLessThan(q8[k]);
        expect(q8[k]).toBeLessThan(q4[k]);
      }
      // ggml mode reproduces llama.cpp's activation rounding, exact mode does not: ggml is tighter.
      for (const q of BAND_QUANTS) expect(bandFor(q, "ggml")!.topDelta).toBeLessThan(bandFor(q, "exact")!.topDelta);
    }
  });
  it("are measured (dated 2026, with the command) and never tighter than what was measured", () => {
    for (const q of BAND_QUANTS)
      for (const mode of ["ggml", "exact"] as const) {
        const b = bandFor(q, mode)!;
        const m = MEASURED[q][mode];
        expect(b.provisional).toBe(false);
        expect(b.basis).toMatch(/^measured 2026-11-22 \(npm run parity:measure/);
        expect(b.basis).not.toMatch(/2025/);
        expect(b.topDelta).toBeGreaterThanOrEqual(m.delta);
        expect(b.klMax).toBeGreaterThanOrEqual(m.kl);
        expect(b.klMean).toBeGreaterThanOrEqual(m.klMean);
        // ggml bands stay above one legitimate reordering of the output projection (measured).
        expect(b.topDelta).toBeGreaterThanOrEqual(10 * REORDER.delta);
        expect(b.nearTieGap).toBe(2 * b.topDelta);
      }
  });
  it("follow the documented rule", () => {
    expect([up125(0.07215 * 2), up125(2.1e-5 * 2), up125(1.91e-5), up125(1e-3), up125(2.6e-3)]).toEqual([0.2, 5e-5, 2e-5, 1e-3, 5e-3]);
    const ex = deriveBand(MEASURED.Q8_0.exact, "exact");
    expect(ex).toEqual({ delta: 0.2, kl: 1e-3, klMean: 5e-4 });
    expect(deriveBand({ delta: 0, kl: 0, klMean: 0 }, "ggml", ex)).toEqual({ delta: 2e-3, kl: 1e-7, klMean: 5e-8 });
    expect(deriveBand({ delta: 0, kl: 0, klMean: 0 }, "ggml", deriveBand(MEASURED.F32.exact, "exact")).delta).toBe(2e-5);
  });
  it("aliases: unmeasured mixes of bit-exact types share a measured band, provisional; the newly exact types are measured", () => {
    expect(bandFor("IQ2_XS", "ggml")).toBeNull();
    expect(bandFor("Q5_0", "ggml")).toMatchObject({ quant: "Q4_0", topDelta: bandFor("Q4_0", "ggml")!.topDelta, provisional: true });
    expect(bandFor("Q5_K_M", "ggml")).toMatchObject({ quant: "Q5_K_S", topDelta: bandFor("Q5_K_S", "ggml")!.topDelta, provisional: true });
    expect(bandFor("Q3_K_M", "exact")).toMatchObject({ quant: "Q3_K_S", topDelta: bandFor("Q3_K_S", "exact")!.topDelta, provisional: true });
    for (const q of ["BF16", "Q4_1", "Q5_1", "Q5_K_S", "Q3_K_S", "Q2_K"])
      for (const mode of ["ggml", "exact"] as const) expect(bandFor(q, mode), `${q} ${mode}`).toMatchObject({ quant: q, provisional: false });
  });
});
