/**
 * The capture recorder: turns the forward pass's capture(point, layer, tensor) calls into TracePoints
 * with same-sample summaries (all tokens and last token, with counts; the kernels' f64 stats) and, for
 * the keys a filter selects, copies of the full tensors. It only reads what it is given.
 */
import { summarizeMany } from "../bindings/kernels.js";
import type { F32Tensor } from "../trace/safetensors.js";
import { lastTokenSlice, pointKey, type PointKind, type TracePoint } from "../trace/types.js";
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

/**
 * Records capture points. Summaries are deferred: the hook keeps a reference to the tensor (the forward
 * pass never modifies a captured tensor, forward.ts) and the pending summaries are computed together, in
 * parallel on the kernel pool, at the end of each layer (`l_out`), at `logits`, at the next step and
 * whenever `points` is read. Each summary is the same native stats call as before, so the values are
 * identical; only when (and on which thread) they are computed changes.
 */
export class Recorder {
  private readonly done: TracePoint[] = [];
  readonly tensors = new Map<string, F32Tensor>();
  private step = 0;
  private firstPos = 0;
  private xs: Float32Array[] = [];
  private ranges: number[] = []; // tensor index, offset, count per pending summary
  private pending: { tp: TracePoint; all: number; last: number }[] = [];

  constructor(private readonly full: (key: string) => boolean = () => false) {}

  /** Every point recorded so far, with its summaries. */
  get points(): TracePoint[] {
    this.flush();
    return this.done;
  }

  /** Called before each forward: 0 = the prompt batch, 1.. = decode steps. */
  beginStep(step: number, firstPos: number, _tokens: number): void {
    this.flush();
    this.step = step;
    this.firstPos = firstPos;
  }

  readonly hook: CaptureFn = (point: PointKind, layer: number | null, x: Float32Array, shape: number[]) => {
    const key = pointKey(point, layer);
    const count = shape.reduce((a, b) => a * b, 1);
    const tp = {
      key, point, layer, step: this.step, shape: [...shape], firstPos: this.firstPos, tokens: shape[point === "kq_softmax" ? 1 : 0],
    } as TracePoint;
    this.xs.push(x);
    const all = this.range(x, 0, count);
    // one token: the last-token slice is the whole tensor, the same summary
    let last = all;
    if (tp.tokens > 1) {
      const slice = lastTokenSlice(x.subarray(0, count), point, shape, tp.tokens);
      last = slice.buffer === x.buffer ? this.range(x, slice.byteOffset / 4 - x.byteOffset / 4, slice.length) : this.range(slice, 0, slice.length);
    }
    this.pending.push({ tp, all, last });
    if (this.full(key)) {
      tp.tensor = tensorName(key, this.step);
      this.tensors.set(tp.tensor, { shape: [...shape], data: Float32Array.from(x.subarray(0, count)) });
    }
    this.done.push(tp);
    if (point === "l_out" || point === "logits") this.flush();
  };

  /** Computes every pending summary (one native call, spread over the kernel pool). */
  flush(): void {
    if (this.pending.length === 0) return;
    const s = summarizeMany(this.xs, Float64Array.from(this.ranges));
    for (const p of this.pending) {
      p.tp.all = s[p.all];
      p.tp.last = p.last === p.all ? { ...s[p.last] } : s[p.last];
    }
    this.pending = [];
    this.ranges = [];
    this.xs = [];
  }

  private range(x: Float32Array, offset: number, count: number): number {
    let i = this.xs.lastIndexOf(x);
    if (i < 0) i = this.xs.push(x) - 1;
    this.ranges.push(i, offset, count);
    return this.ranges.length / 3 - 1;
  }
}
