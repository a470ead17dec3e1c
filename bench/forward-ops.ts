/**
 * `npm run bench:forward-ops -- MODEL [THREADS] [TOKENS] [REPS] [prefill|decode]`: where one prefill's
 * time goes, by native op. Opens MODEL, runs a prefill of TOKENS tokens (default 64) once to page the
 * weights in, then REPS times (default 8), timing every call into the kernels addon: per op its
 * milliseconds and calls per prefill, and the time outside the addon (the TypeScript between kernels).
 * `decode`: TOKENS decode steps after a 7-token prompt instead, only the steps timed, figures per step.
 * One process, one build: for a before/after, run it on two builds (ROSETTA_BUILD_DIR) in turn, and read
 * bench:ab-builds for the verdict; this VM's speed moves by several percent between runs. A benchmark,
 * never a test.
 */
import { existsSync } from "node:fs";

import { loadKernelsAddon } from "../src/bindings/kernels-addon.js";

const USAGE = "usage: npm run bench:forward-ops -- MODEL [THREADS] [TOKENS] [REPS] [prefill|decode]";

/** "  Q4_K 1536x8960": a matmul's weight type and shape (out x in), indented under opsMatmul's total. */
let typeName = (type: number): string => `type ${type}`;
function matmulKey(args: unknown[]): string {
  const [, , type, nOut, nIn] = args as number[];
  return `  ${typeName(type)} ${nOut}x${nIn}`;
}

async function main(): Promise<void> {
  const [model, threadsArg = "1", tokensArg = "64", repsArg = "8", kind = "prefill"] = process.argv.slice(2);
  const threads = Number(threadsArg), tokens = Number(tokensArg), reps = Number(repsArg);
  if (!model || !(threads >= 1) || !(tokens >= 1) || !(reps >= 1) || (kind !== "prefill" && kind !== "decode")) {
    console.error(USAGE);
    process.exit(2);
  }
  if (!existsSync(model)) {
    console.error(`bench:forward-ops: ${model}: no such file`);
    process.exit(2);
  }
  // wrap the addon's functions (not its classes) before the engine takes them
  const addon = loadKernelsAddon() as unknown as Record<string, unknown>;
  const stats = new Map<string, { ms: number; calls: number }>();
  for (const k of Object.keys(addon)) {
    const f = addon[k];
    if (typeof f !== "function" || /^[A-Z]/.test(k)) continue;
    addon[k] = function (this: unknown, ...args: unknown[]) {
      const t0 = performance.now();
      const r = (f as (...a: unknown[]) => unknown).apply(this, args);
      const ms = performance.now() - t0;
      for (const key of [k, ...(k === "opsMatmul" ? [matmulKey(args)] : [])]) {
        const s = stats.get(key) ?? { ms: 0, calls: 0 };
        s.ms += ms;
        s.calls++;
        stats.set(key, s);
      }
      return r;
    };
  }
  const { Engine } = await import("../src/model/engine.js");
  const { forward } = await import("../src/model/forward.js");
  const { typeTraitsById } = await import("../src/bindings/kernels.js");
  typeName = (type) => typeTraitsById(type)?.name ?? `type ${type}`;
  const e = await Engine.open(model, { numerics: "ggml", threads });
  const decode = kind === "decode";
  const prompt = Array.from({ length: decode ? 7 : tokens }, (_, i) => 1 + ((i * 37) % 500));
  // one pass (a prefill, or a prompt and its decode steps) on a fresh state; returns the ms timed
  const pass = (): number => {
    const st = e.newState(prompt.length + (decode ? tokens : 0) + 8);
    if (!decode) {
      const t0 = performance.now();
      forward(e.model, prompt, st, { logits: "last" });
      return performance.now() - t0;
    }
    let next = forward(e.model, prompt, st, { logits: "last" });
    stats.clear();  // the prompt's calls are not counted
    const t0 = performance.now();
    for (let i = 0; i < tokens; i++) next = forward(e.model, [argmax(next)], st, { logits: "last" });
    return performance.now() - t0;
  };
  const argmax = (x: Float32Array) => x.reduce((b, v, i) => (v > x[b] ? i : b), 0);
  pass();
  const kept = new Map<string, { ms: number; calls: number }>();
  let total = 0;
  for (let r = 0; r < reps; r++) {
    stats.clear();
    total += pass();
    for (const [k, s] of stats) {
      const t = kept.get(k) ?? { ms: 0, calls: 0 };
      t.ms += s.ms;
      t.calls += s.calls;
      kept.set(k, t);
    }
  }
  // per prefill, or per decode step
  const per = decode ? reps * tokens : reps;
  e.close();
  const what = decode ? `${tokens} decode steps after a ${prompt.length}-token prompt, per step` : `prefill ${tokens} tokens`;
  console.log(`forward-ops: ${model}, ${what}, ${threads} thread(s), mean of ${reps}`);
  let native = 0;
  for (const [k, s] of [...kept].sort((x, y) => y[1].ms - x[1].ms)) {
    if (!k.startsWith(" ")) native += s.ms;
    console.log(`${k.padEnd(24)} ${(s.ms / per).toFixed(2).padStart(9)} ms ${(s.calls / per).toFixed(0).padStart(6)} calls`);
  }
  console.log(`${(decode ? "decode step" : "prefill").padEnd(24)} ${(total / per).toFixed(2).padStart(9)} ms; in the addon ${(native / per).toFixed(2)}, outside it ${((total - native) / per).toFixed(2)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
