/**
 * The pinned parity manifest (tests/fixtures/parity-manifest.json, format in docs/parity.md): per model
 * its sha256, source, licence and tokenizer-metadata sha256; the llama.cpp packages, release and commit;
 * the exact settings. Any mismatch stops the run (InputError, exit 2) before anything is compared.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import { repoRoot } from "../bindings/paths.js";
import { InputError } from "../util/errors.js";
import { fileSha256 } from "../util/file-digest.js";

export interface FixtureRecipe {
  arch: string;
  type: string;
}

export interface ManifestModel {
  name: string;
  /** A file pre-staged on disk: absolute, or relative to the repo root; `${SHARED}` is ROSETTA_SHARED_DIR or ../shared. */
  path?: string;
  /** A synthetic model made by tests/fixtures/generate.ts getFixture(arch, type) (real quantizer). */
  fixture?: FixtureRecipe;
  quant: string;
  sha256: string;
  bytes?: number;
  tokenizerSha256: string;
  source: string;
  licence: string;
}

export interface ManifestReference {
  packages: Record<string, string>;
  llamaCpp: { release: string; commit: string };
  settings: Record<string, unknown>;
}

export interface Manifest {
  file: string;
  sha256: string;
  suite: { path: string; sha256: string };
  reference: ManifestReference;
  rosetta: { numerics: ("ggml" | "exact")[]; tokens: number | null; top: number };
  models: ManifestModel[];
}

export const MANIFEST_FORMAT = "rosetta.parity-manifest";

export function defaultManifestPath(): string {
  return path.join(repoRoot(), "tests", "fixtures", "parity-manifest.json");
}

export function sharedDir(): string {
  return process.env.ROSETTA_SHARED_DIR ?? path.resolve(repoRoot(), "..", "shared");
}

export function resolveModelPath(p: string): string {
  const s = p.replace("${SHARED}", sharedDir());
  return path.isAbsolute(s) ? s : path.resolve(repoRoot(), s);
}

export function sha256Bytes(b: Uint8Array | string): string {
  return createHash("sha256").update(b).digest("hex");
}

/** The file's sha256, streamed once and then cached by the file's identity (../util/file-digest.ts). */
export async function sha256File(file: string): Promise<string> {
  try {
    return fileSha256(file);
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Canonical JSON: sorted keys, typed arrays as arrays, bigints as decimal strings. */
export function canonicalJson(v: unknown): string {
  if (typeof v === "bigint") return JSON.stringify(v.toString());
  if (ArrayBuffer.isView(v)) return canonicalJson(Array.from(v as unknown as ArrayLike<number | bigint>));
  if (Array.isArray(v)) return "[" + v.map(canonicalJson).join(",") + "]";
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return "{" + Object.keys(o).sort().map((k) => JSON.stringify(k) + ":" + canonicalJson(o[k])).join(",") + "}";
  }
  return JSON.stringify(v ?? null);
}

/** sha256 of the canonical JSON of every `tokenizer.*` key: what decides how prompts become ids. */
export function tokenizerSha256(metadata: Record<string, unknown>): string {
  const t: Record<string, unknown> = {};
  for (const k of Object.keys(metadata)) if (k.startsWith("tokenizer.")) t[k] = metadata[k];
  if (Object.keys(t).length === 0) throw new InputError("the model has no tokenizer.* metadata");
  return sha256Bytes(canonicalJson(t));
}

function bad(file: string, msg: string): never {
  throw new InputError(`${file}: bad parity manifest: ${msg}`);
}

const HEX64 = /^[0-9a-f]{64}$/;

function parseModel(file: string, m: Record<string, unknown>, i: number): ManifestModel {
  const where = `models[${i}]`;
  if (typeof m?.name !== "string" || !m.name) bad(file, `${where}.name must be a non-empty string`);
  if ((m.path === undefined) === (m.fixture === undefined)) bad(file, `${where} needs exactly one of path or fixture`);
  if (m.path !== undefined && typeof m.path !== "string") bad(file, `${where}.path must be a string`);
  const fx = m.fixture as FixtureRecipe | undefined;
  if (fx && (typeof fx.arch !== "string" || typeof fx.type !== "string")) bad(file, `${where}.fixture needs arch and type strings`);
  for (const k of ["sha256", "tokenizerSha256"] as const)
    if (typeof m[k] !== "string" || !HEX64.test(m[k] as string)) bad(file, `${where}.${k} must be 64 lowercase hex digits`);
  for (const k of ["quant", "source", "licence"] as const) if (typeof m[k] !== "string" || !m[k]) bad(file, `${where}.${k} must be a non-empty string`);
  return m as unknown as ManifestModel;
}

export function parseManifest(json: unknown, file: string, text = canonicalJson(json)): Manifest {
  const o = json as Record<string, unknown>;
  if (!o || o.format !== MANIFEST_FORMAT) bad(file, `format must be "${MANIFEST_FORMAT}"`);
  if (o.version !== 1) bad(file, `unsupported version ${String(o.version)}`);
  const ref = o.reference as ManifestReference;
  if (!ref?.packages || typeof ref.packages !== "object") bad(file, "reference.packages is required");
  if (typeof ref.llamaCpp?.release !== "string" || typeof ref.llamaCpp?.commit !== "string") bad(file, "reference.llamaCpp needs release and commit");
  if (!ref.settings || typeof ref.settings !== "object") bad(file, "reference.settings is required");
  const suite = o.suite as Manifest["suite"];
  if (typeof suite?.path !== "string" || !HEX64.test(String(suite?.sha256))) bad(file, "suite needs path and sha256");
  const ros = (o.rosetta ?? {}) as Record<string, unknown>;
  const numerics = (ros.numerics ?? ["ggml"]) as Manifest["rosetta"]["numerics"];
  if (!Array.isArray(numerics) || numerics.some((n) => n !== "ggml" && n !== "exact")) bad(file, "rosetta.numerics must list ggml and/or exact");
  if (!Array.isArray(o.models) || o.models.length === 0) bad(file, "models must be a non-empty array");
  const models = o.models.map((m, i) => parseModel(file, m as Record<string, unknown>, i));
  const names = new Set<string>();
  for (const m of models) {
    if (names.has(m.name)) bad(file, `duplicate model name ${m.name}`);
    names.add(m.name);
  }
  return {
    file,
    sha256: sha256Bytes(text),
    suite,
    reference: ref,
    rosetta: { numerics, tokens: (ros.tokens as number) ?? null, top: (ros.top as number) ?? 5 },
    models,
  };
}

export function loadManifest(file: string): Manifest {
  if (!existsSync(file)) throw new InputError(`parity manifest ${file} does not exist`);
  const text = readFileSync(file, "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: not JSON (${(e as Error).message})`);
  }
  return parseManifest(json, file, text);
}

/** Stops the run (exit 2) when a recorded pin differs from what is installed or on disk. */
export function checkPin(what: string, want: string, have: string | null | undefined): void {
  if (want !== have) throw new InputError(`parity manifest pin mismatch: ${what}: manifest has ${want}, found ${have ?? "nothing"}; stopping before any comparison`);
}
