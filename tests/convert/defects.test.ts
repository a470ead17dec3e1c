/**
 * The defect injector on stories260K: each defect is visible where it should be (layout verdict,
 * metadata, tensor values) in APR and GGUF outputs, and defects a model cannot carry are refused clearly.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { injectDefect, parseDefect, swapQ4kScalesMins } from "../../src/convert/defects.js";
import { irToGguf, readGgufIr } from "../../src/convert/ir.js";
import { irToApr } from "../../src/convert/to-apr.js";
import { runConvert } from "../../src/cli/commands/ConvertCommand.js";
import { loadModel } from "../../src/formats/index.js";
import { RosettaError } from "../../src/util/errors.js";
import { HAVE_SHARED, STORIES } from "../helpers/shared.js";
import { getFixture } from "../fixtures/lib/index.js";
import { values } from "./values.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-defects-"));

async function variant(spec: string, format: "apr" | "gguf", src = STORIES) {
  const ir = await readGgufIr(src);
  injectDefect(ir, parseDefect(spec), format);
  const p = path.join(dir, `${spec.replace(/[^a-z0-9]/gi, "_")}.${format}`);
  writeFileSync(p, format === "apr" ? await irToApr(ir) : irToGguf(ir));
  return loadModel(p, { logLayout: false });
}

describe.skipIf(!HAVE_SHARED)("defect injector", () => {
  it("transpose:ffn_gate shows TRANSPOSE NEEDED in both formats", async () => {
    for (const f of ["apr", "gguf"] as const) {
      const m = await variant("transpose:ffn_gate@1", f);
      expect(m.layout.find((c) => c.key === "blk.1.ffn_gate")!.verdict).toBe("TRANSPOSE NEEDED");
    }
  });
  it("swap-gate-up and embed-shift move values; rms-eps / rope-base / rope-layout change the config", async () => {
    const base = await loadModel(STORIES, { logLayout: false });
    const sw = await variant("swap-gate-up@2", "apr");
    expect(values(sw, sw.byRole.get("blk.2.ffn_gate")!)).toEqual(values(base, base.byRole.get("blk.2.ffn_up")!));
    const sh = await variant("embed-shift", "gguf");
    const e0 = values(base, base.byRole.get("token_embd")!), e1 = values(sh, sh.byRole.get("token_embd")!);
    expect(e1.subarray(0, 64)).toEqual(e0.subarray(64, 128));
    expect((await variant("rms-eps=1e-2", "gguf")).config.rmsEps).toBe(Math.fround(1e-2));
    expect((await variant("rms-eps=1e-2", "apr")).config.rmsEps).toBe(Math.fround(1e-2));
    expect((await variant("rope-base=500000", "apr")).config.ropeBase).toBe(500000);
    expect((await variant("rope-layout", "apr")).config.ropeLayout).toBe("neox");
    // stories260K's output.weight is already a byte copy of token_embd (llama2.c export): refused there;
    // the synthetic llama fixture has its own output head
    await expect(variant("lm-head-wrong", "apr")).rejects.toThrow(/already equals token_embd\.weight byte for byte/);
    const llama = await getFixture("llama", "F32");
    const lm = await variant("lm-head-wrong", "apr", llama);
    const lbase = await loadModel(llama, { logLayout: false });
    expect(values(lm, lm.byRole.get("output")!)).toEqual(values(lbase, lbase.byRole.get("token_embd")!));
    expect(values(lbase, lbase.byRole.get("output")!)).not.toEqual(values(lbase, lbase.byRole.get("token_embd")!));
    const qk = await variant("qk-permute", "apr");
    const q0 = values(base, base.byRole.get("blk.0.attn_q")!), q1 = values(qk, qk.byRole.get("blk.0.attn_q")!);
    expect(q1.subarray(64, 128)).toEqual(q0.subarray(128, 192)); // head 0: rows 0,2,4,6,1,3,5,7
  });
  it("refuses defects the model or format cannot carry", async () => {
    await expect(variant("swap-qk", "apr")).rejects.toThrow(/n_head == n_head_kv/);
    await expect(variant("rope-layout", "gguf")).rejects.toThrow(/cannot be expressed in a GGUF/);
    await expect(variant("drop-bias", "apr")).rejects.toThrow(/has no attn_q_bias/);
    await expect(variant("q4k-scales-mins:ffn_down", "apr")).rejects.toThrow(/not Q4_K/);
    // the hint must not send the user to `--quantize q4k` in the same command: defects go in before quantization
    await expect(runConvert({ input: STORIES, output: path.join(dir, "q.apr"), quantize: "q4k", inject: "q4k-scales-mins:attn_q" })).rejects.toThrow(/injected before --quantize/);
    expect(() => parseDefect("nope")).toThrow(RosettaError);
  });
  it("convert command: bad flags are clear input errors", async () => {
    await expect(runConvert({ input: STORIES, output: path.join(dir, "x.bin") })).rejects.toThrow(/\.apr or \.gguf/);
    await expect(runConvert({ input: STORIES, output: path.join(dir, "x.apr"), quantize: "int3" })).rejects.toThrow(/--quantize int3/);
    await runConvert({ input: STORIES, output: path.join(dir, "q.apr"), quantize: "apr-q8" });
    const m = await loadModel(path.join(dir, "q.apr"), { logLayout: false });
    expect(m.byRole.get("blk.0.ffn_up")!.typeName).toBe("apr_q8");
    expect(m.byRole.get("token_embd")!.typeName).toBe("f32");
  });
});

describe("Q4_K scales/mins exchange", () => {
  it("is an involution that changes the block", () => {
    const b = Uint8Array.from({ length: 288 }, (_, i) => (i * 73 + 5) & 0xff);
    const s = swapQ4kScalesMins(b);
    expect(Buffer.from(s).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(swapQ4kScalesMins(s)).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(s.subarray(16, 144)).equals(Buffer.from(b.subarray(16, 144)))).toBe(true);
  });
});
