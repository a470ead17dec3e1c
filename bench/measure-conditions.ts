/**
 * `npm run bands:conditions`: the measurements behind CONDITIONS_BANDS (src/compare/tolerances.ts;
 * docs/conditions.md records the table). llama.cpp against itself on the CPU reference path (F32 K/V, flash
 * attention off, the prompt as one ubatch), point by point (`rosetta A B` in-process, prompt + 2 decode
 * steps, teacher-forced), under each benign condition:
 *
 *   vulkan         every layer offloaded to Vulkan device 0 (llvmpipe here: GGML_VK_VISIBLE_DEVICES=0)
 *   vulkan-half    half the layers offloaded (partial offload)
 *   fa             flash attention on the CPU
 *   kv-f16         an F16 K/V cache on the CPU
 *   ubatch         the prompt in micro-batches of 3 tokens on the CPU
 *   kv-q8_0/q4_0   quantized K/V caches (with flash attention, which a quantized V needs): lossy by design,
 *                  printed for the record, not part of the band
 *
 * Models: stories260K and TinyLLama Q4_0 (../shared/models) and the synthetic qwen2/qwen3 fixtures in F32,
 * F16, Q8_0 and Q4_K_M. Per model and condition the worst energy NMSE over every point (all and last
 * token) and over the prompts, and where. Env: COND_PROMPTS (default 2), COND_MODELS (a filter on labels).
 * `--json FILE` keeps the figures.
 */
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";

import type { RunConditions } from "../src/reference/conditions.js";
import { gpuAvailable } from "../src/reference/llamacpp.js";
import { loadModel } from "../src/formats/index.js";
import { configureLogging } from "../src/util/log.js";
import { getFixture } from "../tests/fixtures/lib/index.js";
import { PROMPTS, worstOf } from "./measure-bands.js";

const SHARED = path.resolve(process.cwd(), "../shared/models");

async function models(): Promise<{ label: string; type: string; file: string }[]> {
  const out: { label: string; type: string; file: string }[] = [];
  for (const [label, type, f] of [["stories260K", "F32", "stories260K.gguf"], ["TinyLLama-v0", "Q4_0", "TinyLLama-v0-Q4_0.gguf"]] as const) {
    const file = path.join(SHARED, f);
    if (existsSync(file)) out.push({ label, type, file });
    else console.log(`# ${file} absent: ${label} not measured`);
  }
  for (const arch of ["qwen2", "qwen3"] as const)
    for (const type of ["F32", "F16", "Q8_0", "Q4_K_M"] as const) out.push({ label: `${arch}-${type}`, type, file: await getFixture(arch, type) });
  return out;
}

async function main(): Promise<void> {
  configureLogging({ quiet: true });
  const n = Number(process.env.COND_PROMPTS ?? 2);
  const filter = process.env.COND_MODELS;
  const vk = gpuAvailable("vulkan");
  if (!vk.ok) console.log(`# no Vulkan: ${vk.why}`);
  const rows: { model: string; type: string; condition: string; worst: number; at: string; perPrompt: number[] }[] = [];
  const t0 = Date.now();
  for (const m of await models()) {
    if (filter && !m.label.includes(filter)) continue;
    const nLayer = (await loadModel(m.file, { logLayout: false })).config.nLayer;
    const conds: [string, RunConditions][] = [
      ...(vk.ok ? ([["vulkan", { device: "vulkan" }], ["vulkan-half", { device: "vulkan", gpuLayers: Math.floor(nLayer / 2) }]] as [string, RunConditions][]) : []),
      ["fa", { flashAttn: true }],
      ["kv-f16", { kvType: "f16" }],
      ["ubatch", { ubatch: 3 }],
      ["kv-q8_0", { flashAttn: true, kvType: "q8_0" }],
      ["kv-q4_0", { flashAttn: true, kvType: "q4_0" }],
    ];
    for (const [name, c] of conds) {
      const per: number[] = [];
      let worst = -1, at = "";
      for (const prompt of PROMPTS.slice(0, n)) {
        try {
          const r = await worstOf({ path: m.file, engine: "llama.cpp", conditions: c }, { path: m.file, engine: "llama.cpp" }, prompt, { untracedCheck: false, experiments: false });
          per.push(r.nmse);
          if (r.nmse > worst) [worst, at] = [r.nmse, r.at];
        } catch (e) {
          at = `not run: ${(e as Error).message.slice(0, 100)}`;
          break;
        }
      }
      rows.push({ model: m.label, type: m.type, condition: name, worst, at, perPrompt: per });
      console.log(`${m.label.padEnd(14)} ${m.type.padEnd(7)} ${name.padEnd(12)} worst ${worst < 0 ? "-" : worst === 0 ? "0" : worst.toExponential(2)}  (${per.length} prompts; at ${at})`);
    }
  }
  console.log(`measured ${rows.length} pairs in ${((Date.now() - t0) / 1000).toFixed(0)} s on ${new Date().toISOString().slice(0, 10)}${vk.ok ? "" : " (no Vulkan)"}`);
  const jsonAt = process.argv.indexOf("--json");
  if (jsonAt > 0 && process.argv[jsonAt + 1]) writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ rows }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 3;
});
