/**
 * Decode steps in `rosetta A B --gen N`: teacher forcing (both sides consume the reference's tokens by
 * default, so the comparison continues past a flip of the top token), the flip as a finding of its own
 * (step, position, both top tokens with their text, logits, margin, near-tie), a short text report
 * however many steps, and the llama.cpp bridge consuming forced tokens too.
 */
import { describe, expect, it } from "vitest";

import { renderText } from "../../src/compare/report/text.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";

const PROMPT = "Once upon a time";

describe("decode steps: teacher forcing and the flip finding", () => {
  it("Q4_K_M against F32 over 50 steps: both sides consume B's tokens, the first flip is a finding with both top tokens, the report stays short", async () => {
    const q = await getFixture("llama", "Q4_K_M");
    const f = await getFixture("llama", "F32");
    const r = await runComparison({ a: { path: q }, b: { path: f }, prompt: PROMPT, gen: 50 });
    expect(r.a.generated).toEqual(r.b.generated);
    expect(r.counts["sample-mismatch"]).toBe(0);
    const flip = r.findings.find((x) => x.id === "token-flip");
    expect(flip, r.findings.map((x) => x.id).join()).toBeDefined();
    expect(flip!.evidence[0]).toMatch(/^step \d+, position \d+: A's top-1 \d+ ".*" \(logit -?[\d.]+; its top-2 .*\), B's top-1 \d+ ".*" \(logit/);
    expect(flip!.evidence[1]).toMatch(/B's margin \(top-1 - top-2\) [\d.e-]+; B's gap to A's choice/);
    // every point of the steps is within the Q4_K band: the flip is precision, not a failure
    expect(flip!.fatal).toBe(false);
    expect(["MATCH", "DRIFT"]).toContain(r.verdict);
    const text = renderText(r);
    expect(text.split("\n").length).toBeLessThan(120);
    expect(text).toMatch(/TOP TOKEN FLIPS/i);
  }, 120_000);

  it("--teacher none: each side its own tokens (decode steps after a flip are a sample mismatch, as before)", async () => {
    const q = await getFixture("llama", "Q4_K_M");
    const f = await getFixture("llama", "F32");
    const forced = await runComparison({ a: { path: q }, b: { path: f }, prompt: PROMPT, gen: 20 });
    const free = await runComparison({ a: { path: q }, b: { path: f }, prompt: PROMPT, gen: 20, teacher: "none" });
    expect(forced.a.generated).toEqual(forced.b.generated);
    if (free.a.generated.join() !== free.b.generated.join()) expect(free.counts["sample-mismatch"]).toBeGreaterThan(0);
  }, 120_000);

  it("a defect: the flip is fatal and names the first divergent point of its step", async () => {
    const good = await getFixture("qwen2", "F32");
    const bad = await getFixture("llama", "F32"); // another network of the same shape: everything diverges
    const r = await runComparison({ a: { path: bad }, b: { path: good }, tokens: [1, 2, 3], gen: 3, experiments: false });
    const flip = r.findings.find((x) => x.id === "token-flip");
    expect(flip?.fatal).toBe(true);
    expect(flip?.evidence.join(" ")).toMatch(/first divergent point of step \d+: \S+ \(layer/);
  }, 120_000);
});

describe.skipIf(!tryBridge("default"))("the llama.cpp side consumes forced tokens", () => {
  it("rosetta Q4_K_M (A) against llama.cpp F32 (B), and llama.cpp forced with A's tokens (--teacher a)", async () => {
    const q = await getFixture("qwen2", "Q4_K_M");
    const f = await getFixture("qwen2", "F32");
    const byB = await runComparison({ a: { path: q }, b: { path: f, engine: "llama.cpp" }, prompt: PROMPT, gen: 12 });
    expect(byB.a.generated).toEqual(byB.b.generated);
    expect(byB.counts["sample-mismatch"]).toBe(0);
    const byA = await runComparison({ a: { path: q }, b: { path: f, engine: "llama.cpp" }, prompt: PROMPT, gen: 12, teacher: "a" });
    expect(byA.b.generated).toEqual(byA.a.generated);
    expect(byA.counts["sample-mismatch"]).toBe(0);
  }, 120_000);
});
