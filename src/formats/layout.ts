/**
 * The load-time layout check, logged for every tensor on every load (not only in debug): its dims, dtype,
 * the layout the engine expects (`[out, in]` for matmul weights) and a verdict. A transposed weight (the
 * classic APR [in,out] vs GGUF [out,in] bug) shows up here before any number is computed.
 */
import { logger } from "../util/log.js";
import type { LayoutCheck, LayoutVerdict, ModelConfig, TensorView } from "./model.js";
import { expectedDims } from "./roles.js";

function sameDims(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function verdictFor(dims: number[], expected: number[] | null): LayoutVerdict {
  if (!expected) return "UNUSED";
  if (sameDims(dims, expected)) return "OK";
  if (dims.length === 2 && expected.length === 2 && dims[0] === expected[1] && dims[1] === expected[0]) return "TRANSPOSE NEEDED";
  return "UNEXPECTED SHAPE";
}

export function checkLayout(tensors: TensorView[], config: ModelConfig): LayoutCheck[] {
  return tensors.map((t) => {
    const expected = t.role ? expectedDims(t.role, config) : null;
    const key = t.role ? (t.layer === null ? t.role : `blk.${t.layer}.${t.role}`) : t.name;
    return { key, name: t.name, dims: t.dims, expected, typeName: t.typeName, verdict: verdictFor(t.dims, expected) };
  });
}

const fmt = (d: number[] | null) => (d ? `[${d.join(", ")}]` : "-");

/**
 * The load-time layout log: by default one summary line per file plus every tensor whose layout is
 * wrong (warn level, so `--quiet` still shows them); the full table, one line per tensor, with `-v`
 * (debug level) — and always in `rosetta inspect`'s own tensor table.
 */
export function logLayout(path: string, format: string, checks: LayoutCheck[]): void {
  const log = logger("layout");
  for (const c of checks) {
    const rec = { detail: { tensor: c.name, role: c.key, dims: c.dims, dtype: c.typeName, expected: c.expected ?? undefined, verdict: c.verdict } };
    const msg = `${c.name.padEnd(32)} ${fmt(c.dims).padEnd(14)} ${c.typeName.padEnd(6)} expect ${fmt(c.expected).padEnd(14)} ${c.verdict}`;
    if (c.verdict === "OK" || c.verdict === "UNUSED") log.debug(rec, msg);
    else log.warn(rec, msg);
  }
  const bad = checks.filter((c) => c.verdict === "TRANSPOSE NEEDED" || c.verdict === "UNEXPECTED SHAPE");
  const summary = { file: path, format, tensors: checks.length, problems: bad.length };
  if (bad.length) log.warn(summary, `${bad.length} of ${checks.length} tensors do not have the layout the engine expects`);
  else log.info(summary, `layout OK: ${checks.length} tensors`);
}
