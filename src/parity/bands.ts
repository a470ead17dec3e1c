/**
 * Pass bands for rosetta-vs-llama.cpp logit parity, per weight quantization and numerics mode. Every band
 * is derived by a fixed rule from a measured figure recorded here with its command and date
 * (`npm run parity:measure`, which prints the same figures and the band the rule gives; docs/parity.md
 * "Bands and their measured basis").
 *
 * Rules:
 * - measured > 0: band = 2x the largest figure seen, rounded up to the 1-2-2.5-5 series (the figures are
 *   maxima over thousands of positions; 2x leaves room for prompts outside the suite).
 * - ggml mode measured exactly 0 (rosetta reproduces llama.cpp's CPU backend bit for bit): a zero band
 *   would fail on a last-bit difference, so the band is the larger of (a) 10x the measured effect of one
 *   legitimate reordering (the output projection of the prompt's last row run unbatched instead of in
 *   llama.cpp's batched order: max delta 1.91e-6 = 2 ulp, KL 2.1e-13), for KL and mean KL 100x since KL
 *   grows with delta squared, and (b) 1/100 of this weight type's exact-mode band (1/10^4 for KL): exact
 *   mode does not reproduce llama.cpp's activation rounding at all, so (b) sits two decades under a
 *   rounding mismatch (the earlier partial one measured 1e-2..1.4e-1) and still far above reordering.
 *
 * nearTieGap is derived, not tuned: if every logit on each side is within topDelta of the other side,
 * a top-1 flip is only possible when the two candidates are within 2 * topDelta of each other, so a
 * flip with a larger gap cannot be explained by the band and is a failure.
 */
import type { Band, Numerics } from "./types.js";

export type { Band };


/** Largest figures of one measurement: per position max top-k delta and KL, per prompt max mean KL. */
export interface Figures {
  delta: number;
  kl: number;
  klMean: number;
}

export interface Measurement extends Figures {
  what: string;
}

export const MEASURED_ON = "2026-11-22";
export const MEASURE_COMMAND = "npm run parity:measure (scripts/measure-parity-bands.js)";
const SETUP = "AMD EPYC 2 cores AVX2 (no AVX-512), llama.cpp v0.5.0 de3ff815 haswell backend, 1 thread, no repack; scalar+avx2 paths";

/** One legitimate reordering (output rows unbatched vs batched), measured on stories260K 10x(50|200), 2026-11-22. */
export const REORDER: Figures = { delta: 1.91e-6, kl: 2.09e-13, klMean: 4.18e-15 };

const SYN = "synthetic llama/qwen2/qwen3";
const POS = "10 prompts x (50|200) tokens";
/** Measured 2026-11-22 with MEASURE_COMMAND; ggml-mode entries are all exactly 0 (bit-identical logits). */
export const MEASURED: Record<string, Record<Numerics, Measurement>> = {
  F32: {
    exact: { delta: 2.1e-5, kl: 5.48e-11, klMean: 2.62e-12, what: `stories260K + ${SYN} F32, ${POS}, 80 prompt runs, 6400 positions` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `stories260K + ${SYN} F32, ${POS}, 80 prompt runs, 6400 positions` },
  },
  F16: {
    exact: { delta: 3.005e-3, kl: 6.83e-7, klMean: 2.77e-7, what: `${SYN} F16, ${POS}, 60 prompt runs, 4800 positions (activations not rounded to F16)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} F16, ${POS}, 60 prompt runs, 4800 positions` },
  },
  Q8_0: {
    exact: { delta: 0.07215, kl: 4.27e-4, klMean: 2.26e-4, what: `${SYN} Q8_0, ${POS}, 60 prompt runs, 4800 positions (Q8_0 activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} Q8_0, ${POS}, 60 prompt runs, 4800 positions` },
  },
  Q6_K: {
    exact: { delta: 0.1153, kl: 9.17e-4, klMean: 4.84e-4, what: `${SYN} Q6_K, ${POS}, 60 prompt runs, 4800 positions (Q8_K activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} Q6_K, ${POS}, 60 prompt runs, 4800 positions` },
  },
  Q4_0: {
    exact: { delta: 0.2142, kl: 4.731e-3, klMean: 5.44e-4, what: `TinyLLama-v0 + ${SYN} Q4_0, ${POS}, 80 prompt runs, 6400 positions (Q8_0 activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `TinyLLama-v0 + ${SYN} Q4_0, ${POS}, 80 prompt runs, 6400 positions` },
  },
  Q4_K_M: {
    exact: { delta: 0.1078, kl: 8.72e-4, klMean: 4.78e-4, what: `${SYN} Q4_K_M, ${POS}, 60 prompt runs, 4800 positions (Q8_K activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} Q4_K_M, ${POS}, 60 prompt runs, 4800 positions` },
  },
  BF16: {
    exact: { delta: 0.02313, kl: 3.67e-5, klMean: 1.87e-5, what: `${SYN} BF16, ${POS}, 60 prompt runs, 4800 positions (activations not rounded to BF16)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} BF16, ${POS}, 60 prompt runs, 4800 positions` },
  },
  Q5_K_S: {
    exact: { delta: 0.127, kl: 1.022e-3, klMean: 5.36e-4, what: `${SYN} pure Q5_K (file type Q5_K_S), ${POS}, 60 prompt runs, 4800 positions (Q8_K activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} pure Q5_K (file type Q5_K_S), ${POS}, 60 prompt runs, 4800 positions` },
  },
  Q5_1: {
    exact: { delta: 0.09192, kl: 4.58e-4, klMean: 2.51e-4, what: `${SYN} Q5_1, ${POS}, 60 prompt runs, 4800 positions (Q8_1 activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} Q5_1, ${POS}, 60 prompt runs, 4800 positions` },
  },
  Q4_1: {
    exact: { delta: 0.0862, kl: 4.49e-4, klMean: 2.39e-4, what: `${SYN} Q4_1, ${POS}, 60 prompt runs, 4800 positions (Q8_1 activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} Q4_1, ${POS}, 60 prompt runs, 4800 positions` },
  },
  Q3_K_S: {
    exact: { delta: 0.1283, kl: 9.14e-4, klMean: 4.58e-4, what: `${SYN} pure Q3_K (file type Q3_K_S), ${POS}, 60 prompt runs, 4800 positions (Q8_K activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} pure Q3_K (file type Q3_K_S), ${POS}, 60 prompt runs, 4800 positions` },
  },
  Q2_K: {
    exact: { delta: 0.1158, kl: 1.012e-3, klMean: 5.59e-4, what: `${SYN} pure Q2_K, ${POS}, 60 prompt runs, 4800 positions (Q8_K activation rounding not emulated)` },
    ggml: { delta: 0, kl: 0, klMean: 0, what: `${SYN} pure Q2_K, ${POS}, 60 prompt runs, 4800 positions` },
  },
};

/** Smallest of 1, 2, 2.5, 5 x 10^k that is >= x. */
export function up125(x: number): number {
  if (!(x > 0)) return 0;
  const e = Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const v = Number((m * 10 ** e).toPrecision(3));
    if (v >= x * (1 - 1e-12)) return v;
  }
  return Number((10 ** (e + 1)).toPrecision(3));
}

/** The rule of the file comment: the band a measurement gives (ggml needs the exact-mode band for (b)). */
export function deriveBand(m: Figures, numerics: Numerics, exactBand?: Figures): Figures {
  const nonZero = m.delta > 0 || m.kl > 0 || m.klMean > 0;
  if (numerics === "exact" || nonZero) return { delta: up125(2 * m.delta), kl: up125(2 * m.kl), klMean: up125(2 * m.klMean) };
  const e = exactBand ?? { delta: 0, kl: 0, klMean: 0 };
  return {
    delta: Math.max(up125(10 * REORDER.delta), Number((e.delta / 100).toPrecision(3))),
    kl: Math.max(up125(100 * REORDER.kl), Number((e.kl / 1e4).toPrecision(3))),
    klMean: Math.max(up125(100 * REORDER.klMean), Number((e.klMean / 1e4).toPrecision(3))),
  };
}

function fmtFigures(f: Figures): string {
  return `max delta ${f.delta}, max KL ${f.kl}, max mean KL ${f.klMean}`;
}

type BandSpec = Omit<Band, "quant" | "numerics" | "nearTieGap">;

function measuredSpec(key: string, numerics: Numerics): BandSpec {
  const m = MEASURED[key][numerics];
  const exact = deriveBand(MEASURED[key].exact, "exact");
  const b = numerics === "exact" ? exact : deriveBand(m, "ggml", exact);
  const rule = numerics === "ggml" && m.delta === 0 ? "measured 0 (bit-identical): max(10x one reordering, exact band/100)" : "2x measured, 1-2-2.5-5 up";
  return {
    topDelta: b.delta,
    klMax: b.kl,
    klMean: b.klMean,
    provisional: false,
    basis: `measured ${MEASURED_ON} (${MEASURE_COMMAND}; ${SETUP}): ${m.what}: ${fmtFigures(m)}; band rule: ${rule}`,
  };
}

/**
 * Quantizations without their own measurement, held to the band of a measured one with the same
 * activation rounding. `ggmlExact`: rosetta's ggml mode reproduces llama.cpp bit for bit for every tensor
 * type of this quantization (docs/engine.md; true for every mix below, each made of measured types); a
 * mix with a type it does not reproduce would get the exact-mode band of its class in ggml mode.
 */
const ALIASES: Record<string, { to: string; ggmlExact: boolean }> = {
  ALL_F32: { to: "F32", ggmlExact: true },
  Q5_0: { to: "Q4_0", ggmlExact: true },
  // Mixes of K types (Q4_K, Q5_K, Q6_K, Q3_K; all bit-exact in ggml mode), activations rounded to Q8_K.
  Q4_K_S: { to: "Q4_K_M", ggmlExact: true },
  Q5_K_M: { to: "Q5_K_S", ggmlExact: true },
  Q3_K_M: { to: "Q3_K_S", ggmlExact: true },
  Q3_K_L: { to: "Q3_K_S", ggmlExact: true },
  // Pure IQ4 files, activations rounded like their targets (Q8_0, Q8_K); bit-identical in ggml mode on
  // their llama.cpp fixtures (tests/parity/models.test.ts, every weight type; IQ4_XS prompts in the IQ
  // panel order since session 13); exact mode measured under the targets' figures (docs/parity.md).
  IQ4_NL: { to: "Q4_0", ggmlExact: true },
  IQ4_XS: { to: "Q4_K_M", ggmlExact: true },
};

export const BAND_QUANTS = Object.keys(MEASURED);

export function bandKey(quant: string): string | null {
  const q = quant.toUpperCase();
  if (MEASURED[q]) return q;
  return ALIASES[q]?.to ?? null;
}

/** The band for a quantization and mode; null when there is none (the run must say so, not pass). */
export function bandFor(quant: string, numerics: Numerics): Band | null {
  const q = quant.toUpperCase();
  const key = bandKey(q);
  if (!key) return null;
  const alias = MEASURED[q] ? null : ALIASES[q];
  let spec: BandSpec;
  if (alias && numerics === "ggml" && !alias.ggmlExact) {
    spec = { ...measuredSpec(key, "exact"), provisional: true };
    spec.basis = `provisional, not measured on ${q}: ggml mode is not bit-exact for its tensor types (docs/engine.md), so it gets the exact-mode band of ${key}; ${spec.basis}`;
  } else if (alias) {
    spec = { ...measuredSpec(key, numerics), provisional: true };
    spec.basis = `provisional, not measured on ${q}: the band of ${key}; ${spec.basis}`;
  } else spec = measuredSpec(key, numerics);
  return { quant: key, numerics, ...spec, nearTieGap: 2 * spec.topDelta };
}
