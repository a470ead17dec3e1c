/**
 * A plain f64 TypeScript transcription of the summary statistics of docs/metrics.md (count, NaN, Inf,
 * zeros; mean, population std, min, max, absmax, l2 over the finite elements), written without the
 * kernels: the oracle of tests/kernels/reduce.test.ts and tests/model/capture.test.ts.
 */
import type { NativeStats } from "../../src/bindings/kernels.js";

/** Stats of x[offset + i * stride] for i < count. */
export function refStats(x: Float32Array, offset: number, count: number, stride: number): NativeStats {
  const v: number[] = [];
  let nan = 0, inf = 0, zeros = 0;
  for (let i = 0; i < count; i++) {
    const e = x[offset + i * stride];
    if (Number.isNaN(e)) nan++;
    else if (!Number.isFinite(e)) inf++;
    else {
      v.push(e);
      if (e === 0) zeros++;
    }
  }
  const n = v.length;
  if (n === 0) return { count, nan, inf, zeros, mean: 0, std: 0, min: NaN, max: NaN, absmax: 0, l2: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  return {
    count, nan, inf, zeros, mean, std: Math.sqrt(variance),
    min: Math.min(...v), max: Math.max(...v), absmax: Math.max(...v.map(Math.abs)),
    l2: Math.sqrt(v.reduce((a, b) => a + b * b, 0)),
  };
}
