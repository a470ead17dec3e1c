/** Timing helpers shared by the in-process benches (bench/kernels.ts, bench/ops.ts). */

/** The median (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Seconds for one call of fn, repeated until `minMs` milliseconds have passed (so timer resolution does not matter). */
export function secondsPerCall(fn: () => void, minMs: number): number {
  const span = BigInt(Math.round(minMs * 1e6));
  let iters = 0;
  const t0 = process.hrtime.bigint();
  let t = t0;
  do {
    fn();
    iters++;
    t = process.hrtime.bigint();
  } while (t - t0 < span);
  return Number(t - t0) / 1e9 / iters;
}
