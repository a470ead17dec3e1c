/**
 * The fast-check fuzz targets of fuzz/ts/targets.ts (every TypeScript reader of untrusted bytes), a fixed
 * number of cases each with a fixed seed, so `npm test` runs them reproducibly; the time-boxed runs with
 * coverage are `npm run fuzz` (CI) and `npm run fuzz:long`. Property: every case loads, or is refused with
 * a RosettaError of one line, within CASE_MS.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";

import { TARGETS, runCase, seeds } from "../../fuzz/ts/targets.js";

const RUNS = Number(process.env.ROSETTA_FUZZ_RUNS ?? 150);
const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-fuzz-readers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("fuzz targets (fast-check)", () => {
  it("every target has committed seeds from real files", () => {
    for (const name of ["gguf", "apr", "safetensors", "trace-json", "importers-json", "importers-text", "native-dequant", "native-matmul"]) {
      expect(seeds(name).length, name).toBeGreaterThan(0);
    }
  });

  for (const t of TARGETS) {
    it(`${t.name}: ${RUNS} cases load or are refused with one line`, async () => {
      const tally = { ok: 0, rejected: 0 };
      await fc.assert(
        fc.asyncProperty(t.input, async (input) => {
          tally[await runCase(t, input, path.join(dir, `${t.name}.bin`))]++;
        }),
        { seed: 20261204, numRuns: RUNS },
      );
      expect(tally.ok + tally.rejected).toBe(RUNS);
      // the generators reach past the first checks: most cases are refused, not all by the same check
      expect(tally.rejected).toBeGreaterThan(0);
    });
  }
});
