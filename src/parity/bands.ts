/**
 * Pass bands for rosetta-vs-llama.cpp logit parity, per weight quantization and numerics mode.
 * Each band carries its basis: what was measured (command and figure) or "provisional" until a run
 * of the real thing backs it. docs/parity.md explains the metrics and how to re-measure.
 *
 * nearTieGap is derived, not tuned: if every logit on each side is within topDelta of the other side,
 * a top-1 flip is only possible when the two candidates are within 2 * topDelta of each other, so a
 * flip with a larger gap cannot be explained by the band and is a failure.
 */
import type { Numerics } from "./types.js";

export interface Band {
  /** Quantization class this band applies to (F32, F16, Q8_0, Q4_0, Q4_K_M, ...). */
  quant: string;
  numerics: Numerics;
  /** Per position: max |logit delta| over the union of both top-k id sets. */
  topDelta: number;
  /** Per position: KL(llama.cpp || rosetta) from full-vocabulary softmax. */
  klMax: number;
  /** Per prompt: mean KL over positions. */
  klMean: number;
  /** A flip is a counted near-tie when rosetta's gap to the reference token is at most this. */
  nearTieGap: number;
  provisional: boolean;
  basis: string;
}

type BandSpec = Omit<Band, "quant" | "numerics" | "nearTieGap">;

const PROVISIONAL = "provisional: not yet backed by a measured rosetta run (see docs/parity.md)";

// Measured 2025-11-22 with `rosetta parity` (docs/parity.md "Measured basis" has the commands and tables).
const F32_BASIS =
  "measured: stories260K 10x50 (avx2) and synthetic qwen2/qwen3 F32 10x(50|200) (scalar+avx2, ggml+exact): " +
  "max top-5 delta 7.6e-6, max KL 7.2e-12, max mean KL 8.2e-13; band ~13x delta, ~100x KL";
const GGML_QUANT_BASIS =
  "provisional: measured ggml-mode runs are bimodal: bit-close prompts (delta <= 2e-6, KL ~1e-13) and prompts that " +
  "diverge from one decode step on (delta 1e-2..1.4e-1), a rosetta emulation defect the band deliberately does not absorb";
const Q8_EXACT_BASIS =
  "measured: synthetic qwen2/qwen3 Q8_0 10x(50|200) exact mode (scalar+avx2): max delta 0.064, max KL 3.3e-4, " +
  "max mean KL 2.1e-4 (unemulated Q8_0 activation rounding); band ~2.3x";
const Q4KM_EXACT_BASIS =
  "measured: synthetic qwen2/qwen3 Q4_K_M 10x(50|200) exact mode (scalar+avx2): max delta 0.104, max KL 8.0e-4, " +
  "max mean KL 4.1e-4 (unemulated Q8_K activation rounding); band ~2.4x";
const Q40_EXACT_BASIS =
  "measured: TinyLLama-v0 Q4_0 10x(50|200) exact mode (avx2): max delta 0.214, max KL 3.7e-3, max mean KL 4.2e-4; band ~2.3x";

/** Looser with coarser weights: F32/F16 < Q8_0 < Q6_K < Q5_x < Q4_x/Q4_K < Q3_K/Q2_K. */
const TABLE: Record<string, Record<Numerics, BandSpec>> = {
  F32: {
    ggml: { topDelta: 1e-4, klMax: 1e-9, klMean: 1e-10, provisional: false, basis: F32_BASIS },
    exact: { topDelta: 1e-4, klMax: 1e-9, klMean: 1e-10, provisional: false, basis: F32_BASIS },
  },
  F16: {
    ggml: { topDelta: 1e-3, klMax: 1e-7, klMean: 1e-8, provisional: true, basis: PROVISIONAL },
    exact: { topDelta: 1e-3, klMax: 1e-7, klMean: 1e-8, provisional: true, basis: PROVISIONAL },
  },
  Q8_0: {
    ggml: { topDelta: 5e-3, klMax: 2e-5, klMean: 2e-6, provisional: true, basis: GGML_QUANT_BASIS },
    exact: { topDelta: 1.5e-1, klMax: 1e-3, klMean: 5e-4, provisional: false, basis: Q8_EXACT_BASIS },
  },
  Q6_K: {
    ggml: { topDelta: 1e-2, klMax: 5e-5, klMean: 5e-6, provisional: true, basis: PROVISIONAL },
    exact: { topDelta: 2e-1, klMax: 1.5e-3, klMean: 7e-4, provisional: true, basis: PROVISIONAL },
  },
  Q4_0: {
    ggml: { topDelta: 2e-2, klMax: 1e-4, klMean: 1e-5, provisional: true, basis: GGML_QUANT_BASIS },
    exact: { topDelta: 5e-1, klMax: 1e-2, klMean: 1e-3, provisional: false, basis: Q40_EXACT_BASIS },
  },
  Q4_K_M: {
    ggml: { topDelta: 2e-2, klMax: 1e-4, klMean: 1e-5, provisional: true, basis: GGML_QUANT_BASIS },
    exact: { topDelta: 2.5e-1, klMax: 2e-3, klMean: 1e-3, provisional: false, basis: Q4KM_EXACT_BASIS },
  },
};

/** Quantizations that share a band (same vec_dot type and similar weight precision). */
const ALIASES: Record<string, string> = {
  ALL_F32: "F32",
  BF16: "F16",
  Q4_1: "Q4_0",
  Q5_0: "Q4_0",
  Q5_1: "Q4_0",
  Q4_K_S: "Q4_K_M",
  Q5_K_S: "Q6_K",
  Q5_K_M: "Q6_K",
};

export const BAND_QUANTS = Object.keys(TABLE);

/** Basis updates recorded by measurement (docs/parity.md); applied over TABLE at lookup. */
export const MEASURED: Partial<Record<string, Partial<Record<Numerics, Partial<BandSpec>>>>> = {};

export function bandKey(quant: string): string | null {
  const q = quant.toUpperCase();
  if (TABLE[q]) return q;
  return ALIASES[q] ?? null;
}

/** The band for a quantization and mode; null when there is none (the run must say so, not pass). */
export function bandFor(quant: string, numerics: Numerics): Band | null {
  const key = bandKey(quant);
  if (!key) return null;
  const spec = { ...TABLE[key][numerics], ...(MEASURED[key]?.[numerics] ?? {}) };
  return { quant: key, numerics, ...spec, nearTieGap: 2 * spec.topDelta };
}
