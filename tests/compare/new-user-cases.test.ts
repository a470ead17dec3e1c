/**
 * The cases a new-user pass found outside the old signature list (issue 13), each as it was reported:
 * a rescaled F32 tensor that PASSED, an exchange of two tensors never called a swap, a qwen3 q_norm
 * scale read as a RoPE layout mismatch, a zeroed row and a 3% change read as "same weights", a
 * non-square transposed tensor with no first divergence in the JSON, and an all-Q4_K APR against a
 * Q4_K_M GGUF called "unexplained".
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { exitCodeOf } from "../../src/cli/commands/CompareCommand.js";
import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { f32Bytes, irToGguf, readGgufIr, toF32, type ModelIr } from "../../src/convert/ir.js";
import { irToApr } from "../../src/convert/to-apr.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-newuser-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKENS = [1, 17, 42, 9, 23];
let n = 0;
async function write(ir: ModelIr, format: "gguf" | "apr" = "gguf", quantize?: "q4k"): Promise<string> {
  const file = path.join(dir, `c${n++}.${format}`);
  writeFileSync(file, format === "apr" ? await irToApr(ir, quantize ? { quantize } : {}) : irToGguf(ir));
  return file;
}
const tensor = (ir: ModelIr, name: string) => ir.tensors.find((t) => t.name === name)!;
function mapF32(ir: ModelIr, name: string, f: (x: number, i: number) => number): void {
  const t = tensor(ir, name);
  t.data = f32Bytes(toF32(t).map(f));
}

describe("defects just outside the old signature list", () => {
  it("an F32 weight scaled by 3% fails (exact regime) and is named a uniform scale with its factor", async () => {
    const f = await getFixture("llama", "F32");
    const ir = await readGgufIr(f);
    mapF32(ir, "blk.1.ffn_up.weight", (x) => x * 1.03);
    const r = await runComparison({ a: { path: await write(ir) }, b: { path: f }, tokens: TOKENS });
    expect(r.regime?.id).toBe("exact");
    expect(r.verdict).toBe("DIVERGED");
    expect(exitCodeOf(r, true)).toBe(1);
    expect(r.diagnosis?.id).toBe("tensor-scaled");
    expect(r.diagnosis?.evidence.join(" ")).toMatch(/A = 1\.03 x B \(uniform scale\)/);
    expect(r.firstDivergence?.key).toBe("blk.1.ffn_up");
    expect(r.experiments?.minimal).toEqual(["blk.1.ffn_up"]);
  });

  it("two same-shaped tensors of one layer exchanged (neither Q/K nor gate/up) are one swap naming both", async () => {
    const f = await getFixture("llama", "F32");
    const ir = await readGgufIr(f);
    const q = tensor(ir, "blk.0.attn_q.weight"), o = tensor(ir, "blk.0.attn_output.weight");
    [q.data, o.data] = [o.data, q.data];
    const r = await runComparison({ a: { path: await write(ir) }, b: { path: f }, tokens: TOKENS });
    expect(r.diagnosis?.id).toBe("tensors-swapped");
    expect(r.diagnosis?.evidence.join(" ")).toMatch(/blk\.0\.attn_q.*blk\.0\.attn_output.*exchanged/);
    expect(r.findings.filter((x) => x.id === "tensors-swapped")).toHaveLength(1);
    expect([...(r.experiments?.minimal ?? [])].sort()).toEqual(["blk.0.attn_output", "blk.0.attn_q"]);
  });

  it("a qwen3 q_norm scaled by 1.5 is a rescaled tensor first seen at q_rope, not a RoPE layout mismatch", async () => {
    const f = await getFixture("qwen3", "F32");
    const ir = await readGgufIr(f);
    mapF32(ir, "blk.0.attn_q_norm.weight", (x) => x * 1.5);
    const r = await runComparison({ a: { path: await write(ir) }, b: { path: f }, tokens: TOKENS });
    expect(r.diagnosis?.id).toBe("tensor-scaled");
    expect(r.diagnosis?.where).toBe("blk.0.attn_q_norm");
    expect(r.firstDivergence?.key).toBe("blk.0.q_rope");
  });

  it("a zeroed row and a 3% non-uniform change are findings, never 'same weights'", async () => {
    const f = await getFixture("llama", "F32");
    const ir = await readGgufIr(f);
    const cols = tensor(ir, "blk.1.ffn_gate.weight").dims[1];
    mapF32(ir, "blk.1.ffn_gate.weight", (x, i) => (Math.floor(i / cols) === 7 ? 0 : x));
    mapF32(ir, "blk.0.attn_v.weight", (x, i) => x * (1 + 0.03 * Math.sin(i)));
    const r = await runComparison({ a: { path: await write(ir) }, b: { path: f }, tokens: TOKENS, threshold: 1e-3 });
    const gate = r.weights!.tensors.find((t) => t.key === "blk.1.ffn_gate")!;
    expect(gate.status).toBe("corrupted");
    expect(gate.note).toMatch(/1 of \d+ rows differ \(zeroed\): 7/);
    const v = r.weights!.tensors.find((t) => t.key === "blk.0.attn_v")!;
    expect(v.status).not.toBe("identical");
    expect(r.verdict).toBe("DIVERGED");
    expect(exitCodeOf(r, true)).toBe(1);
    expect([...(r.experiments?.minimal ?? [])].sort()).toEqual(["blk.0.attn_v", "blk.1.ffn_gate"]);
  });

  it("a non-square tensor stored transposed: the JSON has a first divergence (the consuming point) and the repaired side is run", async () => {
    const f = await getFixture("llama", "F32");
    const ir = await readGgufIr(f);
    injectDefect(ir, parseDefect("transpose:attn_k@1"), "gguf");
    const r = await runComparison({ a: { path: await write(ir) }, b: { path: f }, tokens: TOKENS });
    expect(r.diagnosis?.id).toBe("layout-transposed");
    expect(r.firstDivergence?.key).toBe("blk.1.k");
    expect(r.firstDivergence?.layer).toBe(1);
    expect(r.diagnosis?.evidence.join(" ")).toMatch(/transposed at load \(in memory\), A runs and every point matches/);
    expect(r.experiments?.minimal).toEqual(["blk.1.attn_k"]);
  });
});

describe.skipIf(!tryBridge("default"))("bands role by role", () => {
  it("an APR quantized to Q4_K throughout against the Q4_K_M GGUF it came from (token_embd Q4_K vs Q6_K) is not 'unexplained'", async () => {
    const f = await getFixture("llama", "F32");
    const km = await getFixture("llama", "Q4_K_M");
    const apr = await write(await readGgufIr(f), "apr", "q4k");
    const r = await runComparison({ a: { path: apr }, b: { path: km }, tokens: TOKENS });
    expect(r.diagnosis?.id ?? "none").not.toBe("unexplained-divergence");
    expect(r.regime?.id).toBe("band");
    expect(["MATCH", "DRIFT"]).toContain(r.verdict);
  });
});
