/**
 * The comparator with full tensors (metrics from the native diff kernel) and the position analysis:
 * token 0 clean and later tokens wrong points at the Q/K path.
 */
import { existsSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { compareTraces, type CompareSide } from "../../src/compare/compare.js";
import { addonPath } from "../../src/bindings/kernels-addon.js";
import { accessor, clone, makeTrace, perturb, type MadeTrace } from "./make-trace.js";

const HAVE_ADDON = existsSync(addonPath());
if (!HAVE_ADDON) process.stderr.write(`[tests] ${addonPath()} is absent: full-tensor comparator tests skipped (npm run build:native)\n`);

const side = (m: MadeTrace): CompareSide => ({ trace: m.trace, source: "t.json", tensor: accessor(m) });

describe.skipIf(!HAVE_ADDON)("compareTraces with full tensors", async () => {
  const { diffMetrics } = await import("../../src/bindings/kernels.js");

  it("computes exact metrics (cosine included) from both tensors", async () => {
    const a = makeTrace();
    const b = clone(a);
    perturb(b, "blk.1.ffn_out", 0, (v) => v * 1.1, { inherit: false });
    const r = await compareTraces(side(a), side(b), { diff: diffMetrics });
    const p = r.points.find((x) => x.key === "blk.1.ffn_out")!;
    expect(p.all!.basis).toBe("tensor");
    const ta = a.tensors.get("blk.1.ffn_out@0")!;
    const tb = b.tensors.get("blk.1.ffn_out@0")!;
    let err = 0, ref = 0;
    for (let i = 0; i < ta.length; i++) {
      err += (ta[i] - tb[i]) ** 2;
      ref += ta[i] ** 2;
    }
    // B is the reference: sum (a-b)^2 / sum b^2
    expect(p.all!.nmse!).toBeCloseTo(err / (ref * 1.21), 8);
    expect(p.all!.cosine!).toBeCloseTo(1, 6);
    expect(p.perToken).toHaveLength(4);
    expect(r.firstDivergence!.key).toBe("blk.1.ffn_out");
  });

  it("Q/K rows permuted: q and k differ, attention clean at token 0 -> Q/K RoPE permutation", async () => {
    const a = makeTrace();
    const b = clone(a);
    for (const k of ["blk.0.q", "blk.0.k", "blk.0.q_rope", "blk.0.k_rope"]) perturb(b, k, 0, (v, i) => (i % 2 ? -v : v * 0.5), { inherit: false });
    perturb(b, "blk.0.attn", 0, (v) => v * 2 + 1, { fromToken: 1 });
    const r = await compareTraces(side(a), side(b), { diff: diffMetrics });
    expect(r.firstDivergence!.key).toBe("blk.0.q");
    expect(r.diagnosis!.id).toBe("qk-rope-permutation");
    expect(r.diagnosis!.evidence.join(" ")).toMatch(/token 0 NMSE/);
  });

  it("q and k equal, rotated values differ from token 1 on -> RoPE layout mismatch", async () => {
    const a = makeTrace();
    const b = clone(a);
    for (const k of ["blk.0.q_rope", "blk.0.k_rope"]) perturb(b, k, 0, (v) => -v, { inherit: false, fromToken: 1 });
    perturb(b, "blk.0.attn", 0, (v) => v * 2 + 1, { fromToken: 1 });
    const r = await compareTraces(side(a), side(b), { diff: diffMetrics });
    expect(r.firstDivergence!.key).toBe("blk.0.q_rope");
    expect(r.diagnosis!.id).toBe("rope-layout-mismatch");
  });

  it("a core-layer bug shows at token 0 too: not called a Q/K-path bug", async () => {
    const a = makeTrace();
    const b = clone(a);
    perturb(b, "blk.0.v", 0, (v) => v * 3 + 1);
    const r = await compareTraces(side(a), side(b), { diff: diffMetrics });
    expect(r.firstDivergence!.key).toBe("blk.0.v");
    expect(r.diagnosis!.id).toBe("unexplained-divergence");
  });

  it("layer isolation evidence tells a wrong layer from inherited drift", async () => {
    const a = makeTrace();
    const b = clone(a);
    b.trace.engine.name = "another-engine"; // two engines: the threshold regime (in the exact regime any isolated difference is wrong)
    perturb(b, "blk.1.attn_norm", 0, (v) => v * 1.2);
    const wrong = await compareTraces(side(a), side(b), { diff: diffMetrics, isolate: async (layer) => ({ layer, nmse: 0.3, propagatedNmse: 0.04 }) });
    expect(wrong.diagnosis!.evidence.join(" ")).toMatch(/the layer itself is wrong/);
    // the input of layer 1 (layer 0's output) matched bit for bit: nothing can be inherited
    const clean = await compareTraces(side(a), side(b), { diff: diffMetrics, isolate: async (layer) => ({ layer, nmse: 1e-7, propagatedNmse: 0.04 }) });
    expect(clean.diagnosis!.evidence.join(" ")).not.toMatch(/inherited/);
    // layer 0's output drifted (within the gate): layer 1 fine on the same input is inherited drift
    perturb(b, "blk.0.l_out", 0, (v) => v * 1.0001, { inherit: false });
    const inherited = await compareTraces(side(a), side(b), { diff: diffMetrics, isolate: async (layer) => ({ layer, nmse: 1e-7, propagatedNmse: 0.04 }) });
    expect(inherited.diagnosis!.evidence.join(" ")).toMatch(/inherited from earlier layers/);
  });
});
