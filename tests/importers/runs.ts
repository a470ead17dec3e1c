/**
 * Shared by the importer tests: rosetta's own full-tensor runs of the llama F32 fixture and of a copy
 * with a real divergence in layer 1 (ffn_down scaled by 1.5), from which each test writes a foreign dump
 * in that engine's exact format.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";

import { f32Bytes, irToGguf, readGgufIr, toF32 } from "../../src/convert/ir.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import type { F32Tensor } from "../../src/trace/safetensors.js";
import type { Trace } from "../../src/trace/types.js";
import { getFixture } from "../fixtures/lib/index.js";

export interface Run {
  trace: Trace;
  tensors: Map<string, F32Tensor>;
}

/** The fixture model, its run on `tokens`, and the run of the layer-1 defect copy (written into `dir`). */
export async function goodAndBadRuns(dir: string, tokens: number[]): Promise<{ model: string; good: Run; bad: Run }> {
  const model = await getFixture("llama", "F32");
  const good = await runRosettaTrace({ model, tokens, full: ["*"], hash: false });
  const ir = await readGgufIr(model);
  const t = ir.tensors.find((x) => x.name === "blk.1.ffn_down.weight")!;
  t.data = f32Bytes(toF32(t).map((v) => v * 1.5));
  const badModel = path.join(dir, "bad.gguf");
  writeFileSync(badModel, irToGguf(ir));
  const bad = await runRosettaTrace({ model: badModel, tokens, full: ["*"], hash: false });
  return { model, good, bad };
}

/** Writes `text` to `dir/name` and returns the path. */
export function writeIn(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}
