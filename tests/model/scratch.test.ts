/**
 * The forward pass's reused activation buffers (src/graph/scratch.ts): an arena hands out its slots in
 * call order, views for smaller requests, shrinks after a long prompt; and on a real model, reuse never
 * shows: results equal fresh runs', returned arrays are never overwritten by later steps, and a captured
 * tensor stays unchanged through the next layer's l_out (the capture contract, src/model/forward.ts).
 */
import { describe, expect, test } from "vitest";

import { Arena, scratch, withArena } from "../../src/graph/scratch.js";
import { Engine } from "../../src/model/engine.js";
import { forward, newRunState } from "../../src/model/forward.js";
import { HAVE_MODELS, STORIES } from "./helpers.js";

describe("Arena", () => {
  test("slots in call order, reused after reset, views for smaller requests", () => {
    const a = new Arena();
    const [x, y] = withArena(a, () => [scratch(8), scratch(4)]);
    expect(x.length).toBe(8);
    expect(y.length).toBe(4);
    expect(x.buffer).not.toBe(y.buffer);
    const [x2, y2] = withArena(a, () => [scratch(6), scratch(4)]);
    expect(x2.buffer).toBe(x.buffer); // slot 0 again, a view of its first 6
    expect(x2.length).toBe(6);
    expect(y2).toBe(y);
    // a larger request regrows the slot
    const [x3] = withArena(a, () => [scratch(20)]);
    expect(x3.length).toBe(20);
    expect(x3.buffer).not.toBe(x.buffer);
  });

  test("outside withArena, and with a null arena, scratch() is a fresh zeroed array", () => {
    const a = scratch(5), b = scratch(5);
    expect(a).not.toBe(b);
    expect([...a]).toEqual([0, 0, 0, 0, 0]);
    const c = withArena(null, () => scratch(3));
    expect([...c]).toEqual([0, 0, 0]);
  });

  test("a slot over 1 MB shrinks when a request needs under a quarter of it", () => {
    const a = new Arena();
    const big = withArena(a, () => scratch(1 << 20));
    const small = withArena(a, () => scratch(1000));
    expect(small.buffer).not.toBe(big.buffer);
    expect(small.buffer.byteLength).toBe(4000);
    // under the threshold a slot is kept
    const mid = withArena(a, () => scratch(100));
    expect(mid.buffer).toBe(small.buffer);
  });
});

describe.skipIf(!HAVE_MODELS)("forward on reused buffers", () => {
  test("decode steps equal fresh-state runs; returned logits survive later steps; captures last through the next layer", async () => {
    const e = await Engine.open(STORIES, { numerics: "ggml" });
    const m = e.model;
    const prompt = [1, 403, 407, 261, 378];
    const steps = [50, 60, 70, 80];
    // one state reused through prompt + steps
    const st = e.newState(32);
    const kept: Float32Array[] = [forward(m, prompt, st, { logits: "all" })];
    for (const t of steps) kept.push(forward(m, [t], st, { logits: "last" }));
    const snapshot = kept.map((x) => Float32Array.from(x));
    // each step again in a fresh state with fresh arenas (an engine's states share one pair): the same
    // logits bit for bit
    for (let s = 0; s <= steps.length; s++) {
      const fresh = newRunState(m.config, 32);
      const seq = [...prompt, ...steps.slice(0, s)];
      let out = forward(m, prompt, fresh, { logits: "all" });
      for (const t of steps.slice(0, s)) out = forward(m, [t], fresh, { logits: "last" });
      expect(seq.length).toBe(prompt.length + s);
      expect(Array.from(out)).toEqual(Array.from(snapshot[s]));
    }
    // nothing returned earlier was overwritten by the later steps
    kept.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(snapshot[i])));

    // a capture hook's tensors: unchanged when the next layer's l_out is handed over
    const held = new Map<string, { x: Float32Array; copy: Float32Array }>();
    let checked = 0;
    forward(m, [1, 2, 3], e.newState(8), {
      logits: "last",
      capture: (p, l, x) => {
        if (l !== null && p === "l_out") {
          for (const [k, v] of held) {
            const layer = Number(k.split(".")[0]);
            if (layer === l - 1) {
              expect(Array.from(v.x), k).toEqual(Array.from(v.copy));
              checked++;
            }
          }
        }
        if (l !== null) held.set(`${l}.${p}`, { x, copy: Float32Array.from(x) });
      },
    });
    expect(checked).toBeGreaterThan(10);
    e.close();
  });

  test("an engine's states share its arenas: interleaved states and a pass run from a capture hook change nothing", async () => {
    const e = await Engine.open(STORIES, { numerics: "ggml" });
    const m = e.model;
    const a = [1, 403, 407, 261, 378], b = [1, 22, 33, 44, 55, 66, 77];
    const alone = (p: number[], next: number) => {
      const st = newRunState(m.config, 16);
      forward(m, p, st, { logits: "last" });
      return Array.from(forward(m, [next], st, { logits: "last" }));
    };
    const sa = e.newState(16), sb = e.newState(16);
    expect(sa.arenas).toBe(sb.arenas);
    forward(m, a, sa, { logits: "last" });
    forward(m, b, sb, { logits: "last" }); // overwrites the shared buffers of sa's prompt
    expect(Array.from(forward(m, [90], sa, { logits: "last" }))).toEqual(alone(a, 90));
    expect(Array.from(forward(m, [91], sb, { logits: "last" }))).toEqual(alone(b, 91));

    // a hook that runs the model in the middle of a pass (its own arenas: the outer pass's are in use)
    let inner: number[] = [];
    const outer = Array.from(forward(m, a, e.newState(16), {
      logits: "last",
      capture: (p, l) => {
        if (p === "ffn_inp" && l === 1) inner = Array.from(forward(m, b, e.newState(16), { logits: "last" }));
      },
    }));
    const plain = (p: number[]) => Array.from(forward(m, p, newRunState(m.config, 16), { logits: "last" }));
    expect(outer).toEqual(plain(a));
    expect(inner).toEqual(plain(b));
    e.close();
  });
});
