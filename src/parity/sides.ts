/**
 * The two sides of a parity run. llama.cpp (src/reference bridge, pinned settings, no eval callback so
 * nothing perturbs it) generates greedily and returns full logits; rosetta (src/model) is teacher-forced
 * with the reference's tokens in the same batch layout (prompt as one batch, then one token per step)
 * and returns the full logits of the same positions.
 */
import { loadLlamaBridge, type LlamaBridge } from "../bindings/llama.js";
import { currentIsa, setIsa } from "../bindings/kernels.js";
import { Engine } from "../model/engine.js";
import { forward } from "../model/forward.js";
import type { IsaName, Numerics } from "./types.js";

/** Settings the reference is pinned to (recorded in every result and in the manifest). */
export const REFERENCE_SETTINGS = {
  backend: "default",
  threads: 1,
  useExtraBufts: false,
  flashAttention: false,
  kvType: "f32",
  batchLayout: "prompt as one ubatch; each generated token its own decode",
  sampling: "greedy (argmax, lower id on ties)",
  tokenizer: "llama_tokenize(add_special=true, parse_special=false)",
} as const;

export interface SideLogits {
  /** [rows, vocab]: row t = logits at position promptLen - 1 + t. */
  logits: Float32Array;
  vocab: number;
  ms: number;
}

export interface ReferenceRun extends SideLogits {
  generated: number[];
}

export function openReference(): LlamaBridge {
  return loadLlamaBridge(REFERENCE_SETTINGS.backend);
}

export async function runReference(b: LlamaBridge, model: string, tokens: number[], nGen: number): Promise<ReferenceRun> {
  const t0 = performance.now();
  const r = await b.run({ model, tokens, gen: nGen, threads: REFERENCE_SETTINGS.threads, useExtraBufts: REFERENCE_SETTINGS.useExtraBufts, callback: false, points: false });
  const V = r.model.nVocab;
  const from = (tokens.length - 1) * V;
  return { logits: r.logits.slice(from, from + r.generated.length * V), vocab: V, generated: r.generated, ms: performance.now() - t0 };
}

export interface RosettaSide {
  engine: Engine;
  numerics: Numerics;
}

export async function openRosetta(model: string, numerics: Numerics, threads: number): Promise<RosettaSide> {
  return { engine: await Engine.open(model, { numerics, threads }), numerics };
}

/**
 * Teacher forcing: logits at promptLen-1, then one decode per forced token; `isa` is forced first and read
 * back after. The prompt batch computes logits for every row, as the reference does (the bridge asks for
 * every position): the output matmul then has T rows and takes llama.cpp's batched (tinyBLAS) order, so
 * "last only" would differ from llama.cpp by an ulp at the first compared position.
 */
export function runRosetta(side: RosettaSide, prompt: number[], forced: number[], isa: IsaName | null): SideLogits & { isaRan: string } {
  if (isa) setIsa(isa);
  const t0 = performance.now();
  const m = side.engine.model;
  const V = m.config.nVocab;
  const n = forced.length;
  const st = side.engine.newState(prompt.length + n);
  const out = new Float32Array(n * V);
  let last = forward(m, prompt, st, { logits: "all" });
  for (let t = 0; t < n; t++) {
    out.set(last.subarray(last.length - V), t * V);
    if (t + 1 < n) last = forward(m, [forced[t]], st, { logits: "last" });
  }
  return { logits: out, vocab: V, ms: performance.now() - t0, isaRan: currentIsa() };
}
