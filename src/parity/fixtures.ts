/**
 * Synthetic models in the manifest are recorded as a generator recipe (arch, type) plus the sha256 of
 * what the generator makes (tests/fixtures/generate.ts getFixture, with the real llama.cpp quantizer).
 * The CLI reads them pre-staged from the fixture folder (`npm run parity:stage` makes them, no network);
 * the manifest's sha256 then proves the staged file is the recorded one.
 */
import { existsSync } from "node:fs";
import path from "node:path";

import { repoRoot } from "../bindings/paths.js";
import { InputError } from "../util/errors.js";
import type { FixtureRecipe } from "./manifest.js";

export function fixtureDir(): string {
  return process.env.ROSETTA_PARITY_FIXTURES ?? path.join(repoRoot(), "tests", "fixtures", "generated", "parity");
}

export function fixtureFileName(r: FixtureRecipe): string {
  return `synthetic-${r.arch}-${r.type}.gguf`;
}

export async function resolveFixture(r: FixtureRecipe): Promise<string> {
  const file = path.join(fixtureDir(), fixtureFileName(r));
  if (!existsSync(file))
    throw new InputError(`synthetic fixture ${r.arch} ${r.type} is not staged at ${file}; run \`npm run parity:stage\` first (it generates fixtures locally, no network)`);
  return file;
}
