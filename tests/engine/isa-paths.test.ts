/**
 * Every ISA path the CPU runs gives the same greedy tokens on the real models, and in ggml mode the
 * same capture points bit for bit (one defined f32 summation order on every path, ref/matmul_ref.cpp):
 * otherwise a 1e-7 difference can flip a Q8 rounding decision and grow (seen: NMSE 5e-4 by step 18).
 */
import { afterAll, describe, expect, test } from "vitest";

import { Engine } from "../../src/model/engine.js";
import { currentIsa, native, setIsa } from "../../src/native/ops.js";
import { pointKey } from "../../src/trace/types.js";
import { HAVE_MODELS, STORIES, TINYLLAMA, nmse } from "../model/helpers.js";

const features = (native() as unknown as { cpuFeatures(): Record<string, boolean> }).cpuFeatures();
const ISAS = (["scalar", "avx2", "avx512"] as const).filter((i) => i === "scalar" || (i === "avx2" ? features.avx2 : features.avx512f && features.avx512bw));
if (!ISAS.includes("avx512")) console.warn("isa paths: this CPU has no AVX-512; only scalar and avx2 are compared");
const initialIsa = currentIsa() as (typeof ISAS)[number];
afterAll(() => void setIsa(initialIsa));

async function run(file: string, tokens: number[], isa: (typeof ISAS)[number]) {
  const e = await Engine.open(file, { numerics: "ggml", isa });
  const pts = new Map<string, Float32Array>();
  let step = 0;
  const r = e.generate(tokens, { nGen: 20, onStep: (s) => (step = s), capture: (p, l, x) => pts.set(`s${step}.${pointKey(p, l)}`, Float32Array.from(x)) });
  e.close();
  return { tokens: r.generated, pts, isa: e.settings.isa };
}

describe.skipIf(!HAVE_MODELS)("ISA paths", () => {
  for (const [name, file, tokens] of [
    ["stories260K F32", STORIES, [1, 403, 407, 261, 378]],
    ["TinyLlama Q4_0", TINYLLAMA, [1, 450, 4996, 17354, 1701]],
  ] as const) {
    test(name, async () => {
      const oracle = await run(file, [...tokens], "scalar");
      expect(oracle.isa).toBe("scalar");
      for (const isa of ISAS.slice(1)) {
        const r = await run(file, [...tokens], isa);
        expect(r.isa).toBe(isa);
        expect(r.tokens, `${isa} tokens`).toEqual(oracle.tokens);
        let worst = 0;
        let wk = "";
        for (const [k, v] of oracle.pts) { const d = nmse(v, r.pts.get(k)!); if (d > worst) [worst, wk] = [d, k]; }
        expect(worst, `worst at ${wk}`).toBe(0);
        console.log(`${name}: ${isa} vs scalar, 20 tokens identical, ${oracle.pts.size} points bit-identical`);
      }
    });
  }
});
