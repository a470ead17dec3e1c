/**
 * The frozen prompt suite (parity/suite.json): five buckets of two prompts, as text; each model
 * tokenizes them itself. Validation is strict because a silently malformed suite would test nothing.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import { repoRoot } from "../bindings/paths.js";
import { InputError } from "../util/errors.js";

export const BUCKETS = ["short-factual", "long-generative", "code", "multilingual", "short-reasoning"] as const;
export type Bucket = (typeof BUCKETS)[number];

export interface SuitePrompt {
  id: string;
  bucket: Bucket;
  text: string;
  /** Generated tokens for this prompt when --tokens is not given (long generative: ~200). */
  tokens?: number;
  note?: string;
}

export interface Suite {
  path: string;
  version: number;
  defaultTokens: number;
  prompts: SuitePrompt[];
}

export function defaultSuitePath(): string {
  return path.join(repoRoot(), "parity", "suite.json");
}

function bad(file: string, msg: string): never {
  throw new InputError(`${file}: bad parity suite: ${msg}`);
}

export function parseSuite(json: unknown, file: string, requireFrozenShape = false): Suite {
  const o = json as Record<string, unknown>;
  if (!o || typeof o !== "object" || o.format !== "rosetta.parity-suite") bad(file, `format must be "rosetta.parity-suite"`);
  if (o.version !== 1) bad(file, `unsupported version ${String(o.version)}`);
  const defaultTokens = o.defaultTokens ?? 50;
  if (!Number.isSafeInteger(defaultTokens) || (defaultTokens as number) < 1) bad(file, "defaultTokens must be a positive integer");
  if (!Array.isArray(o.prompts) || o.prompts.length === 0) bad(file, "prompts must be a non-empty array");
  const ids = new Set<string>();
  const prompts = o.prompts.map((p: Record<string, unknown>, i: number): SuitePrompt => {
    if (typeof p?.id !== "string" || !p.id) bad(file, `prompt ${i}: id must be a non-empty string`);
    if (ids.has(p.id)) bad(file, `prompt ${i}: duplicate id ${p.id}`);
    ids.add(p.id);
    if (!BUCKETS.includes(p.bucket as Bucket)) bad(file, `prompt ${i}: bucket must be one of ${BUCKETS.join(", ")}`);
    if (typeof p.text !== "string" || p.text.length === 0) bad(file, `prompt ${i}: text must be a non-empty string`);
    if (p.tokens !== undefined && (!Number.isSafeInteger(p.tokens) || (p.tokens as number) < 1)) bad(file, `prompt ${i}: tokens must be a positive integer`);
    return { id: p.id, bucket: p.bucket as Bucket, text: p.text, ...(p.tokens ? { tokens: p.tokens as number } : {}), ...(p.note ? { note: String(p.note) } : {}) };
  });
  if (requireFrozenShape) {
    for (const b of BUCKETS) {
      const n = prompts.filter((p) => p.bucket === b).length;
      if (n !== 2) bad(file, `bucket ${b} has ${n} prompts, the frozen suite has two per bucket`);
    }
  }
  return { path: file, version: 1, defaultTokens: defaultTokens as number, prompts };
}

export function loadSuite(file = defaultSuitePath()): Suite {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(`cannot read parity suite ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: not JSON (${(e as Error).message})`);
  }
  return parseSuite(json, file, file === defaultSuitePath());
}

/** Tokens to generate for a prompt: an explicit --tokens wins; else the prompt's own count; else the suite default. */
export function tokensFor(p: SuitePrompt, suite: Suite, explicit?: number): number {
  return explicit ?? p.tokens ?? suite.defaultTokens;
}
