// Run by errors.test.ts in a child process with a build folder that does not exist (ROSETTA_PROBE=1);
// skipped in normal runs.
import { it } from "vitest";

import { loadLlamaBridge } from "../../src/bindings/llama.js";

it.skipIf(process.env.ROSETTA_PROBE !== "1")("probe: loading the bridge without a build", () => {
  try {
    loadLlamaBridge();
  } catch (e) {
    console.log(`${(e as Error).name}: ${(e as Error).message}`);
  }
});
