/**
 * transformers' own model-addition debugger, run for real (tests/helpers/hf_debugger_dump.py): stories260K
 * loaded by transformers' GGUF loader and run in PyTorch float32, its call tree saved with use_repr=False
 * (every tensor a safetensors file beside the JSON), imported and compared against rosetta's own run of
 * the GGUF: every mapped point matches on full tensors (Q/K modulo the NORM/NEOX row order: transformers
 * rotates with rotate_half, the GGUF stores the rows permuted for NORM); with use_repr=True (statistics
 * only) the same comparison is a MATCH on summaries only. Needs torch and transformers in .venv-python
 * (`npm run python:setup`); skipped with a message without them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { runComparison } from "../../src/pipeline/run-comparison.js";
import { REPO_ROOT, SHARED_DIR, STORIES } from "../helpers/shared.js";

const PY = path.join(REPO_ROOT, ".venv-python/bin/python");
const HAVE_TORCH = existsSync(PY) && spawnSync(PY, ["-c", "import torch, transformers, gguf"], { stdio: "ignore" }).status === 0;
const HAVE_MODEL = existsSync(STORIES);
if (!HAVE_TORCH) process.stderr.write(`[tests] torch/transformers/gguf are not importable by ${PY}: the real transformers-debugger tests are skipped (run \`npm run python:setup\`)\n`);
else if (!HAVE_MODEL) process.stderr.write(`[tests] ${SHARED_DIR}/models is absent: the real transformers-debugger tests are skipped\n`);

const TOKENS = [1, 403, 407, 261, 378];
const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-hfdebug-real-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dump(out: string, extra: string[] = []): string {
  const r = spawnSync(PY, [path.join(REPO_ROOT, "tests/helpers/hf_debugger_dump.py"), STORIES, out, ...TOKENS.map(String), ...extra], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`hf_debugger_dump.py failed: ${r.stderr}`);
  return path.join(out, "LlamaForCausalLM_debug_tree_FULL_TENSORS.json");
}

describe.skipIf(!HAVE_TORCH || !HAVE_MODEL)("transformers' model-addition debugger, run for real on stories260K", () => {
  it("use_repr=False: every mapped point matches rosetta's run on full tensors (float32 rounding)", async () => {
    const f = dump(path.join(dir, "full"));
    const r = await runComparison({ a: { path: f }, b: { path: STORIES } });
    expect(r.a.tokens).toEqual(TOKENS); // from the debugger's input_ids safetensors file
    expect(r.counts.diverged + r.counts.nonfinite + r.counts["sample-mismatch"] + r.counts["summary-agree"], r.diagnosis?.evidence.join("; ")).toBe(0);
    expect(r.counts.match).toBeGreaterThan(60);
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "full-tensors"]);
    const worst = Math.max(...r.points.filter((p) => p.all).map((p) => Number(p.all!.nmse)));
    expect(worst).toBeLessThan(1e-9); // measured 1.3e-12 (PyTorch f32 vs ggml f32 summation order)
    const q = r.points.find((p) => p.key === "blk.0.q")!;
    expect(q.status).toBe("match");
    expect(q.note).toMatch(/modulo the NORM\/NEOX row order/);
    expect(r.findings.filter((x) => x.fatal)).toEqual([]);
  }, 120_000);

  it("use_repr=True (statistics only): a MATCH on summaries only, never a full-tensor match", async () => {
    const f = dump(path.join(dir, "repr"), ["--repr"]);
    const r = await runComparison({ a: { path: f }, b: { path: STORIES } });
    expect(r.counts.diverged).toBe(0);
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]);
  }, 120_000);
});
