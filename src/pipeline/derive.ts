/**
 * Derived points: a point another engine records that rosetta computes from its own full tensors, so the
 * two are compared like with like. `qkv` (aprender's traced forward) is q|k|v concatenated per token:
 * from this side's full q, k and v of a step, the same concatenation is built and summarized (all
 * tokens and the last token, the kernels' statistics).
 */
import { summarize } from "../bindings/kernels.js";
import type { F32Tensor } from "../trace/safetensors.js";
import type { Trace, TracePoint } from "../trace/types.js";

/** Adds `blk.L.qkv` to `trace` for every layer and step where `other` has one and `trace` has q, k, v tensors. */
export function deriveQkv(trace: Trace, tensors: Map<string, F32Tensor>, other: Trace): number {
  const want = other.points.filter((p) => p.point === "qkv");
  if (want.length === 0) return 0;
  const at = new Map(trace.points.map((p) => [`${p.step}|${p.key}`, p]));
  let added = 0;
  for (const w of want) {
    if (at.has(`${w.step}|${w.key}`)) continue;
    const parts = (["q", "k", "v"] as const).map((pt) => at.get(`${w.step}|blk.${w.layer}.${pt}`));
    const data = parts.map((p) => (p?.tensor ? tensors.get(p.tensor)?.data : undefined));
    if (parts.some((p) => !p) || data.some((d) => !d)) continue;
    const T = parts[0]!.tokens;
    const widths = parts.map((p) => p!.shape[p!.shape.length - 1]);
    const W = widths.reduce((x, y) => x + y, 0);
    const x = new Float32Array(T * W);
    for (let t = 0; t < T; t++) {
      let off = t * W;
      for (let i = 0; i < 3; i++) {
        x.set(data[i]!.subarray(t * widths[i], (t + 1) * widths[i]), off);
        off += widths[i];
      }
    }
    const p0 = parts[0]!;
    const point: TracePoint = {
      key: `blk.${w.layer}.qkv`, point: "qkv", layer: w.layer, step: w.step, shape: [T, W], firstPos: p0.firstPos, tokens: T,
      all: summarize(x), last: summarize(x, { offset: (T - 1) * W, count: W }), source: { derived: "q|k|v per token, from the full tensors" },
    };
    trace.points.push(point);
    added++;
  }
  return added;
}
