/**
 * Sharding across CI jobs and merging their JSON results. A case is (model, quant, prompt); shard K/N
 * takes the cases whose index in the canonical order is K-1 modulo N, so every case lands in exactly one
 * shard whatever N is.
 */
import { readFileSync } from "node:fs";

import { InputError } from "../util/errors.js";
import { runPassed, type ParityRunResult } from "./types.js";

export interface Shard {
  k: number;
  n: number;
}

export function parseShard(s: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new InputError(`--shard must look like K/N (e.g. 2/4), got "${s}"`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || k < 1 || k > n) throw new InputError(`--shard ${s}: need 1 <= K <= N`);
  return { k, n };
}

export interface ParityCase {
  model: string;
  quant: string;
  promptIdx: number;
}

export function caseId(c: ParityCase): string {
  return `${c.model}/${c.quant}/p${c.promptIdx}`;
}

export function selectShard<T extends ParityCase>(cases: T[], shard: Shard | null): T[] {
  if (!shard) return cases;
  return cases.filter((_, i) => i % shard.n === shard.k - 1);
}

function resultKey(r: { model: string; quant: string; numerics: string; isa: string; promptIdx: number }): string {
  return `${r.model}/${r.quant}/${r.numerics}/${r.isa}/p${r.promptIdx}`;
}

/** Joins shard results into one run; refuses results made under different settings or manifests. */
export function mergeRuns(runs: ParityRunResult[], labels: string[] = []): ParityRunResult {
  if (runs.length === 0) throw new InputError("parity merge: give at least one results file");
  const first = runs[0];
  const seen = new Map<string, string>();
  const out: ParityRunResult = { ...first, shard: null, results: [], skipped: [], isa: first.isa, passed: true };
  runs.forEach((r, i) => {
    const label = labels[i] ?? `#${i + 1}`;
    if (r.format !== "rosetta.parity" || r.version !== 1) throw new InputError(`parity merge: ${label} is not a rosetta parity result (format/version)`);
    if ((r.manifest?.sha256 ?? null) !== (first.manifest?.sha256 ?? null))
      throw new InputError(`parity merge: ${label} was run against a different manifest than ${labels[0] ?? "#1"}`);
    if (JSON.stringify(r.settings) !== JSON.stringify(first.settings))
      throw new InputError(`parity merge: ${label} was run with different settings than ${labels[0] ?? "#1"}`);
    if (first.shard && r.shard && r.shard.n !== first.shard.n) throw new InputError(`parity merge: ${label} is shard ${r.shard.k}/${r.shard.n}, others are of ${first.shard.n}`);
    for (const res of r.results) {
      const key = resultKey(res);
      if (seen.has(key)) throw new InputError(`parity merge: case ${key} appears in both ${seen.get(key)} and ${label}`);
      seen.set(key, label);
      out.results.push(res);
    }
    out.skipped.push(...r.skipped);
  });
  const shards = new Set(runs.map((r) => r.shard && `${r.shard.k}/${r.shard.n}`).filter(Boolean));
  const n = first.shard?.n;
  if (n && shards.size !== n) out.skipped.push({ case: "shards", reason: `only ${shards.size} of ${n} shards were merged` });
  // An unavailable ISA column is reported, not failed; anything else that did not run fails the merge.
  out.passed = runPassed(out);
  return out;
}

export function readRun(file: string): ParityRunResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text, (_k, v) => (v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v)) as ParityRunResult;
  } catch (e) {
    throw new InputError(`${file}: not JSON (${(e as Error).message})`);
  }
}

/** JSON with NaN kept as the string "NaN" (JSON has no NaN; null would read as a missing value). */
export function runToJson(run: ParityRunResult): string {
  return JSON.stringify(run, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) + "\n";
}
