/**
 * rosetta (ggml numerics) against real llama.cpp through the bridge, at every capture point of the
 * prompt and of 50 greedy decode steps: F32 models rel L2 <= 1e-5, quantized models energy NMSE <= 1e-6;
 * identical greedy tokens (a flip is only excused at a near-tie, reference top-2 gap < 1e-4, and counted).
 */
import { describe, expect, test } from "vitest";

import { STORIES, TINYLLAMA } from "./helpers.js";
import { HAVE_BRIDGE, checkParity, describeResult, type ParityCase } from "./parity-lib.js";

describe.skipIf(!HAVE_BRIDGE)("ggml numerics vs real llama.cpp", () => {
  const cases: ParityCase[] = [
    { name: "stories260K F32", file: STORIES, tokens: [1, 403, 407, 261, 378, 300, 270], metric: "relL2", bound: 1e-5 },
    { name: "TinyLlama Q4_0", file: TINYLLAMA, tokens: [1, 450, 4996, 17354, 1701, 432, 17204], metric: "nmse", bound: 1e-6 },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await checkParity(c);
      console.log(describeResult(c, r));
      expect(r.flipStep, "greedy tokens differ").toBeNull();
      expect(r.worst, `worst at ${r.key}`).toBeLessThanOrEqual(c.bound);
    });
  }
});
