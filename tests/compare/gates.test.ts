/**
 * What passes, and how it is reported: an explicit --threshold is the bound (a precision band never loosens it;
 * without it the band applies), points compared from summaries only are "not verified" (never a match, in text,
 * JSON and JUnit; --assert-match fails them unless --accept-summaries), and a --full glob that selects nothing
 * warns. Real engines (rosetta, llama.cpp) on the generated fixtures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { exitCodeOf, parseThreshold } from "../../src/cli/commands/CompareCommand.js";
import { worstNmse } from "../../src/compare/metrics.js";
import { renderJson } from "../../src/compare/report/json.js";
import { renderJunit } from "../../src/compare/report/junit.js";
import { renderText } from "../../src/compare/report/text.js";
import { KQ_FULL_MAX, fullPolicy, runComparison } from "../../src/pipeline/run-comparison.js";
import { runLlamaCppTrace } from "../../src/reference/llamacpp.js";
import { writeTrace } from "../../src/trace/io.js";
import { InputError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";

const PROMPT = "Once upon a time there was a little girl named Lily";
const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-gates-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("an explicit --threshold is the bound: bands never loosen it", () => {
  let f32 = "";
  let q4 = "";
  beforeAll(async () => {
    f32 = await getFixture("llama", "F32");
    q4 = await getFixture("llama", "Q4_0");
  });

  it("Q4_0 vs F32 without --threshold: drift inside band quant:Q4_0 passes (DRIFT)", async () => {
    const r = await runComparison({ a: { path: q4 }, b: { path: f32 }, prompt: PROMPT });
    expect(r.thresholdExplicit).toBe(false);
    expect(r.band!.id).toBe("quant:Q4_0");
    expect(r.verdict).toBe("DRIFT");
    expect(r.counts.drift).toBeGreaterThan(0);
    expect(r.counts.diverged).toBe(0);
    expect(r.points.find((p) => p.status === "drift")!.gate).toEqual({ threshold: 1e-3, band: 0.5, bandId: "quant:Q4_0" });
    expect(exitCodeOf(r, true)).toBe(0);
  });

  it("the same pair with --threshold 1e-3 given: DIVERGED, the band shown only as context", async () => {
    const r = await runComparison({ a: { path: q4 }, b: { path: f32 }, prompt: PROMPT, threshold: 1e-3 });
    expect(r.thresholdExplicit).toBe(true);
    expect(r.band!.id).toBe("quant:Q4_0"); // still reported
    expect(r.counts.drift).toBe(0);
    expect(r.verdict).toBe("DIVERGED");
    expect(exitCodeOf(r, true)).toBe(1);
    const fd = r.firstDivergence!;
    expect(fd.gate).toEqual({ threshold: 1e-3, band: 1e-3, bandId: "quant:Q4_0" });
    expect(worstNmse(fd.all, fd.last)!).toBeGreaterThan(1e-3);
    expect(worstNmse(fd.all, fd.last)!).toBeLessThanOrEqual(0.5);
    expect(fd.note).toBe("inside band quant:Q4_0 (NMSE <= 0.5), but --threshold 0.001 was given explicitly");
    expect(r.diagnosis!.evidence.at(-1)).toMatch(/inside band quant:Q4_0 \(<= 0\.5\) for this pair: it fails because --threshold 0\.001 was given explicitly/);
    expect(renderText(r)).toContain("explicit --threshold: no band loosens it (band quant:Q4_0: NMSE <= 0.5, for context)");
    expect(JSON.parse(renderJson(r)).thresholdExplicit).toBe(true);
  });

  it("an explicit threshold above the drift passes as a plain MATCH", async () => {
    const r = await runComparison({ a: { path: q4 }, b: { path: f32 }, prompt: PROMPT, threshold: 0.5 });
    expect(r.verdict).toBe("MATCH");
    expect(r.counts.drift).toBe(0);
  });

  it("--threshold parsing: what was given is quoted (exit 2)", () => {
    expect(parseThreshold(undefined)).toBeUndefined();
    expect(parseThreshold("1e-4")).toBe(1e-4);
    for (const bad of ["abc", "-1", "0", "", "Infinity", "NaN"]) {
      expect(() => parseThreshold(bad)).toThrow(InputError);
      expect(() => parseThreshold(bad)).toThrow(`(got '${bad}')`);
    }
  });
});

const bridge = tryBridge("default");

describe.skipIf(!bridge)("points compared from summaries only are not verified, never matches", () => {
  let model = "";
  let summariesOnly = "";
  let withTensors = "";
  beforeAll(async () => {
    model = await getFixture("qwen2", "Q8_0");
    const t = await runLlamaCppTrace({ model, prompt: PROMPT, gen: 1, full: ["*"] });
    withTensors = writeTrace(path.join(dir, "full"), t.trace, t.tensors);
    summariesOnly = writeTrace(path.join(dir, "sums"), t.trace); // what `rosetta trace` writes without --tensors
  });

  it("a saved trace without tensors: MATCH on summaries only (not a full-tensor match), counted apart, labelled in text, JSON and JUnit", async () => {
    const r = await runComparison({ a: { path: model }, b: { path: summariesOnly } });
    const compared = r.points.filter((p) => p.all !== null);
    expect(compared.length).toBeGreaterThan(40);
    expect(compared.every((p) => p.all!.basis === "summary")).toBe(true);
    expect(r.counts.match).toBe(0);
    expect(r.counts["summary-agree"]).toBe(compared.length);
    expect(r.verdict).toBe("MATCH");
    expect(r.verifiedOn).toBe("summaries-only");
    expect(exitCodeOf(r, false)).toBe(0);
    expect(exitCodeOf(r, true)).toBe(1); // --assert-match
    expect(exitCodeOf(r, true, true)).toBe(0); // --assert-match --accept-summaries
    const text = renderText(r);
    expect(text).not.toMatch(/PASSED|point\(s\) match/);
    expect(text).toMatch(/MATCH on summaries: .*not a full-tensor match/);
    expect(text).toMatch(/--- step 0 \(prompt\) --- ~ 35 point\(s\) agree in summaries only \(not verified\)/);
    expect(text).toMatch(new RegExp(`MATCH on summaries: nothing failed, but all ${compared.length} of the compared points agree in summaries only`));
    expect(text).toMatch(new RegExp(`0 match, 0 within band, ${compared.length} agree in summaries only \\(not verified\\)`));
    const j = JSON.parse(renderJson(r));
    expect(j.verdict).toBe("MATCH");
    expect(j.verifiedOn).toBe("summaries-only");
    expect(j.counts["summary-agree"]).toBe(compared.length);
    expect(j.points.find((p: { key: string }) => p.key === "blk.0.q").status).toBe("summary-agree");
    const x = renderJunit(r);
    expect(x).toMatch(/name="blk.0.q step 0"><skipped message="summary-agree: summaries agree, not verified without full tensors: nmse all 0/);
    expect(x).not.toMatch(/name="blk.0.q step 0"><system-out>/);
  });

  it("the same trace with its tensors: every point verified, MATCH", async () => {
    const r = await runComparison({ a: { path: model }, b: { path: withTensors } });
    expect(r.counts["summary-agree"]).toBe(0);
    expect(r.counts.match).toBe(r.points.filter((p) => p.all !== null).length);
    expect(r.verdict).toBe("MATCH");
    expect(renderText(r)).toMatch(/PASSED: every compared point matches/);
  });

  it("model vs model: kq_softmax is kept as full tensors by default, so nothing is summary-only", async () => {
    const r = await runComparison({ a: { path: model }, b: { path: model, engine: "llama.cpp" }, prompt: PROMPT, gen: 1 });
    const kq = r.points.filter((p) => p.point === "kq_softmax");
    expect(kq.length).toBe(4);
    expect(kq.every((p) => p.status === "match" && p.all!.basis === "tensor")).toBe(true);
    expect(r.verdict).toBe("MATCH");
  });

  it("a --full glob that selects no point warns (and its points are compared from summaries)", async () => {
    const r = await runComparison({ a: { path: model }, b: { path: model, engine: "llama.cpp" }, prompt: PROMPT, full: ["blk.*.l_out", "blk.*.ffn_oot"] });
    expect(r.warnings).toEqual(["--full blk.*.ffn_oot matches no capture point (keys look like embd, blk.0.q_rope, blk.*.ffn_*, logits)"]);
    expect(renderText(r)).toContain("warning: --full blk.*.ffn_oot matches no capture point");
    expect(r.points.find((p) => p.key === "blk.0.l_out")!.status).toBe("match");
    expect(r.points.find((p) => p.key === "blk.0.q")!.status).toBe("summary-agree");
    expect(r.verdict).toBe("MATCH");
    expect(r.verifiedOn).toBe("partly-summaries");
  });
});

describe("the kq_softmax capture policy of a model-vs-model run", () => {
  const cfg = { nLayer: 28, nHead: 12 };
  it("keeps kq_softmax as full tensors while small", () => {
    const p = fullPolicy({ tokens: Array(16).fill(1), gen: 4 }, [cfg, cfg]);
    expect(p.kq).toBe(true);
    expect(p.full).toContain("blk.*.kq_softmax");
    expect(p.note).toBeUndefined();
  });
  it("leaves it out of a long prompt, with a note saying how to keep it (never summary-only, never a silent match)", () => {
    const p = fullPolicy({ prompt: "x".repeat(300), gen: 0 }, [cfg]);
    expect(p.kq).toBe(false);
    expect(p.full).not.toContain("blk.*.kq_softmax");
    expect(p.note).toBe(`kq_softmax not compared: ${28 * 12 * 302 * 302} elements per side (more than ${KQ_FULL_MAX}); --full 'blk.*.kq_softmax' compares it anyway`);
  });
});
