/**
 * The Recorder defers summaries and computes them in batches on the kernel pool: every point's all-token
 * and last-token summaries must still be exactly what summarize() gives for the tensor the forward pass
 * handed to the hook at that moment (captured tensors are later rotated/normalized in place).
 */
import { describe, expect, test } from "vitest";

import { Recorder } from "../../src/model/capture.js";
import { Engine } from "../../src/model/engine.js";
import { summarize } from "../../src/bindings/kernels.js";
import { pointKey } from "../../src/trace/types.js";
import { HAVE_MODELS, STORIES } from "./helpers.js";

describe.skipIf(!HAVE_MODELS)("capture recorder", () => {
  test("deferred batched summaries equal direct summaries (prompt, decode steps, kq_softmax, 1 and 2 threads)", async () => {
    for (const threads of [1, 2]) {
      const e = await Engine.open(STORIES, { numerics: "ggml", threads });
      const rec = new Recorder((k) => k === "logits");
      const direct: { key: string; step: number; all: unknown; last: unknown }[] = [];
      let step = 0;
      e.generate([1, 403, 407, 261, 9], {
        nGen: 3, keepKq: true, promptLogits: "all",
        onStep: (s, p, n) => { step = s; rec.beginStep(s, p, n); },
        capture: (p, l, x, shape) => {
          const count = shape.reduce((a, b) => a * b, 1);
          let last;
          if (p === "kq_softmax") {
            const [nHead, T, nKv] = shape;
            const rows = new Float32Array(nHead * nKv);
            for (let h = 0; h < nHead; h++) rows.set(x.subarray((h * T + T - 1) * nKv, (h * T + T) * nKv), h * nKv);
            last = summarize(rows);
          } else {
            const width = count / shape[0];
            last = summarize(x, { offset: (shape[0] - 1) * width, count: width });
          }
          direct.push({ key: pointKey(p, l), step, all: summarize(x, { count }), last });
          rec.hook(p, l, x, shape);
        },
      });
      const pts = rec.points;
      expect(pts.length).toBe(direct.length);
      pts.forEach((tp, i) => {
        expect(tp.key).toBe(direct[i].key);
        expect(tp.step).toBe(direct[i].step);
        expect(tp.all, `${tp.key} step ${tp.step} all`).toEqual(direct[i].all);
        expect(tp.last, `${tp.key} step ${tp.step} last`).toEqual(direct[i].last);
        // same field order too: a serialized trace is byte for byte the same
        expect(JSON.stringify([tp.all, tp.last])).toBe(JSON.stringify([direct[i].all, direct[i].last]));
      });
      expect(pts.some((p) => p.point === "kq_softmax" && p.step === 2)).toBe(true);
      expect(rec.tensors.has("s0.logits")).toBe(true);
      e.close();
    }
  });
});
