/**
 * Reference traces committed under traces/ (summaries and top-k logits only, no full tensors) must match
 * what llama.cpp produces now, bit for bit: the test regenerates each one in memory and compares the
 * serialized text. `npm run traces:regen` (ROSETTA_REGEN_TRACES=1) rewrites them instead.
 * They are recorded with the default pinned CPU variant; on a machine where another variant loads, the
 * comparison is skipped with a message (the numerics legitimately differ).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { runLlamaCppTrace, type LlamaTraceOptions } from "../../src/reference/llamacpp.js";
import { readTrace, serializeTrace } from "../../src/trace/io.js";
import { getFixture, type FixtureArch } from "../fixtures/lib/index.js";
import { HAVE_SHARED, MODELS_DIR, REPO_ROOT } from "../helpers/shared.js";
import { tryBridge } from "../helpers/bridge.js";

const TRACES = path.join(REPO_ROOT, "traces");
const REGEN = process.env.ROSETTA_REGEN_TRACES === "1";
const bridge = tryBridge("default");
const RECORDED_VARIANT = "haswell";

interface Spec {
  name: string;
  shared?: string;
  fixture?: [FixtureArch, string];
  opts: Omit<LlamaTraceOptions, "model">;
}

const STORY = "Once upon a time there was a little girl named Lily. She";
export const SPECS: Spec[] = [
  { name: "stories260K.prompt", shared: "stories260K.gguf", opts: { prompt: STORY, gen: 2 } },
  { name: "stories260K.tokens", shared: "stories260K.gguf", opts: { tokens: [1, 9, 42, 300, 511, 2, 77], gen: 0 } },
  { name: "tinyllama-q4_0.prompt", shared: "TinyLLama-v0-Q4_0.gguf", opts: { prompt: STORY, gen: 1 } },
  { name: "fixture-llama-f32.prompt", fixture: ["llama", "F32"], opts: { prompt: "Lily liked to play in the park.", gen: 1 } },
  { name: "fixture-llama-q4_k_m.prompt", fixture: ["llama", "Q4_K_M"], opts: { prompt: "Lily liked to play in the park.", gen: 1 } },
  { name: "fixture-qwen2-f32.prompt", fixture: ["qwen2", "F32"], opts: { prompt: "The ball was shiny and round.", gen: 1 } },
  { name: "fixture-qwen2-q8_0.prompt", fixture: ["qwen2", "Q8_0"], opts: { prompt: "The ball was shiny and round.", gen: 1 } },
  { name: "fixture-qwen3-f32.prompt", fixture: ["qwen3", "F32"], opts: { prompt: "Tom had a small dog called Max.", gen: 1 } },
  { name: "fixture-qwen3-q5_k.prompt", fixture: ["qwen3", "Q5_K"], opts: { prompt: "Tom had a small dog called Max.", gen: 1 } },
];

async function regenerate(s: Spec): Promise<string> {
  const model = s.shared ? path.join(MODELS_DIR, s.shared) : await getFixture(...s.fixture!);
  const modelLabel = s.shared ? `shared/models/${s.shared}` : `fixture:${s.fixture![0]}/${s.fixture![1]}`;
  const { trace } = await runLlamaCppTrace({ model, modelLabel, top: 5, ...s.opts });
  return serializeTrace(trace);
}

const variantOk = bridge?.backend.loaded === RECORDED_VARIANT;
if (bridge && !variantOk)
  process.stderr.write(`[tests] committed traces were recorded with the ${RECORDED_VARIANT} variant; this machine loads ${bridge.backend.loaded}: comparison skipped\n`);

describe.skipIf(!bridge || !variantOk)("committed reference traces are up to date", () => {
  for (const s of SPECS) {
    it.skipIf(!!s.shared && !HAVE_SHARED)(s.name, async () => {
      const file = path.join(TRACES, `${s.name}.json`);
      const text = await regenerate(s);
      if (REGEN) {
        mkdirSync(TRACES, { recursive: true });
        writeFileSync(file, text);
        return;
      }
      expect(existsSync(file), `${file} is missing: run npm run traces:regen`).toBe(true);
      readTrace(file); // valid
      const committed = readFileSync(file, "utf8");
      expect(text === committed, `${file} is stale: run npm run traces:regen and review the diff`).toBe(true);
    });
  }
});
