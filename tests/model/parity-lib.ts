/** Shared by the parity tests: run rosetta (ggml) and llama.cpp on the same tokens and compare every point. */
import { expect } from "vitest";

import { Engine } from "../../src/model/engine.js";
import { runLlamaCppTrace } from "../../src/reference/llamacpp.js";
import { pointKey, LAYER_POINTS } from "../../src/trace/types.js";
import { HAVE_MODELS, nmse, relL2 } from "./helpers.js";

export const GEN = 50;
const NEAR_TIE = 1e-4;

async function bridgeOrSkip(): Promise<boolean> {
  try {
    const { loadLlamaBridge } = await import("../../src/bindings/llama.js");
    loadLlamaBridge("default");
    return true;
  } catch (e) {
    console.warn(`llama.cpp parity: skipped, the bridge is unavailable (${(e as Error).message.split("\n")[0]})`);
    return false;
  }
}
export const HAVE_BRIDGE = HAVE_MODELS && (await bridgeOrSkip());

export interface ParityCase {
  name: string;
  file: string;
  tokens: number[];
  metric: "relL2" | "nmse";
  bound: number;
}

export interface ParityResult {
  worst: number; // over every compared point
  key: string;
  worstPrompt: number; // over the prompt step only
  points: number;
  over: number; // points above the case's bound
  ties: number; // token flips at a near-tie (reference top-2 gap < NEAR_TIE)
  flipStep: number | null; // first generated token that differs (comparison stops there), null if none
  flipGap: number | null; // the reference's top-2 logit gap at that position
}

/** Runs both engines and measures every point; the caller asserts on the result. */
export async function checkParity(c: ParityCase, gen = GEN): Promise<ParityResult> {
  const ref = await runLlamaCppTrace({ model: c.file, tokens: c.tokens, gen, full: ["*"], threads: 1 });
  const e = await Engine.open(c.file, { numerics: "ggml" });
  const mine = new Map<string, Float32Array>();
  let step = 0;
  const r = e.generate(c.tokens, {
    nGen: gen, promptLogits: "all", keepKq: true, onStep: (s) => (step = s),
    capture: (p, l, x) => mine.set(`s${step}.${pointKey(p, l)}`, Float32Array.from(x)),
  });
  e.close();
  // tokens: after the first flip the sequences are not comparable, so points are compared up to it
  let ties = 0, steps = gen, flipStep: number | null = null, flipGap: number | null = null;
  for (let s = 0; s < gen; s++) {
    if (r.generated[s] === ref.trace.input.generated[s]) continue;
    const top = ref.trace.logits!.top[c.tokens.length - 1 + s];
    flipGap = top.logits[0] - top.logits[1];
    flipStep = s;
    if (flipGap < NEAR_TIE) ties++;
    steps = s;
    break;
  }
  const res: ParityResult = { worst: 0, key: "", worstPrompt: 0, points: 0, over: 0, ties, flipStep, flipGap };
  for (const [name, t] of ref.tensors) {
    const s = Number(name.slice(1, name.indexOf(".")));
    if (name === "logits.all" || s > steps) continue;
    const got = mine.get(name);
    expect(got, `${c.name}: rosetta did not capture ${name}`).toBeDefined();
    const v = c.metric === "relL2" ? relL2(t.data, got!) : nmse(t.data, got!);
    expect(Number.isNaN(v), `${c.name}: ${name} is NaN`).toBe(false);
    if (v > res.worst) [res.worst, res.key] = [v, name];
    if (s === 0) res.worstPrompt = Math.max(res.worstPrompt, v);
    if (v > c.bound) res.over++;
    res.points++;
  }
  // nothing silently skipped: every point (kq_softmax included) was compared at every compared step
  const cfg = e.model.config;
  expect(res.points).toBeGreaterThanOrEqual((steps + 1) * (3 + LAYER_POINTS.length * cfg.nLayer));
  return res;
}

export function describeResult(c: ParityCase, r: ParityResult, gen = GEN): string {
  const flip = r.flipStep === null ? `all ${gen} tokens identical` : `first token flip at step ${r.flipStep} (reference gap ${r.flipGap!.toExponential(1)})`;
  return `${c.name}: ${r.points} points, worst ${c.metric} ${r.worst.toExponential(2)} at ${r.key} (prompt ${r.worstPrompt.toExponential(2)}), ${r.over} over ${c.bound}, ${flip}`;
}
