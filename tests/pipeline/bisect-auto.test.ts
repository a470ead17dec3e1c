/**
 * `rosetta bisect`'s automatic search (the session behind `--auto` and `auto`) on defect pairs of several
 * kinds, each minimal set checked against the injected defect: a rescaled tensor, an exchange across
 * layers, data transposed in place, a metadata key, corrupted Q4_K scales, and a pair whose only
 * difference is numerics (nothing to transplant). Also a `--script` replay on a metadata defect.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { f32Bytes, irToGguf, readGgufIr, toF32, type ModelIr } from "../../src/convert/ir.js";
import { BisectSession } from "../../src/pipeline/bisect.js";
import { openComparison } from "../../src/pipeline/run-comparison.js";
import { getFixture } from "../fixtures/lib/index.js";
import { runCli } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-bisect-auto-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKENS = [1, 17, 42, 9, 23];
let n = 0;

async function variant(base: string, edit: (ir: ModelIr) => void): Promise<string> {
  const ir = await readGgufIr(base);
  edit(ir);
  const file = path.join(dir, `v${n++}.gguf`);
  writeFileSync(file, irToGguf(ir));
  return file;
}

async function autoOn(a: string, b: string): Promise<{ minimal: string[] | null; text: string }> {
  const s = await openComparison({ a: { path: a }, b: { path: b }, tokens: TOKENS });
  let text = "";
  const session = new BisectSession(s, (x) => void (text += x));
  try {
    const r = await session.auto();
    return { minimal: r.minimal, text };
  } finally {
    session.close();
  }
}

const tensor = (ir: ModelIr, name: string) => ir.tensors.find((t) => t.name === name)!;

describe("bisect auto finds exactly the injected defect", () => {
  it("a tensor scaled by 5%, an exchange across layers, data transposed in place, a metadata key", async () => {
    const f = await getFixture("qwen2", "F32");
    const cases: [string, (ir: ModelIr) => void, string[]][] = [
      ["scale", (ir) => { const t = tensor(ir, "blk.0.attn_v.weight"); t.data = f32Bytes(toF32(t).map((x) => x * 1.05)); }, ["blk.0.attn_v"]],
      ["exchange across layers", (ir) => { const x = tensor(ir, "blk.0.ffn_down.weight"), y = tensor(ir, "blk.1.ffn_down.weight"); [x.data, y.data] = [y.data, x.data]; }, ["blk.0.ffn_down", "blk.1.ffn_down"]],
      ["transpose-data", (ir) => injectDefect(ir, parseDefect("transpose-data:attn_output@1"), "gguf"), ["blk.1.attn_output"]],
      ["rms eps", (ir) => injectDefect(ir, parseDefect("rms-eps=1e-3"), "gguf"), ["meta:rmsEps"]],
    ];
    for (const [what, edit, want] of cases) {
      const r = await autoOn(await variant(f, edit), f);
      expect(r.minimal?.slice().sort(), `${what}:\n${r.text}`).toEqual(want.slice().sort());
      expect(r.text, what).toMatch(/minimal set \(\d+ rerun\(s\)\)/);
    }
  }, 120_000);

  it("Q4_K scales and mins exchanged in one tensor of a Q4_K_M file", async () => {
    const f = await getFixture("llama", "Q4_K_M");
    const r = await autoOn(await variant(f, (ir) => injectDefect(ir, parseDefect("q4k-scales-mins:ffn_gate@1"), "gguf")), f);
    expect(r.minimal).toEqual(["blk.1.ffn_gate"]);
  }, 120_000);

  it("nothing to transplant: two numerics of one file", async () => {
    const f = await getFixture("llama", "F16");
    const s = await openComparison({ a: { path: f }, b: { path: f, numerics: "exact" }, tokens: TOKENS, threshold: 1e-12 });
    let text = "";
    const session = new BisectSession(s, (x) => void (text += x));
    try {
      const r = await session.auto();
      expect(r.minimal).toBeNull();
      expect(text).toMatch(/nothing differs between the two files/);
    } finally {
      session.close();
    }
  }, 120_000);

  it("--script on a metadata defect: take meta:ropeBase, exit 0", async () => {
    const f = await getFixture("llama", "F32");
    const bad = await variant(f, (ir) => injectDefect(ir, parseDefect("rope-base=20000"), "gguf"));
    const script = path.join(dir, "s.txt");
    writeFileSync(script, "config\ntake meta:ropeBase\n");
    const r = runCli(["-q", "bisect", bad, f, "--tokens", "1,2,3", "--script", script]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/ropeBase: A 20000  B 10000 +\(take meta:ropeBase\)/);
    expect(r.stdout).toMatch(/after: none/);
  }, 120_000);
});
