/**
 * The capture recorder: turns the forward pass's capture(point, layer, tensor) calls into TracePoints
 * with same-sample summaries (all tokens and last token, with counts; the kernels' f64 stats) and, for
 * the keys a filter selects, copies of the full tensors. It only reads what it is given.
 */
import { summarize } from "../native/ops.js";
import type { F32Tensor } from "../trace/safetensors.js";
import { pointKey, type PointKind, type TracePoint } from "../trace/types.js";
import type { CaptureFn } from "./forward.js";

/** Glob patterns over point keys (`*`, `blk.0.*`, `logits`), as the llama.cpp runner takes them. */
export function keyFilter(patterns: string[]): (key: string) => boolean {
  const res = patterns.map(
    (p) => new RegExp("^" + p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$"),
  );
  return (key) => res.some((r) => r.test(key));
}

/** Safetensors name of a full tensor: `s<step>.<key>` (the bridge's convention). */
export function tensorName(key: string, step: number): string {
  return `s${step}.${key}`;
}

export class Recorder {
  readonly points: TracePoint[] = [];
  readonly tensors = new Map<string, F32Tensor>();
  private step = 0;
  private firstPos = 0;
  private tokens = 0;

  constructor(private readonly full: (key: string) => boolean = () => false) {}

  /** Called before each forward: 0 = the prompt batch, 1.. = decode steps. */
  beginStep(step: number, firstPos: number, tokens: number): void {
    this.step = step;
    this.firstPos = firstPos;
    this.tokens = tokens;
  }

  readonly hook: CaptureFn = (point: PointKind, layer: number | null, x: Float32Array, shape: number[]) => {
    const key = pointKey(point, layer);
    const count = shape.reduce((a, b) => a * b, 1);
    const tp: TracePoint = {
      key, point, layer, step: this.step, shape: [...shape], firstPos: this.firstPos, tokens: shape[point === "kq_softmax" ? 1 : 0],
      all: summarize(x, 0, count, 1),
      last: this.lastSummary(point, x, shape),
    };
    if (this.full(key)) {
      tp.tensor = tensorName(key, this.step);
      this.tensors.set(tp.tensor, { shape: [...shape], data: Float32Array.from(x.subarray(0, count)) });
    }
    this.points.push(tp);
  };

  private lastSummary(point: PointKind, x: Float32Array, shape: number[]) {
    if (point !== "kq_softmax") {
      const width = shape.slice(1).reduce((a, b) => a * b, 1);
      return summarize(x, (shape[0] - 1) * width, width, 1);
    }
    // [nHead, T, nKv]: the last token's row of every head
    const [nHead, T, nKv] = shape;
    const rows = new Float32Array(nHead * nKv);
    for (let h = 0; h < nHead; h++) rows.set(x.subarray((h * T + T - 1) * nKv, (h * T + T) * nKv), h * nKv);
    return summarize(rows, 0, rows.length, 1);
  }
}
