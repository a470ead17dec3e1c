/**
 * stats/diff against a plain f64 TypeScript implementation of docs/metrics.md, to 1e-12 relative, on
 * random data with NaN, Inf, zeros, empty spans, odd sizes and strides.
 */
import { describe, expect, it } from "vitest";

import { loadKernelsAddon } from "../../src/bindings/kernels-addon.js";
import { currentIsa, diffMetrics, setIsa, summarize, type NativeDiffMetrics } from "../../src/bindings/kernels.js";
import { rng } from "../helpers/rng.js";
import { refStats } from "../helpers/stats.js";

const addon = loadKernelsAddon();
const SIZES = [0, 1, 3, 17, 31, 33, 255, 4096];
// stats_f32 works in 4096-element chunks: one more, and several with a partial last one
const STATS_SIZES = [...SIZES, 4097, 10000];

function kind(x: number): number {
  return Number.isNaN(x) ? 1 : x === Infinity ? 2 : x === -Infinity ? 3 : 0;
}

function refDiff(a: Float32Array, b: Float32Array): NativeDiffMetrics {
  let nonfinite = 0, mismatch = 0, maxAbs = 0, maxAbsIndex = -1;
  let sAbs = 0, sSq = 0, aa = 0, bb = 0, ab = 0, sa = 0;
  const as: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (kind(a[i]) || kind(b[i])) {
      nonfinite++;
      if (kind(a[i]) !== kind(b[i])) mismatch++;
      continue;
    }
    const e = Math.abs(a[i] - b[i]);
    if (maxAbsIndex < 0 || e > maxAbs) { maxAbs = e; maxAbsIndex = i; }
    sAbs += e; sSq += e * e; aa += a[i] * a[i]; bb += b[i] * b[i]; ab += a[i] * b[i]; sa += a[i];
    as.push(a[i]);
  }
  const n = as.length;
  const base = { count: a.length, nonfinite, nonfiniteMismatch: mismatch };
  if (n === 0) return { ...base, maxAbs: 0, maxAbsIndex: -1, meanAbs: 0, nmseEnergy: 0, nmseVariance: 0, sqnrDb: Infinity, cosine: 1 };
  const mean = sa / n;
  const variance = as.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
  const ratio = (num: number, den: number) => (den > 0 ? num / den : num > 0 ? Infinity : 0);
  const nmseEnergy = ratio(sSq, aa);
  const cosine = aa === 0 && bb === 0 ? 1 : aa === 0 || bb === 0 ? 0 : Math.max(-1, Math.min(1, ab / (Math.sqrt(aa) * Math.sqrt(bb))));
  return {
    ...base, maxAbs, maxAbsIndex, meanAbs: sAbs / n, nmseEnergy, nmseVariance: ratio(sSq / n, variance),
    sqnrDb: nmseEnergy === 0 ? Infinity : -10 * Math.log10(nmseEnergy), cosine,
  };
}

function close(actual: number, expected: number, what: string): void {
  if (Number.isNaN(expected) || !Number.isFinite(expected) || expected === 0) {
    expect(actual, what).toBe(expected);
    return;
  }
  const rel = Math.abs(actual - expected) / Math.abs(expected);
  expect(rel, `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1e-12);
}

function expectClose<T extends object>(actual: T, expected: T, what: string): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const k of Object.keys(expected) as (keyof T)[]) close(actual[k] as number, expected[k] as number, `${what}.${String(k)}`);
}

/** Random f32 data: a mix of scales, an offset (to stress the variance), zeros, NaN and +-Inf. */
function data(r: () => number, n: number, specials: boolean, offset = 0): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    if (specials && u < 0.03) x[i] = NaN;
    else if (specials && u < 0.05) x[i] = r() < 0.5 ? Infinity : -Infinity;
    else if (u < 0.1) x[i] = 0;
    else x[i] = offset + (r() - 0.5) * 2 ** (Math.floor(r() * 20) - 10);
  }
  return x;
}

describe("stats_f32", () => {
  it("matches the f64 reference on random spans (sizes, strides, offsets, NaN/Inf/zeros)", () => {
    const r = rng(42);
    for (const n of STATS_SIZES) {
      for (const stride of [1, 2, 3, 7]) {
        for (const specials of [false, true]) {
          for (const off of [0, 1000]) {
            const start = n % 5;
            const x = data(r, start + Math.max(0, (n - 1) * stride + 1) + 3, specials, off);
            const got = addon.stats(x, start, n, stride);
            expectClose(got, refStats(x, start, n, stride), `n=${n} stride=${stride} specials=${specials} off=${off}`);
          }
        }
      }
    }
  });

  it("handles all-NaN, all-Inf, all-zero and a constant (std exactly 0)", () => {
    for (const fill of [NaN, Infinity, -Infinity, 0, -0, 3.25]) {
      const x = new Float32Array(33).fill(fill);
      const got = addon.stats(x, 0, 33, 1);
      expectClose(got, refStats(x, 0, 33, 1), `fill=${fill}`);
      if (Number.isFinite(fill)) expect(got.std).toBe(0);
    }
  });

  it("is accurate with a large offset (catastrophic cancellation in a one-pass variance)", () => {
    const x = new Float32Array(10001);
    for (let i = 0; i < x.length; i++) x[i] = 1e6 + (i % 2 ? 0.5 : -0.5);
    const got = summarize(x);
    expect(Math.abs(got.std - refStats(x, 0, x.length, 1).std)).toBeLessThan(1e-9);
  });

  it("stays accurate when a chunk's first element (its shift) is far from the rest", () => {
    for (const n of [33, 4096, 9000]) {
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = i % 4096 === 0 ? -3e7 : 1e6 + (i % 3) * 0.25;
      expectClose(summarize(x), refStats(x, 0, n, 1), `n=${n}`);
    }
  });

  it("orders -0 below +0 for min/max whatever the order of visits (every ISA path)", () => {
    const isa0 = currentIsa();
    for (const isa of ["scalar", "avx2"] as const) {
      if (setIsa(isa) !== isa) continue;
      for (const n of [5, 40]) {
        const x = new Float32Array(n).map((_, i) => (i % 2 ? 0 : -0));
        expect(Object.is(summarize(x).min, -0), `${isa} n=${n} min`).toBe(true);
        expect(Object.is(summarize(x).max, 0), `${isa} n=${n} max`).toBe(true);
        expect(Object.is(summarize(x.reverse()).min, -0), `${isa} n=${n} reversed`).toBe(true);
      }
    }
    setIsa(isa0 as "scalar" | "avx2" | "avx512");
  });

  it("summarize defaults to the whole array and honours offset/stride", () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6, 7]);
    expect(summarize(x).count).toBe(7);
    expect(summarize(x, { offset: 1, stride: 3 })).toMatchObject({ count: 2, min: 2, max: 5 });
    expect(summarize(x, { offset: 7 }).count).toBe(0);
  });
});

describe("diff_f32", () => {
  it("matches the f64 reference on random pairs (sizes, NaN/Inf, mismatching kinds)", () => {
    const r = rng(7);
    for (const n of SIZES) {
      for (const specials of [false, true]) {
        const a = data(r, n, specials);
        const b = a.map((v) => (r() < 0.05 && specials ? (r() < 0.5 ? NaN : Infinity) : v + (r() - 0.5) * 1e-3 * Math.abs(v)));
        expectClose(addon.diff(a, b), refDiff(a, b), `n=${n} specials=${specials}`);
        expectClose(diffMetrics(a, b), refDiff(a, b), `wrapper n=${n}`);
      }
    }
  });

  it("edge cases: identical, all-zero, one side zero, no finite pairs", () => {
    const a = new Float32Array([1, -2, 3]);
    expect(addon.diff(a, a)).toMatchObject({ maxAbs: 0, nmseEnergy: 0, nmseVariance: 0, sqnrDb: Infinity, cosine: 1 });
    const z = new Float32Array(3);
    expect(addon.diff(z, z)).toMatchObject({ nmseEnergy: 0, cosine: 1, sqnrDb: Infinity });
    expect(addon.diff(z, a)).toMatchObject({ nmseEnergy: Infinity, nmseVariance: Infinity, sqnrDb: -Infinity, cosine: 0 });
    expect(addon.diff(a, z)).toMatchObject({ nmseEnergy: 1, cosine: 0 });
    const n = new Float32Array([NaN, Infinity, -Infinity]);
    const m = new Float32Array([NaN, -Infinity, 1]);
    expect(addon.diff(n, m)).toMatchObject({ count: 3, nonfinite: 3, nonfiniteMismatch: 2, maxAbsIndex: -1, cosine: 1 });
    expect(addon.diff(new Float32Array(0), new Float32Array(0))).toMatchObject({ count: 0, maxAbsIndex: -1 });
  });
});
