/**
 * The bridge runs the same llama.cpp as node-llama-cpp's own JS API: logits at every prompt position are
 * bit-identical to `controlledEvaluate` (flash attention off, same threads and batch), for an F32, a Q8_0
 * and a Q4_K_M model. Both sides use llama.cpp's own variant choice (`auto` =
 * ggml_backend_load_all_from_path), because the JS side cannot be pinned; the test checks both report the
 * same CPU features. The JS side runs in a child process (js-logits.mjs).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, describe, expect, it } from "vitest";

import { getFixture } from "../fixtures/lib/index.js";
import { HAVE_SHARED, STORIES } from "../helpers/shared.js";
import { sameBits, tryBridge } from "../helpers/bridge.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const bridge = tryBridge("auto");
const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-js-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!bridge)("llama.cpp reference: logits bit-identical to node-llama-cpp's JS API", () => {
  it("F32, Q8_0 and Q4_K_M models, every prompt position", async () => {
    const models: [string, string][] = [
      ["llama F32 fixture", await getFixture("llama", "F32")],
      ["qwen2 Q8_0 fixture", await getFixture("qwen2", "Q8_0")],
      ["llama Q4_K_M fixture", await getFixture("llama", "Q4_K_M")],
      ["qwen3 Q4_K_M fixture", await getFixture("qwen3", "Q4_K_M")],
    ];
    if (HAVE_SHARED) models.push(["stories260K (F32)", STORIES]);
    const tokens = [1, 403, 407, 261, 378, 383, 286, 261, 376, 298, 315, 421];
    const ours = [];
    for (const [, model] of models) ours.push(await bridge!.run({ model, tokens, threads: 1, callback: false }));
    const jobs = models.map(([, model], i) => ({
      model, tokens, threads: 1, contextSize: ours[i].nCtx, vocab: ours[i].model.nVocab, out: path.join(tmp, `js${i}.bin`),
    }));
    const r = spawnSync(process.execPath, [path.join(HERE, "js-logits.mjs"), JSON.stringify(jobs)], { encoding: "utf8", timeout: 110_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(report.gpu).toBe(false);
    expect(report.systemInfo).toBe(bridge!.backend.systemInfo);
    models.forEach(([name], i) => {
      const js = new Float32Array(readFileSync(jobs[i].out).buffer.slice(0));
      expect(js.length, name).toBe(ours[i].logits.length);
      expect(sameBits(js, ours[i].logits), `${name}: logits differ from node-llama-cpp`).toBe(true);
    });
    process.stderr.write(`[js-parity] ${models.length} models bit-identical; variant ${bridge!.backend.loaded} (${bridge!.backend.systemInfo.trim()})\n`);
  });
});
