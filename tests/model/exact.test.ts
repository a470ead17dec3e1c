/**
 * exact mode against an independent f64 forward pass (reference-forward.ts): relative L2 <= 1e-6 at
 * every capture point of the prompt, for the shared F32 and Q4_0 models and synthetic qwen2/qwen3/llama
 * fixtures (F32, Q4_K_M, Q6_K).
 */
import { describe, expect, test } from "vitest";

import { Engine } from "../../src/model/engine.js";
import { pointKey } from "../../src/trace/types.js";
import { HAVE_MODELS, STORIES, TINYLLAMA, relL2 } from "./helpers.js";
import { referenceForward } from "./reference-forward.js";
import { getFixture } from "../fixtures/lib/index.js";
import { HAVE_BRIDGE } from "./parity-lib.js";

const EXACT_BOUND = 1e-6;

const SYNTH = [1, 20, 300, 41, 5, 66, 500];
const CASES: [string, () => Promise<string>, number[], boolean][] = [
  ["stories260K F32", async () => STORIES, [1, 403, 407, 261, 378, 300, 270, 261, 379], HAVE_MODELS],
  ["TinyLlama Q4_0", async () => TINYLLAMA, [1, 450, 4996, 17354, 1701, 432, 17204], HAVE_MODELS],
  ["synthetic qwen2 F32 (biases, NEOX, tied)", () => getFixture("qwen2", "F32"), SYNTH, true],
  ["synthetic qwen3 F32 (q/k norm)", () => getFixture("qwen3", "F32"), SYNTH, true],
  ["synthetic qwen3 Q4_K_M", () => getFixture("qwen3", "Q4_K_M"), SYNTH, HAVE_BRIDGE],
  ["synthetic llama Q6_K", () => getFixture("llama", "Q6_K"), SYNTH, HAVE_BRIDGE],
];

describe("exact numerics vs the f64 reference forward", () => {
  for (const [name, fileOf, tokens, runnable] of CASES) {
    test.skipIf(!runnable)(name, async () => {
      const file = await fileOf();
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
