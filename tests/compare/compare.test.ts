/**
 * The comparator on hand-made traces, summaries only (no native code): alignment, sample mismatch,
 * first divergence, NaN, tokenizer mismatch, precision band, KV-cache drift, and a trace written by
 * another engine in the documented format.
 */
import { diffMetrics } from "../../src/bindings/kernels.js";
import { describe, expect, it } from "vitest";

import { alignPoints } from "../../src/compare/align.js";
import { compareTraces, type CompareSide } from "../../src/compare/compare.js";
import { summaryMetrics } from "../../src/compare/metrics.js";
import { parseTrace, serializeTrace } from "../../src/trace/io.js";
import { rng } from "../helpers/rng.js";
import { clone, makeTrace, perturb, summarize, type MadeTrace } from "./make-trace.js";

const side = (m: MadeTrace, source = "x.trace.json"): CompareSide => ({ trace: m.trace, source });

describe("summary metrics", () => {
  it("are sound bounds: never above the true NMSE / max abs diff", () => {
    const r = rng(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(r() * 300);
      const a = new Float32Array(n).map(() => r() * 4 - 2);
      const scale = r() * 2;
      const b = new Float32Array(n).map((_, i) => a[i] * (1 + (r() - 0.5) * scale) + (r() - 0.5) * scale);
      let err = 0, ref = 0, maxAbs = 0, meanAbs = 0;
      for (let i = 0; i < n; i++) {
        err += (a[i] - b[i]) ** 2;
        ref += b[i] ** 2;
        maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
        meanAbs += Math.abs(a[i] - b[i]) / n;
      }
      const m = summaryMetrics(summarize(a), summarize(b));
      expect(m.basis).toBe("summary");
      expect(m.nmse!).toBeLessThanOrEqual((err / ref) * (1 + 1e-6) + 1e-12);
      expect(m.maxAbs!).toBeLessThanOrEqual(maxAbs * (1 + 1e-6) + 1e-9);
      expect(m.meanAbs!).toBeLessThanOrEqual(meanAbs * (1 + 1e-6) + 1e-9);
      expect(m.cosine).toBeNull();
    }
  });

  it("cannot be computed over NaN/Inf (null, not a pass)", () => {
    const a = new Float32Array([1, NaN, 2]);
    const m = summaryMetrics(summarize(a), summarize(new Float32Array([1, 2, 3])));
    expect(m.nmse).toBeNull();
    expect(m.nonfiniteA).toBe(1);
  });
});

describe("alignment", () => {
  it("orders points by canonical forward order, not by file order", () => {
    const a = makeTrace({ nLayer: 2 });
    const b = clone(a);
    b.trace.points.reverse();
    const pairs = alignPoints(a.trace, b.trace);
    expect(pairs[0].key).toBe("embd");
    expect(pairs[1].key).toBe("blk.0.attn_norm");
    expect(pairs.at(-1)!.key).toBe("logits");
    expect(pairs.every((p) => p.a && p.b)).toBe(true);
  });
});

describe("compareTraces on summaries", () => {
  it("an identical pair agrees in summaries at every point: not verified, never counted as a match", async () => {
    const a = makeTrace();
    const r = await compareTraces(side(a), side(clone(a)));
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]);
    expect(r.counts.match).toBe(0);
    expect(r.counts["summary-agree"]).toBe(r.points.length);
    expect(r.points[0].note).toMatch(/not verified: no full tensors/);
    expect(r.firstDivergence).toBeNull();
    expect(r.diagnosis).toBeNull();
    expect(r.points[0].all!.basis).toBe("summary");
  });

  it("finds the first divergence in forward order and calls it unexplained without weights", async () => {
    const a = makeTrace();
    const b = clone(a);
    perturb(b, "blk.1.ffn_up", 0, (v) => v * 3);
    const r = await compareTraces(side(a), side(b));
    expect(r.verdict).toBe("DIVERGED");
    expect(r.firstDivergence!.key).toBe("blk.1.ffn_up");
    expect(r.points.filter((p) => p.layer === 0).every((p) => p.status === "summary-agree")).toBe(true);
    expect(r.diagnosis!.id).toBe("unexplained-divergence");
    expect(r.diagnosis!.where).toBe("blk.1.ffn_up");
  });

  it("tiny noise (NMSE ~1e-8) passes between two engines (band regime)", async () => {
    const a = makeTrace();
    const b = clone(a);
    b.trace.engine.name = "another-engine";
    const r0 = rng(3);
    perturb(b, "embd", 0, (v) => v + (r0() - 0.5) * 1e-4);
    const r = await compareTraces(side(a), side(b));
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]); // passes in summaries only
    expect(r.counts.diverged).toBe(0);
    expect(r.regime?.id).toBe("band"); // engine:float between two engines
  });

  it("the same tiny noise between two runs of one engine on one weight type is a divergence (exact regime)", async () => {
    const a = makeTrace();
    const b = clone(a);
    const r0 = rng(3);
    perturb(b, "embd", 0, (v) => v + (r0() - 0.5) * 1e-4);
    const r = await compareTraces(side(a), side(b), { diff: diffMetrics });
    expect(r.regime?.id).toBe("exact");
    expect(r.verdict).toBe("DIVERGED");
    expect(r.firstDivergence?.key).toBe("embd");
    expect(r.firstDivergence?.gate.expected).toBe("zero");
  });

  it("a NaN anywhere is a divergence, never a pass", async () => {
    const a = makeTrace();
    const b = clone(a);
    perturb(b, "blk.2.attn_out", 0, (v, i) => (i === 5 ? NaN : v), { inherit: false });
    const r = await compareTraces(side(a), side(b));
    expect(r.verdict).toBe("DIVERGED");
    expect(r.firstDivergence!.key).toBe("blk.2.attn_out");
    expect(r.firstDivergence!.status).toBe("nonfinite");
    expect(r.diagnosis!.id).toBe("nonfinite");
  });

  it("different token ids for the same prompt: tokenizer mismatch with both id lists, nothing compared", async () => {
    const a = makeTrace();
    const b = makeTrace({ tokens: [1, 15, 44, 7] });
    const r = await compareTraces(side(a), side(b));
    expect(r.verdict).toBe("INCOMPARABLE");
    expect(r.counts["sample-mismatch"]).toBe(r.points.length);
    expect(r.diagnosis!.id).toBe("tokenizer-mismatch");
    expect(r.diagnosis!.evidence.join("\n")).toContain("[1, 15, 44, 7]");
    expect(r.diagnosis!.evidence.join("\n")).toContain("[1, 15, 43, 7]");
  });

  it("summaries over different samples are never compared (sample mismatch, not a pass or divergence)", async () => {
    const a = makeTrace();
    const b = clone(a);
    const p = b.trace.points.find((x) => x.key === "blk.0.attn_norm")!;
    p.last = { ...p.all }; // B summarised all tokens where A summarised the last one
    const r = await compareTraces(side(a), side(b));
    const pr = r.points.find((x) => x.key === "blk.0.attn_norm")!;
    expect(pr.status).toBe("sample-mismatch");
    expect(pr.all).toBeNull();
    expect(r.verdict).toBe("INCOMPARABLE");
    expect(r.findings.some((f) => f.id === "sample-mismatch")).toBe(true);
  });

  it("F32 vs Q8_0 from summaries: inside the band is summary agreement (not verified), not drift", async () => {
    const a = makeTrace({ fileType: "F32" });
    const b = clone(a);
    b.trace.model.fileType = "Q8_0";
    perturb(b, "embd", 0, (v) => v * 1.05); // NMSE ~ 2.3e-3 everywhere after: above 1e-3, inside Q8_0's band
    const r = await compareTraces(side(a), side(b));
    expect(r.band!.id).toBe("quant:Q8_0");
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]);
    expect(r.counts.drift).toBe(0);
    expect(r.counts.diverged).toBe(0);
    expect(r.counts["summary-agree"]).toBe(r.points.length);
  });

  it("the same drift between two F32 runs of one engine is a divergence", async () => {
    const a = makeTrace();
    const b = clone(a);
    perturb(b, "embd", 0, (v) => v * 1.05);
    const r = await compareTraces(side(a), side(b));
    expect(r.band).toBeNull();
    expect(r.verdict).toBe("DIVERGED");
  });

  it("prompt clean, decode steps diverging more and more: KV-cache drift", async () => {
    const a = makeTrace({ steps: 3, nLayer: 2 });
    const b = clone(a);
    for (const step of [1, 2, 3]) perturb(b, "blk.0.attn", step, (v) => v * (1 + 0.2 * step), { inherit: false });
    const r = await compareTraces(side(a), side(b));
    expect(r.firstDivergence!.step).toBe(1);
    expect(r.diagnosis!.id).toBe("kv-cache-drift");
  });

  it("a trace written by another engine in the documented format compares correctly", async () => {
    const a = makeTrace({ engine: "rosetta" });
    const other = clone(a);
    // another engine: its own name and settings, points in its own order, no tensors, JSON text round trip
    other.trace.engine = { name: "my-engine", version: "0.1", settings: { kv: "f32" } };
    other.trace.points = [...other.trace.points].reverse().map(({ tensor: _t, ...p }) => p);
    const parsed = parseTrace(serializeTrace(other.trace), "other.json");
    const r = await compareTraces(side(a), { trace: parsed, source: "other.json" });
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]); // no tensors on B: summaries only
    expect(r.counts.diverged + r.counts["sample-mismatch"]).toBe(0);
    expect(r.b.engine).toBe("my-engine");
    const bad = clone(a);
    perturb(bad, "blk.2.v", 0, (v) => -v);
    bad.trace.points.reverse();
    const r2 = await compareTraces(side(a), { trace: parseTrace(serializeTrace(bad.trace)), source: "other.json" });
    expect(r2.firstDivergence!.key).toBe("blk.2.v");
  });

  it("points captured on one side only are not compared and never count as matches", async () => {
    const a = makeTrace();
    const b = clone(a);
    b.trace.points = b.trace.points.filter((p) => p.point !== "ffn_act");
    const r = await compareTraces(side(a), side(b));
    expect(r.counts["only-a"]).toBe(3);
    expect(r.points.filter((p) => p.status === "only-a").every((p) => p.all === null)).toBe(true);
    expect(r.counts.match).toBe(0);
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]);
  });
});
