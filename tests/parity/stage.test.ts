/**
 * `npm run parity:stage` (PARITY_STAGE=1): stages the synthetic parity fixtures for the CLI and the
 * nightly run (PARITY_STAGE=measure: also the band measurement set); with PARITY_RECORD=1 it also
 * re-records the manifest pins. Skipped in the normal suite.
 */
import { describe, expect, it } from "vitest";

import { MEASURE_FIXTURES, recordManifest, stageAll } from "./stage.js";

// PARITY_STAGE=1: the manifest's fixtures; PARITY_STAGE=measure: the band measurement set as well.
const STAGE = process.env.PARITY_STAGE === "1" || process.env.PARITY_STAGE === "measure";
if (!STAGE) process.stderr.write("[tests] parity staging runs only under `npm run parity:stage` (PARITY_STAGE=1)\n");

describe.skipIf(!STAGE)("parity staging", () => {
  it("stages every synthetic fixture of the manifest", async () => {
    const files = await stageAll();
    expect(files).toHaveLength(6);
    if (process.env.PARITY_RECORD === "1") await recordManifest();
  }, 300_000);
  it.skipIf(process.env.PARITY_STAGE !== "measure")("stages the band measurement set", async () => {
    expect(await stageAll(MEASURE_FIXTURES)).toHaveLength(MEASURE_FIXTURES.length);
  }, 600_000);
});
