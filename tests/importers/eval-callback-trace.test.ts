/**
 * The real `llama-eval-callback` dumps in ../shared/fixtures/llama-eval-callback (llama.cpp's own example
 * program on stories260K and TinyLLama-v0 Q4_0) imported as traces (src/importers/eval-callback-trace.ts)
 * and compared with rosetta's own run of the same models and tokens: counts and means from the printed
 * sums, the printed elements checked against rosetta's full tensors within the printing precision. What
 * a dump holds cannot verify a point, so the verdict is MATCH on summaries only (verifiedOn, never a full-tensor MATCH), with no
 * divergence; a real difference (a weight scaled in one layer) is found at its point; bad input is one
 * line, exit 2.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { f32Bytes, irToGguf, readGgufIr, toF32 } from "../../src/convert/ir.js";
import { renderText } from "../../src/compare/report/text.js";
import { importEvalCallback } from "../../src/importers/eval-callback-trace.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { runCli } from "../helpers/cli.js";
import { SHARED_DIR, STORIES, TINYLLAMA } from "../helpers/shared.js";

const DUMPS = path.join(SHARED_DIR, "fixtures/llama-eval-callback");
const HAVE = (() => {
  try {
    readFileSync(path.join(DUMPS, "stories260K.txt"));
    return true;
  } catch {
    return false;
  }
})();
if (!HAVE) console.warn(`[skip] ${DUMPS} is absent: the llama-eval-callback import tests need ../shared`);

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-evalcb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The dump and its log copied side by side into a temp folder (the importer finds the log by name). */
function dump(name: string): string {
  for (const ext of [".txt", ".stderr.txt"]) copyFileSync(path.join(DUMPS, name + ext), path.join(dir, name + ext));
  return path.join(dir, `${name}.txt`);
}

describe.skipIf(!HAVE)("llama-eval-callback dumps as traces", () => {
  for (const [name, model, T] of [["stories260K", STORIES, 5], ["TinyLLama-v0-Q4_0", TINYLLAMA, 5]] as const) {
    it(`${name}: every mapped point agrees with rosetta's own run (count, mean, printed elements); MATCH on summaries only, nothing diverges`, async () => {
      const file = dump(name);
      const imp = importEvalCallback(file, readFileSync(file, "utf8")).trace;
      expect(imp.input.tokens).toHaveLength(T);
      const r = await runComparison({ a: { path: file }, b: { path: model }, tokens: imp.input.tokens });
      expect(r.counts.diverged + r.counts.nonfinite + r.counts["sample-mismatch"], r.diagnosis?.evidence.join("; ")).toBe(0);
      expect(r.counts["summary-agree"]).toBeGreaterThan(70);
      expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]);
      // the report says what was and was not verified, and never calls it a full-tensor match
      const text = renderText(r);
      expect(text).toMatch(/A is imported \(llama-eval-callback\): .*it can verify summaries and the printed elements only: agreement there is never a full-tensor match/);
      expect(text).toMatch(/MATCH on summaries: nothing failed, but all \d+ of the compared points agree in summaries only: not a full-tensor match/);
      expect(text).not.toMatch(/PASSED/);
      const q = r.points.find((p) => p.key === "blk.0.q_rope")!;
      expect(q.note).toMatch(/printed element\(s\) agree within the printing precision \(±5e-5\)/);
      // the last layer's FFN ran on the last token only in this dump: compared as the last-token sample
      const lastFfn = r.points.find((p) => p.key === "logits")!;
      expect(lastFfn.all).toBeNull();
      expect(lastFfn.last).not.toBeNull();
    }, 60_000);
  }

  it("a real difference: stories260K with blk.2.attn_q scaled by 1.2 diverges at blk.2.q, found from the dump", async () => {
    const file = dump("stories260K");
    const ir = await readGgufIr(STORIES);
    const t = ir.tensors.find((x) => x.name === "blk.2.attn_q.weight")!;
    t.data = f32Bytes(toF32(t).map((v) => v * 1.2));
    const bad = path.join(dir, "bad.gguf");
    writeFileSync(bad, irToGguf(ir));
    const r = await runComparison({ a: { path: file }, b: { path: bad }, tokens: [1, 403, 407, 261, 378] });
    expect(r.verdict).toBe("DIVERGED");
    expect(r.firstDivergence?.key).toBe("blk.2.q");
    expect(r.firstDivergence?.note).toMatch(/printed element\(s\) differ beyond the printing precision/);
  }, 60_000);

  it("bad input: no log beside the dump, a garbled dump: one line, exit 2", () => {
    const lone = path.join(dir, "lone.txt");
    copyFileSync(path.join(DUMPS, "stories260K.txt"), lone);
    const r = runCli(["import", lone, "--out", path.join(dir, "o1")]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/input token ids are unknown: put llama-eval-callback's log \(stderr\) beside it as .*lone\.stderr\.txt/);
    const text = readFileSync(path.join(DUMPS, "stories260K.txt"), "utf8").split("\n");
    text.splice(40, 1, "    [ garbage, 1.0 ]");
    const g = path.join(dir, "garbled.txt");
    writeFileSync(g, text.join("\n"));
    copyFileSync(path.join(DUMPS, "stories260K.stderr.txt"), path.join(dir, "garbled.stderr.txt"));
    const r2 = runCli(["import", g, "--out", path.join(dir, "o2")]);
    expect(r2.code).toBe(2);
    expect(r2.stderr.trim().split("\n")).toHaveLength(1);
    expect(r2.stderr).toMatch(/garbled\.txt:\d+/);
  });
});
