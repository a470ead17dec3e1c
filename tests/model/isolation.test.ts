/**
 * The per-layer isolation hook: layer i run from llama.cpp's own input to layer i reproduces
 * llama.cpp's layer-i points within the parity bound; and fed a perturbed input it moves (so the hook
 * really uses what it is given).
 */
import { describe, expect, test } from "vitest";

import { Engine } from "../../src/model/engine.js";
import { runLayerIsolated } from "../../src/model/isolate.js";
import { runLlamaCppTrace } from "../../src/reference/llamacpp.js";
import { HAVE_MODELS, TINYLLAMA, nmse } from "./helpers.js";

let haveBridge = HAVE_MODELS;
try {
  if (haveBridge) (await import("../../src/bindings/llama.js")).loadLlamaBridge("default");
} catch (e) {
  console.warn(`isolation: skipped, the llama.cpp bridge is unavailable (${(e as Error).message.split("\n")[0]})`);
  haveBridge = false;
}

describe.skipIf(!haveBridge)("per-layer isolation", () => {
  test("TinyLlama Q4_0: every layer from llama.cpp's input", async () => {
    const tokens = [1, 450, 4996, 17354, 1701, 432, 17204];
    const ref = await runLlamaCppTrace({ model: TINYLLAMA, tokens, gen: 0, full: ["*"], threads: 1 });
    const e = await Engine.open(TINYLLAMA, { numerics: "ggml" });
    let worst = 0;
    for (let l = 0; l < e.model.config.nLayer; l++) {
      const input = ref.tensors.get(l === 0 ? "s0.embd" : `s0.blk.${l - 1}.l_out`)!.data;
      runLayerIsolated(e, {
        layer: l, input,
        capture: (p, layer, x) => {
          expect(layer).toBe(l);
          const v = nmse(ref.tensors.get(`s0.blk.${l}.${p}`)!.data, x);
          expect(v, `blk.${l}.${p}`).toBeLessThanOrEqual(1e-6);
          worst = Math.max(worst, v);
        },
      });
    }
    // a perturbed input changes the output: the hook computes from what it is given
    const input = Float32Array.from(ref.tensors.get("s0.blk.2.l_out")!.data, (x) => x * 1.5);
    const out = runLayerIsolated(e, { layer: 3, input });
    expect(nmse(ref.tensors.get("s0.blk.3.l_out")!.data, out)).toBeGreaterThan(1e-3);
    e.close();
    console.log(`isolation: worst NMSE over all layers ${worst.toExponential(2)}`);
  });
});
