/**
 * `npm run parity:stage` (PARITY_STAGE=1): stages the synthetic parity fixtures for the CLI and the
 * nightly run; with PARITY_RECORD=1 it also re-records the manifest pins. Skipped in the normal suite.
 */
import { describe, expect, it } from "vitest";

import { recordManifest, stageAll } from "./stage.js";

const STAGE = process.env.PARITY_STAGE === "1";
if (!STAGE) process.stderr.write("[tests] parity staging runs only under `npm run parity:stage` (PARITY_STAGE=1)\n");

describe.skipIf(!STAGE)("parity staging", () => {
  it("stages every synthetic fixture of the manifest", async () => {
    const files = await stageAll();
    expect(files).toHaveLength(6);
    if (process.env.PARITY_RECORD === "1") await recordManifest();
  }, 300_000);
});
