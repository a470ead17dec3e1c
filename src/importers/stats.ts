/**
 * Statistics other engines report, as rosetta's Summary (docs/metrics.md): their standard deviation is
 * the sample one (divided by n - 1: realizar's ActivationStats, torch's std), rosetta's the population one
 * over the finite elements; absmax and l2 follow from min, max, mean and std.
 */
import type { Summary } from "../trace/types.js";

export interface SampleStats {
  count: number;
  nan: number;
  inf: number;
  zeros: number;
  mean: number;
  /** Sample standard deviation over the finite elements. */
  sampleStd: number;
  min: number;
  max: number;
}

export function fromSampleStats(x: SampleStats): Summary {
  const finite = x.count - x.nan - x.inf;
  const std = finite > 1 ? x.sampleStd * Math.sqrt((finite - 1) / finite) : 0;
  const absmax = finite ? Math.max(Math.abs(x.min), Math.abs(x.max)) : 0;
  return { count: x.count, nan: x.nan, inf: x.inf, zeros: x.zeros, mean: x.mean, std, min: x.min, max: x.max, absmax, l2: Math.sqrt(finite * (std * std + x.mean * x.mean)) };
}
