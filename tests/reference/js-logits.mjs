// Child process for tests/reference/js-parity.test.ts: node-llama-cpp's own JS API computes the logits of
// every prompt position (controlledEvaluate), written as raw little-endian f32 [positions, vocab].
// Runs in its own process because node-llama-cpp loads its own backend (ggml_backend_load_all_from_path).
// Usage: node js-logits.mjs '<json: [{model, tokens, threads, contextSize, out}]>'
import { writeFileSync } from "node:fs";
import { getLlama } from "node-llama-cpp";

const jobs = JSON.parse(process.argv[2]);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const report = { buildType: llama.buildType, gpu: llama.gpu, systemInfo: llama.systemInfo ?? null, runs: [] };
for (const j of jobs) {
  const m = await llama.loadModel({ modelPath: j.model, gpuLayers: 0 });
  const ctx = await m.createContext({ contextSize: j.contextSize, batchSize: j.contextSize, threads: j.threads, flashAttention: false, sequences: 1,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
  const seq = ctx.getSequence();
  const res = await seq.controlledEvaluate(j.tokens.map((t) => [t, { generateNext: { logits: true } }]));
  const rows = res.map((r, i) => {
    if (!r?.next?.logits) throw new Error(`no logits at position ${i}`);
    return r.next.logits;
  });
  const vocab = j.vocab;
  const buf = new Float32Array(rows.length * vocab).fill(NaN);
  rows.forEach((map, i) => { for (const [tok, l] of map) buf[i * vocab + tok] = l; });
  writeFileSync(j.out, Buffer.from(buf.buffer));
  report.runs.push({ positions: rows.length });
  await ctx.dispose();
  await m.dispose();
}
await llama.dispose();
process.stdout.write(JSON.stringify(report) + "\n");
