/**
 * Every tolerance the comparator uses, in one table (docs/tolerances.md gives each entry's basis).
 *
 * The gate at every capture point is an energy NMSE, sum (a-b)^2 / sum b^2 with B the reference, over
 * the sample (all tokens of a step, and separately its last token):
 *   nmse <= threshold            -> match
 *   threshold < nmse <= band     -> drift (precision drift within band: a pass, reported)
 *   nmse > max(threshold, band)  -> diverged
 * The band is chosen from the pair: same weights on the same engine and settings get none (the threshold
 * alone decides); different numerics (engines or modes) or different weight types get the band below.
 * A band marked provisional was not yet measured with the real engines: its number is an estimate and
 * its `basis` says from what.
 */

/** --threshold default: energy NMSE 1e-3 (SQNR 30 dB, relative L2 error 3.2%). */
export const DEFAULT_THRESHOLD = 1e-3;

export interface Band {
  id: string;
  nmse: number;
  provisional: boolean;
  basis: string;
}

/** Noise between two runs of the same weights whose numerics differ (engine, mode). */
export const NUMERICS_BANDS: Record<string, Band> = {
  "same-run": {
    id: "same-run",
    nmse: 0,
    provisional: false,
    basis: "same engine, same settings: rosetta and llama.cpp are bit-reproducible for a fixed build (numerics-notes.md)",
  },
  "engine:float": {
    id: "engine:float",
    nmse: 1e-4,
    provisional: true,
    basis: "F32/F16 weights, different engines or modes: accumulation order only; estimate 1e-4 at the logits",
  },
  "engine:quant-ggml": {
    id: "engine:quant-ggml",
    nmse: 1e-3,
    provisional: true,
    basis: "quantized weights, rosetta ggml mode vs llama.cpp: both quantize activations to the vec_dot type; estimate",
  },
  "engine:quant-exact": {
    id: "engine:quant-exact",
    nmse: 1e-2,
    provisional: true,
    basis: "quantized weights, exact (dequantized f32) vs ggml numerics: activation quantization moves activations 1-3% relative (numerics-notes.md) -> NMSE up to ~1e-3 per matmul, accumulated",
  },
};

/**
 * Activation drift between a model in this weight type and the same model in F32 (end-to-end, worst
 * point over the trace). Keyed by GGML type name, upper case.
 */
export const QUANT_BANDS: Record<string, Band> = {
  F16: { id: "quant:F16", nmse: 1e-4, provisional: true, basis: "F16 rounding (rel. 2^-11 per weight, SQNR ~ 70 dB) accumulated over layers; estimate" },
  BF16: { id: "quant:BF16", nmse: 1e-3, provisional: true, basis: "BF16 rounding (rel. 2^-8, SQNR ~ 50 dB) accumulated; estimate" },
  Q8_0: { id: "quant:Q8_0", nmse: 1e-2, provisional: true, basis: "Q8_0 weight SQNR ~ 45 dB, activations quantized to Q8_0; estimate" },
  Q6_K: { id: "quant:Q6_K", nmse: 3e-2, provisional: true, basis: "Q6_K weight SQNR ~ 32 dB; estimate" },
  Q5_0: { id: "quant:Q5_0", nmse: 8e-2, provisional: true, basis: "Q5_0 weight SQNR ~ 27 dB; estimate" },
  Q5_1: { id: "quant:Q5_1", nmse: 8e-2, provisional: true, basis: "Q5_1 weight SQNR ~ 28 dB; estimate" },
  Q5_K: { id: "quant:Q5_K", nmse: 8e-2, provisional: true, basis: "Q5_K weight SQNR ~ 27 dB; estimate" },
  Q4_0: { id: "quant:Q4_0", nmse: 0.25, provisional: true, basis: "Q4_0 weight SQNR ~ 21 dB; a layout bug gives NMSE ~ 1-2, so 0.25 still separates them; estimate" },
  Q4_1: { id: "quant:Q4_1", nmse: 0.25, provisional: true, basis: "Q4_1 weight SQNR ~ 22 dB; estimate" },
  Q4_K: { id: "quant:Q4_K", nmse: 0.25, provisional: true, basis: "Q4_K weight SQNR ~ 22 dB; estimate" },
  Q3_K: { id: "quant:Q3_K", nmse: 0.4, provisional: true, basis: "Q3_K weight SQNR ~ 15 dB; estimate" },
  APR_Q8: { id: "quant:APR_Q8", nmse: 1e-2, provisional: true, basis: "APR 8-bit blocks, as Q8_0; estimate" },
  APR_Q4: { id: "quant:APR_Q4", nmse: 0.25, provisional: true, basis: "APR 4-bit blocks, as Q4_0; estimate" },
  Q2_K: { id: "quant:Q2_K", nmse: 0.6, provisional: true, basis: "Q2_K weight SQNR ~ 9 dB; estimate" },
};

/**
 * Expected weight-level SQNR (dB) of a dequantized tensor of this type against its float original
 * (the "floor" of the weight diff). Two identical types are expected to be bit-identical (Infinity).
 * Basis: uniform quantization noise with per-block absmax scaling on Gaussian weights,
 * SQNR ~ 10 log10(12 L^2 / c^2) for L levels each side and crest factor c ~ 2.3 over 32 values, minus a
 * 3 dB margin; docs/tolerances.md.
 */
export const WEIGHT_SQNR_FLOOR_DB: Record<string, number> = {
  F32: 120,
  F16: 60,
  BF16: 42,
  Q8_0: 38,
  Q8_K: 38,
  Q6_K: 28,
  Q5_0: 22,
  Q5_1: 23,
  Q5_K: 22,
  Q4_0: 16,
  Q4_1: 17,
  Q4_K: 16,
  Q3_K: 10,
  Q2_K: 5,
  APR_Q8: 38,
  APR_Q4: 16,
};

/** The SQNR floor for comparing a tensor of type `a` with one of type `b` (the coarser type decides). */
export function weightSqnrFloor(a: string, b: string): number {
  const ta = normType(a);
  const tb = normType(b);
  if (ta === tb) return Infinity;
  return Math.min(WEIGHT_SQNR_FLOOR_DB[ta] ?? 10, WEIGHT_SQNR_FLOOR_DB[tb] ?? 10);
}

/** GGUF type / file-type spellings to one form: "q4_K" -> "Q4_K", "MOSTLY_Q4_K_M" -> "Q4_K", "all_f32" -> "F32". */
export function normType(t: string | undefined | null): string {
  if (!t) return "UNKNOWN";
  let s = String(t).toUpperCase().replace(/^(MOSTLY_|ALL_|LLAMA_FTYPE_MOSTLY_|LLAMA_FTYPE_ALL_)/, "");
  s = s.replace(/_(S|M|L|XS|XXS)$/, "");
  return s;
}

const FLOAT_TYPES = new Set(["F32", "F16", "BF16", "F64"]);

/** Precision rank: lower is coarser (used to pick the band of the coarser side). */
function precisionRank(t: string): number {
  if (t === "F32" || t === "F64") return 1000;
  return WEIGHT_SQNR_FLOOR_DB[t] ?? 0;
}

export interface BandQuery {
  typeA?: string;
  typeB?: string;
  /** Numerics identity per side: engine name and numerics mode ("ggml" | "exact" | undefined). */
  engineA: string;
  engineB: string;
  modeA?: string;
  modeB?: string;
}

/** The band for a pair, or null when the threshold alone decides (same weights, same numerics). */
export function selectBand(q: BandQuery): Band | null {
  const ta = normType(q.typeA);
  const tb = normType(q.typeB);
  if (ta !== tb && ta !== "UNKNOWN" && tb !== "UNKNOWN") {
    const coarser = precisionRank(ta) <= precisionRank(tb) ? ta : tb;
    return QUANT_BANDS[coarser] ?? { id: `quant:${coarser}`, nmse: 0.5, provisional: true, basis: `no measured band for ${coarser}: a wide default` };
  }
  const sameNumerics = q.engineA === q.engineB && (q.modeA ?? "") === (q.modeB ?? "");
  if (sameNumerics) return null;
  if (FLOAT_TYPES.has(ta)) return NUMERICS_BANDS["engine:float"];
  const exact = q.modeA === "exact" || q.modeB === "exact";
  return exact ? NUMERICS_BANDS["engine:quant-exact"] : NUMERICS_BANDS["engine:quant-ggml"];
}
