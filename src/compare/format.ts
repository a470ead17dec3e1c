/**
 * How the comparator writes numbers, metadata values and weight-diff lines for people (the text, JUnit
 * and diff-weights reports and every finding's evidence use these, so they read the same everywhere).
 */
import type { TensorDiff } from "./result.js";

/** A metric for people: 4 significant digits, exponent outside [1e-3, 1e4), no trailing zeros ("0", "0.001", "1.5e-6"; "inf", "NaN"). */
export const fmt = (x: number | null | undefined): string => {
  if (x === null || x === undefined) return "n/a";
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return "0";
  if (Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3) return x.toExponential(2).replace(/\.?0+e/, "e");
  return String(Number(x.toPrecision(4)));
};

/** A metadata value for people: f32 fields (eps, rope base) at f32 precision, 1e-5 not 0.000009999999747378752. */
export function showMeta(v: unknown): string {
  if (typeof v === "number" && Number.isFinite(v) && !Number.isInteger(v)) return String(Number(v.toPrecision(7)));
  return JSON.stringify(v) ?? String(v);
}

export function describe(t: TensorDiff): string {
  const dims = (x: number[] | null) => (x ? `[${x.join(", ")}]` : "-");
  const parts = [`${t.status}`, `A ${t.typeA ?? "-"} ${dims(t.dimsA)}`, `B ${t.typeB ?? "-"} ${dims(t.dimsB)}`];
  if (t.sqnrDb !== null) parts.push(`SQNR ${fmt(t.sqnrDb)} dB (floor ${fmt(t.floorDb)})`);
  if (t.cosine !== null) parts.push(`cos ${fmt(t.cosine)}`);
  if (t.note) parts.push(t.note);
  return parts.join(", ");
}

