/**
 * Helpers for the APR run tests: trace a model with rosetta's engine, compare two traces bit for bit
 * (points and their summaries, full tensors, logits), and build reference GGUFs from an APR's weights.
 */
import { writeFileSync } from "node:fs";

import { expect } from "vitest";

import { loadApr } from "../../src/formats/apr.js";
import { irToGguf, readGgufIr, type ModelIr } from "../../src/convert/ir.js";
import { roleKey } from "../../src/formats/model.js";
import { roleOfName } from "../../src/formats/roles.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import type { Numerics } from "../../src/bindings/kernels.js";
import type { F32Tensor } from "../../src/trace/safetensors.js";
import type { Trace } from "../../src/trace/types.js";
import { values } from "./values.js";

export const NUMERICS: Numerics[] = ["ggml", "exact"];

export interface Traced {
  trace: Trace;
  tensors: Map<string, F32Tensor>;
}

/** Prompt + `gen` greedy steps, every full tensor kept (logits included), one thread: deterministic. */
export async function trace(model: string, numerics: Numerics, o: { prompt?: string; tokens?: number[]; gen?: number; full?: string[] } = {}): Promise<Traced> {
  return runRosettaTrace({
    model, numerics, threads: 1, gen: o.gen ?? 3, full: o.full ?? ["*"], kq: true,
    ...(o.tokens ? { tokens: o.tokens } : { prompt: o.prompt ?? "Once upon a time" }),
  });
}

/** Bit-identical: tokens, every point (shape, steps, all/last summaries), every full tensor, the logits. */
export function expectSameTrace(a: Traced, b: Traced, label: string): void {
  expect(a.trace.input, label).toEqual(b.trace.input);
  expect(a.trace.points.length, label).toBeGreaterThan(0);
  expect(a.trace.points, label).toEqual(b.trace.points);
  expect(a.trace.logits, label).toEqual(b.trace.logits);
  expect([...a.tensors.keys()].sort(), label).toEqual([...b.tensors.keys()].sort());
  for (const [k, t] of a.tensors) {
    const u = b.tensors.get(k)!;
    expect(t.shape, `${label} ${k}`).toEqual(u.shape);
    const same = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength));
    expect(same, `${label}: full tensor ${k} differs`).toBe(true);
  }
}

/** Relative L2 distance of two equally long vectors (f64). */
export function relL2(a: Float32Array, b: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

/**
 * An F32 GGUF with the original GGUF's metadata and names whose every tensor holds the APR file's
 * dequantized values for the same role: the reference an APR run must equal bit for bit.
 */
export async function f32GgufFromApr(gguf: string, apr: string, out: string, mutate?: (ir: ModelIr) => void): Promise<string> {
  const ir = await readGgufIr(gguf);
  const a = await loadApr(apr, { logLayout: false });
  ir.tensors = ir.tensors.map((t) => {
    const r = roleOfName(t.name);
    const v = r ? a.byRole.get(roleKey(r.role, r.layer)) : undefined;
    if (!v) throw new Error(`${apr}: no tensor for ${t.name}`);
    const x = values(a, v);
    return { ...t, type: 0, data: new Uint8Array(x.buffer, x.byteOffset, x.byteLength) };
  });
  mutate?.(ir);
  writeFileSync(out, irToGguf(ir));
  return out;
}
