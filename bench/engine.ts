/**
 * `npm run bench:engine`: rosetta's forward pass against llama.cpp (through the bridge, no eval
 * callback) on synthetic qwen2 models with Qwen2.5-1.5B layer dimensions (n_embd 1536, 12 heads, 2 kv
 * heads, head dim 128, ffn 8960), in Q4_K_M and Q8_0, at 1 and 2 threads. To keep a run short the models
 * have BENCH_LAYERS layers (default 2) and the fixtures' 512-token vocabulary; both engines run the same
 * file. Prefill 7 and 64 tokens, decode 16; runs alternate between the engines; medians of BENCH_REPS
 * (default 3). Prints tokens/s and the ratio rosetta / llama.cpp. A benchmark, never a test.
 */
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";

import { Engine } from "../src/model/engine.js";
import { Recorder } from "../src/model/capture.js";
import { forward, type CaptureFn } from "../src/model/forward.js";
import { loadLlamaBridge } from "../src/reference/bridge.js";
import { DIMS } from "../tests/fixtures/lib/index.js";
import { buildModel } from "../tests/fixtures/lib/models.js";

const LAYERS = Number(process.env.BENCH_LAYERS ?? 2);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const DIR = path.join(os.tmpdir(), "rosetta-bench");
const QWEN15 = { nEmbd: 1536, nHead: 12, nHeadKv: 2, headDim: 128, nFf: 8960, nLayer: LAYERS };

async function models(): Promise<Record<string, string>> {
  mkdirSync(DIR, { recursive: true });
  const src = path.join(DIR, `qwen2-1.5b-dims-${LAYERS}L-F32.gguf`);
  if (!existsSync(src)) {
    // the fixture generator with Qwen2.5-1.5B layer dimensions (its DIMS are read at build time)
    const saved = { ...DIMS };
    Object.assign(DIMS, QWEN15);
    try {
      writeFileSync(src + ".tmp", buildModel("qwen2"));
      renameSync(src + ".tmp", src);
    } finally {
      Object.assign(DIMS, saved);
    }
  }
  const bridge = loadLlamaBridge();
  const out: Record<string, string> = {};
  for (const q of ["Q4_K_M", "Q8_0"]) {
    out[q] = path.join(DIR, `qwen2-1.5b-dims-${LAYERS}L-${q}.gguf`);
    if (!existsSync(out[q])) await bridge.quantize(src, out[q], q, { threads: 2 });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const prompt = (n: number) => Array.from({ length: n }, (_, i) => 1 + ((i * 37) % 500));

/** Milliseconds for: prefill of `n` tokens; and (decode) 16 single-token steps after a 7-token prompt. */
function rosettaMs(e: Engine, kind: "prefill" | "decode", n: number, capture?: CaptureFn): number {
  const st = e.newState(80);
  if (kind === "prefill") {
    const t0 = performance.now();
    forward(e.model, prompt(n), st, { logits: "last", capture });
    return performance.now() - t0;
  }
  forward(e.model, prompt(7), st, { logits: "last" });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) forward(e.model, [100 + i], st, { logits: "last", capture });
  return performance.now() - t0;
}

async function llamaMs(file: string, threads: number, kind: "prefill" | "decode", n: number): Promise<number> {
  const b = loadLlamaBridge();
  if (kind === "prefill") return (await b.run({ model: file, tokens: prompt(n), gen: 0, threads, callback: false })).decodeMs;
  const base = (await b.run({ model: file, tokens: prompt(7), gen: 0, threads, callback: false })).decodeMs;
  const all = (await b.run({ model: file, tokens: prompt(7), gen: n, threads, callback: false })).decodeMs;
  return all - base;
}

async function main(): Promise<void> {
  const files = await models();
  console.log(`engine bench: qwen2, n_embd 1536, 12 heads, 2 kv, ffn 8960, ${LAYERS} layers, vocab ${DIMS.nVocab}; medians of ${REPS}; ${os.cpus()[0].model}`);
  console.log("model   threads case         rosetta tok/s  llama.cpp tok/s  ratio  capture cost");
  for (const [q, file] of Object.entries(files))
    for (const threads of [1, 2]) {
      const e = await Engine.open(file, { numerics: "ggml", threads });
      for (const [kind, n, label] of [["prefill", 7, "prefill 7"], ["prefill", 64, "prefill 64"], ["decode", 16, "decode 16"]] as const) {
        rosettaMs(e, kind, n); // warm-up (page-in of the mapping)
        const r: number[] = [], l: number[] = [];
        for (let i = 0; i < REPS; i++) {
          r.push(rosettaMs(e, kind, n));
          l.push(await llamaMs(file, threads, kind, n));
        }
        const rt = (n * 1000) / median(r), lt = (n * 1000) / median(l);
        // full capture: summaries (all + last token) at every point, as `rosetta trace` records them
        const c: number[] = [];
        for (let i = 0; i < REPS; i++) c.push(rosettaMs(e, kind, n, new Recorder().hook));
        const overhead = (median(c) / median(r) - 1) * 100;
        console.log(`${q.padEnd(7)} ${String(threads).padEnd(7)} ${label.padEnd(12)} ${rt.toFixed(1).padStart(13)}  ${lt.toFixed(1).padStart(15)}  ${(rt / lt).toFixed(2).padStart(5)}  ${overhead.toFixed(1).padStart(6)}%`);
      }
      e.close();
    }
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(`peak RSS ${rssMb.toFixed(0)} MB (both engines in this process; largest model file ${(Math.max(...Object.values(files).map((f) => statSync(f).size)) / 2 ** 20).toFixed(0)} MB)`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
