/**
 * exact mode against an independent f64 forward pass (reference-forward.ts): relative L2 <= 1e-6 at
 * every capture point of the prompt, for the F32 and Q4_0 models.
 */
import { describe, expect, test } from "vitest";

import { Engine } from "../../src/model/engine.js";
import { pointKey } from "../../src/trace/types.js";
import { HAVE_MODELS, STORIES, TINYLLAMA, relL2 } from "./helpers.js";
import { referenceForward } from "./reference-forward.js";

const EXACT_BOUND = 1e-6;

describe.skipIf(!HAVE_MODELS)("exact numerics vs the f64 reference forward", () => {
  for (const [name, file, tokens] of [
    ["stories260K F32", STORIES, [1, 403, 407, 261, 378, 300, 270, 261, 379]],
    ["TinyLlama Q4_0", TINYLLAMA, [1, 450, 4996, 17354, 1701, 432, 17204]],
  ] as const) {
    test(name, async () => {
      const e = await Engine.open(file, { numerics: "exact" });
      const mine = new Map<string, Float32Array>();
      e.generate([...tokens], { nGen: 0, promptLogits: "all", capture: (p, l, x) => mine.set(pointKey(p, l), Float32Array.from(x)) });
      const worst = { key: "", rel: 0 };
      let compared = 0;
      referenceForward(e.file, [...tokens], (key, ref) => {
        const got = mine.get(key);
        expect(got, `rosetta did not capture ${key}`).toBeDefined();
        const r = relL2(ref, got!);
        if (r > worst.rel) Object.assign(worst, { key, rel: r });
        expect(r, `${key}: rel L2 ${r}`).toBeLessThanOrEqual(EXACT_BOUND);
        compared++;
      });
      e.close();
      const c = e.model.config;
      expect(compared).toBe(3 + 15 * c.nLayer);
      console.log(`${name}: exact vs f64 reference, ${compared} points, worst rel L2 ${worst.rel.toExponential(2)} at ${worst.key}`);
    });
  }
});
