/**
 * The capture Recorder (src/model/capture.ts) on a real forward pass (stories260K, prompt of 5 tokens +
 * 3 greedy decode steps, kq_softmax kept, 1 and 2 threads). Its summaries are deferred and computed in
 * batches on the kernel pool; every point must still carry the statistics of the tensor the forward pass
 * handed to the hook at that moment. The oracle is independent of the code under test: at hook time
 * the test computes, in plain f64 TypeScript (tests/helpers/stats.ts, docs/metrics.md), the stats of
 *  - all: every element of the tensor;
 *  - last: the elements whose token index is the last one (token = row for [T, width] points, the middle
 *    index of [n_head, T, n_kv] for kq_softmax), picked by decomposing each flat index,
 * and the point's identity (key, step, first position, token count) from the step the engine announced.
 * Counts, min, max and absmax must be exact; mean, std and l2 within 1e-12 (the kernels sum in f64
 * lanes, in another order). The all-token summary is also bit for bit summarize() of the whole tensor
 * (batching changes when a summary is computed, not its value), and the fields come in the documented
 * order (docs/trace-format.md), so a serialized trace does not depend on the batching.
 */
import { describe, expect, test } from "vitest";

import { summarize, type NativeStats } from "../../src/bindings/kernels.js";
import { Recorder } from "../../src/model/capture.js";
import { Engine } from "../../src/model/engine.js";
import { refStats } from "../helpers/stats.js";
import { HAVE_MODELS, STORIES } from "./helpers.js";

const PROMPT = [1, 403, 407, 261, 9];
const N_GEN = 3;
const FIELDS = ["count", "nan", "inf", "zeros", "mean", "std", "min", "max", "absmax", "l2"];

interface Expected {
  key: string;
  step: number;
  firstPos: number;
  tokens: number;
  all: NativeStats;
  last: NativeStats;
  allNative: unknown;
}

/** The elements of x whose token index is the last one, by decomposing each flat index. */
function lastTokenElements(point: string, x: Float32Array, shape: number[]): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const kq = point === "kq_softmax";
  const T = kq ? shape[1] : shape[0];
  const inner = kq ? shape[2] : count / shape[0]; // elements per token index
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const token = Math.floor(i / inner) % T;
    if (token === T - 1) out.push(x[i]);
  }
  return Float32Array.from(out);
}

function expectStats(actual: unknown, want: NativeStats, what: string): void {
  const a = actual as Record<string, number>;
  expect(Object.keys(a), `${what}: fields`).toEqual(FIELDS);
  for (const f of ["count", "nan", "inf", "zeros", "min", "max", "absmax"] as const) expect(a[f], `${what}.${f}`).toBe(want[f]);
  const scale = Math.max(want.absmax, Number.MIN_VALUE);
  expect(Math.abs(a.mean - want.mean), `${what}.mean ${a.mean} vs ${want.mean}`).toBeLessThanOrEqual(1e-12 * scale);
  for (const f of ["std", "l2"] as const)
    expect(Math.abs(a[f] - want[f]), `${what}.${f} ${a[f]} vs ${want[f]}`).toBeLessThanOrEqual(1e-12 * Math.max(want[f], scale * 1e-3));
}

describe.skipIf(!HAVE_MODELS)("capture recorder", () => {
  test("deferred batched summaries equal an independent f64 oracle (prompt, decode steps, kq_softmax, 1 and 2 threads)", async () => {
    for (const threads of [1, 2]) {
      const e = await Engine.open(STORIES, { numerics: "ggml", threads });
      const rec = new Recorder((k) => k === "logits");
      const want: Expected[] = [];
      let step = -1;
      e.generate(PROMPT, {
        nGen: N_GEN, keepKq: true, promptLogits: "all",
        onStep: (s, p, n) => { step = s; rec.beginStep(s, p, n); },
        capture: (p, l, x, shape) => {
          const count = shape.reduce((a, b) => a * b, 1);
          const last = lastTokenElements(p, x, shape);
          want.push({
            key: l === null ? p : `blk.${l}.${p}`,
            step,
            firstPos: step === 0 ? 0 : PROMPT.length + step - 1,
            tokens: step === 0 ? PROMPT.length : 1,
            all: refStats(x, 0, count, 1),
            last: refStats(last, 0, last.length, 1),
            allNative: summarize(x, { count }),
          });
          rec.hook(p, l, x, shape);
        },
      });
      const pts = rec.points;
      expect(pts.length).toBe(want.length);
      expect(new Set(pts.map((p) => p.step))).toEqual(new Set([0, 1, 2, 3]));
      pts.forEach((tp, i) => {
        const w = want[i];
        const what = `${w.key} step ${w.step} (${threads} threads)`;
        expect(tp.key, what).toBe(w.key);
        expect(tp.step, what).toBe(w.step);
        expect(tp.firstPos, what).toBe(w.firstPos);
        expect(tp.tokens, what).toBe(w.tokens);
        expect(tp.all.count, what).toBe(tp.shape.reduce((a, b) => a * b, 1));
        expect(tp.last.count, what).toBe(tp.all.count / w.tokens);
        expectStats(tp.all, w.all, `${what} all`);
        expectStats(tp.last, w.last, `${what} last`);
        expect(tp.all, `${what} all vs summarize()`).toEqual(w.allNative);
      });
      expect(pts.some((p) => p.point === "kq_softmax" && p.step === 2)).toBe(true);
      // the filter keeps the full logits of each step, under the bridge's s<step>.<key> names
      expect([...rec.tensors.keys()]).toEqual(["s0.logits", "s1.logits", "s2.logits", "s3.logits"]);
      e.close();
    }
  });
});
