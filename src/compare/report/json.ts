/**
 * The `--json FILE` report: the ComparisonResult as is (schema "rosetta-comparison", version
 * COMPARISON_SCHEMA_VERSION; field reference: docs/comparison.md). Non-finite numbers are not JSON:
 * Infinity (an identical pair's SQNR) is written as the string "Infinity", NaN as null.
 */
import type { ComparisonResult } from "../result.js";

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === "number" && !Number.isFinite(v)) return Number.isNaN(v) ? null : v > 0 ? "Infinity" : "-Infinity";
  return v;
}

export function renderJson(r: ComparisonResult): string {
  return JSON.stringify(r, replacer, 2) + "\n";
}
