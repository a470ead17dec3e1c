/**
 * Every ISA path the CPU runs gives the same greedy tokens on the real models and on synthetic F16 and
 * quantized fixtures, and in ggml mode the same capture points bit for bit: every path reproduces
 * llama.cpp's own operation order (rosetta/vecdot.h; the scalar path is the reference), otherwise a 1e-7
 * difference can flip a Q8 rounding decision and grow.
 */
import { afterAll, describe, expect, test } from "vitest";

import { Engine } from "../../src/model/engine.js";
import { cpuFeatures, currentIsa, setIsa } from "../../src/bindings/kernels.js";
import { pointKey } from "../../src/trace/types.js";
import { getFixture } from "../fixtures/lib/index.js";
import { HAVE_MODELS, STORIES, TINYLLAMA, nmse } from "../model/helpers.js";

const features = cpuFeatures();
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

const SYNTH = [["llama", "F16"], ["qwen2", "Q8_0"], ["qwen3", "Q4_K_M"], ["llama", "Q6_K"], ["qwen2", "Q4_0"], ["qwen3", "Q5_K"], ["llama", "Q4_1"], ["qwen2", "Q5_1"]] as const;

describe.skipIf(!HAVE_MODELS)("ISA paths", () => {
  const cases: [string, () => Promise<string>, number[]][] = [
    ["stories260K F32", async () => STORIES, [1, 403, 407, 261, 378]],
    ["TinyLlama Q4_0", async () => TINYLLAMA, [1, 450, 4996, 17354, 1701]],
    ...SYNTH.map(([arch, type]) => [`synthetic ${arch} ${type}`, () => getFixture(arch, type), [1, 20, 300, 41, 5, 66, 500]] as [string, () => Promise<string>, number[]]),
  ];
  for (const [name, getFile, tokens] of cases) {
    test(name, async () => {
      const file = await getFile();
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
