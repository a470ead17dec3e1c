/**
 * A long decode's report: 3000 decode steps (over 140,000 points) render as a short text, JSON and
 * JUnit without overflowing the stack (a Math.max(...points) once did) and in time linear in the points.
 */
import { describe, expect, it } from "vitest";

import { compareTraces } from "../../src/compare/compare.js";
import { renderJson } from "../../src/compare/report/json.js";
import { renderJunit } from "../../src/compare/report/junit.js";
import { renderText } from "../../src/compare/report/text.js";
import { clone, makeTrace } from "./make-trace.js";

describe("long decodes", () => {
  it("3000 steps: the text report stays short, every renderer finishes", async () => {
    const a = makeTrace({ steps: 3000, nLayer: 3, width: 8, withTensors: false });
    const b = clone(a);
    b.trace.engine.name = "another-engine";
    const side = (m: typeof a) => ({ trace: m.trace, source: m.trace.model.path ?? "x" });
    const r = await compareTraces(side(a), side(b));
    expect(r.points.length).toBeGreaterThan(140_000);
    const text = renderText(r);
    expect(text.split("\n").length).toBeLessThan(40);
    expect(text).toMatch(/steps 1-3000 \(decode\)/);
    expect(renderJson(r).length).toBeGreaterThan(1000);
    expect(renderJunit(r)).toMatch(/<testsuites/);
  }, 120_000);
});
