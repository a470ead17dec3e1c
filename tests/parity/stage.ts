/**
 * Stages the synthetic parity fixtures (tests/fixtures/generate.ts, real llama.cpp quantizer, no network)
 * under the names the parity CLI reads (src/parity/fixtures.ts), and can (re)record the manifest pins.
 * Used by tests/parity/*.test.ts and by `npm run parity:stage` (vitest runs the TypeScript directly).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { getFixture, type FixtureArch } from "../fixtures/lib/index.js";
import { fixtureDir, fixtureFileName } from "../../src/parity/fixtures.js";
import { defaultManifestPath, loadManifest, sha256Bytes, sha256File } from "../../src/parity/manifest.js";
import { describeModel } from "../../src/parity/model-info.js";
import { REFERENCE_SETTINGS } from "../../src/parity/sides.js";
import { loadLlamaBridge } from "../../src/bindings/llama.js";

export const PARITY_FIXTURES: { arch: FixtureArch; type: string }[] = [];
for (const arch of ["qwen2", "qwen3"] as FixtureArch[]) for (const type of ["F32", "Q8_0", "Q4_K_M"]) PARITY_FIXTURES.push({ arch, type });

/** The band measurement set (scripts/measure-parity-bands.js): every fixture arch in each band's weight type. */
export const MEASURE_FIXTURES: { arch: FixtureArch; type: string }[] = [];
for (const arch of ["llama", "qwen2", "qwen3"] as FixtureArch[])
  for (const type of ["F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K", "Q5_1", "Q4_0", "Q4_1", "Q4_K_M", "Q3_K", "Q2_K"]) MEASURE_FIXTURES.push({ arch, type });

/** Makes (or reuses) one fixture and copies it to the staging folder when the content differs. */
export async function stageFixture(arch: FixtureArch, type: string): Promise<string> {
  const src = await getFixture(arch, type);
  const dst = path.join(fixtureDir(), fixtureFileName({ arch, type }));
  mkdirSync(path.dirname(dst), { recursive: true });
  if (!existsSync(dst) || (await sha256File(dst)) !== (await sha256File(src))) copyFileSync(src, dst);
  return dst;
}

export async function stageAll(set = PARITY_FIXTURES): Promise<string[]> {
  const out = [];
  for (const f of set) out.push(await stageFixture(f.arch, f.type));
  return out;
}

/** Rewrites the sha256/tokenizer pins of every manifest model from what is on disk (PARITY_RECORD=1 only). */
export async function recordManifest(file = defaultManifestPath()): Promise<void> {
  const m = loadManifest(file);
  const json = JSON.parse(readFileSync(file, "utf8"));
  const bridge = loadLlamaBridge(REFERENCE_SETTINGS.backend);
  json.reference.llamaCpp = { release: bridge.tag, commit: bridge.commit };
  json.reference.packages = bridge.packages;
  json.reference.settings = { ...REFERENCE_SETTINGS };
  json.suite.sha256 = sha256Bytes(readFileSync(path.resolve(path.dirname(file), "../..", m.suite.path)));
  for (const e of json.models) {
    const p = e.path ? e.path.replace("${SHARED}", path.resolve(path.dirname(file), "../../../shared")) : await stageFixture(e.fixture.arch, e.fixture.type);
    const info = await describeModel(p);
    Object.assign(e, { quant: info.quant, sha256: info.sha256, bytes: info.bytes, tokenizerSha256: info.tokenizerSha256 });
  }
  writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
}
