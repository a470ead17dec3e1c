/** How numbers read in reports: infinite SQNR as "inf", f32 metadata at f32 precision. */
import { describe, expect, it } from "vitest";

import { fmt } from "../../src/compare/format.js";
import { showMeta } from "../../src/compare/format.js";

describe("report number formats", () => {
  it("fmt: inf/-inf/NaN instead of JavaScript's Infinity", () => {
    expect(fmt(Infinity)).toBe("inf");
    expect(fmt(-Infinity)).toBe("-inf");
    expect(fmt(NaN)).toBe("NaN");
    expect(fmt(0)).toBe("0");
    expect(fmt(1.5e-6)).toBe("1.5e-6");
    expect(fmt(null)).toBe("n/a");
  });
  it("showMeta: an f32 eps read as f64 prints as written, integers and strings unchanged", () => {
    expect(showMeta(Math.fround(1e-5))).toBe("0.00001");
    expect(showMeta(Math.fround(1e-6))).toBe("0.000001");
    expect(showMeta(Math.fround(0.001))).toBe("0.001");
    expect(showMeta(10000)).toBe("10000");
    expect(showMeta("neox")).toBe('"neox"');
    expect(showMeta(true)).toBe("true");
  });
});
