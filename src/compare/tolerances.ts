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
 * Each band's `basis` gives its measurement (bench/measure-bands.ts); the only ones still marked provisional
 * (APR_Q8, APR_Q4) have no fixture to measure on and say what their estimate rests on.
 */

/** --threshold default: energy NMSE 1e-3 (SQNR 30 dB, relative L2 error 3.2%). */
export const DEFAULT_THRESHOLD = 1e-3;

export interface Band {
  id: string;
  nmse: number;
  provisional: boolean;
  basis: string;
}

/**
 * Measured 2026-11-22 by `npm run bands:measure` (bench/measure-bands.ts: llama/qwen2/qwen3 fixtures in F32, F16,
 * BF16 and every quantized fixture type, 5 prompts, prompt + 2 decode steps, worst energy NMSE over every capture
 * point, all and last token; engine at commit 1825c06; docs/tolerances.md has the tables). Rule: band = the first
 * 1-2-5 step at or above 2x the worst measured value, unless noted.
 */
export const MEASURED_ON = "2026-11-22";

/** Noise between two runs of the same weights whose numerics differ (engine, mode). */
export const NUMERICS_BANDS: Record<string, Band> = {
  "same-run": {
    id: "same-run",
    nmse: 0,
    provisional: false,
    basis: "same engine, same settings: measured NMSE 0 at every point (llama.cpp twice, rosetta twice; 3 archs x 5 prompts)",
  },
  "engine:float": {
    id: "engine:float",
    nmse: 1e-5,
    provisional: false,
    basis:
      "measured: F32/F16/BF16 weights, rosetta ggml vs llama.cpp 0 (bit-identical); exact vs llama.cpp or ggml <= 8.4e-13 (F32), " +
      "1.5e-6 (F16); band ~7x the F16 figure (BF16 with exact numerics: engine:bf16-exact)",
  },
  "engine:bf16-exact": {
    id: "engine:bf16-exact",
    nmse: 5e-4,
    provisional: false,
    basis: "measured: BF16 weights, exact (f32 activations, f64 sums) vs ggml numerics or llama.cpp (activations rounded to BF16): worst 1.0e-4",
  },
  "engine:quant-ggml": {
    id: "engine:quant-ggml",
    nmse: 1e-9,
    provisional: false,
    basis:
      "measured: quantized weights, rosetta ggml vs llama.cpp: NMSE 0 at every point (bit-identical) for every fixture " +
      "type: Q2_K, Q3_K, Q4_0, Q4_1, Q4_K, Q4_K_M, Q5_0, Q5_1, Q5_K, Q6_K, Q8_0. Measured 0, so the 2x rule gives nothing; " +
      "1e-9 leaves room for a last-bit reordering and is six decades under the exact-mode figures",
  },
  "engine:quant-exact": {
    id: "engine:quant-exact",
    nmse: 1e-2,
    provisional: false,
    basis: "measured: quantized weights, exact (dequantized f32) vs ggml numerics or llama.cpp: worst 3.07e-3 (Q4_K) over Q2_K..Q8_0 (unemulated activation quantization)",
  },
};

const q = (id: string, nmse: number, basis: string, provisional = false): Band => ({ id: `quant:${id}`, nmse, provisional, basis });

/**
 * llama.cpp against itself under other run conditions (docs/conditions.md): another backend (Vulkan on
 * llvmpipe), flash attention, an F16 KV cache, the prompt in several ubatches. The backends do not compute
 * alike (other kernels, other summation orders, F16 intermediates in the shaders), so the band is measured
 * per weight class by `npm run bands:conditions` (bench/measure-conditions.ts). Quantized KV caches (q8_0,
 * q4_0) are lossy by design and are not in the band: a sweep reports them as the diverging condition.
 */
export const CONDITIONS_BANDS: Record<string, Band> = {
  F32: {
    id: "conditions:F32",
    nmse: 1e-4,
    provisional: false,
    basis: "measured 2026-12-04: worst 3.4e-5 (stories260K, flash attention on the CPU; Vulkan llvmpipe 3.1e-5; qwen2/qwen3 F32 <= 2.2e-6)",
  },
  F16: { id: "conditions:F16", nmse: 5e-4, provisional: false, basis: "measured 2026-12-04: worst 1.1e-4 (qwen3 F16 on Vulkan llvmpipe; qwen2 8.9e-5)" },
  Q8_0: { id: "conditions:Q8_0", nmse: 2e-3, provisional: false, basis: "measured 2026-12-04: worst 9.1e-4 (qwen3 Q8_0 on Vulkan llvmpipe; flash attention 6.6e-4, F16 KV 5.8e-4)" },
  Q4_K: { id: "conditions:Q4_K", nmse: 5e-3, provisional: false, basis: "measured 2026-12-04: worst 1.7e-3 (qwen3 Q4_K_M on Vulkan llvmpipe; flash attention 1.4e-3, F16 KV 1.3e-3)" },
  Q4_0: { id: "conditions:Q4_0", nmse: 5e-3, provisional: false, basis: "measured 2026-12-04: worst 2.4e-3 (TinyLLama-v0 Q4_0, F16 KV on the CPU; flash attention 2.3e-3, Vulkan 9.6e-4)" },
  quant: { id: "conditions:quant", nmse: 5e-3, provisional: true, basis: "not measured for this type: the widest measured quantized conditions band (Q4_0, Q4_K)" },
};

/** The conditions band of a weight type (other quantized types take the widest measured quantized band). */
export function conditionsBand(type: string | undefined): Band {
  const t = normType(type);
  return CONDITIONS_BANDS[t] ?? (FLOAT_TYPES.has(t) ? CONDITIONS_BANDS.F16 : CONDITIONS_BANDS.quant);
}

/** A side's numerics mode that names llama.cpp run conditions (src/reference/conditions.ts writes it). */
export function isConditionsMode(mode: string | undefined): boolean {
  return !!mode && mode.startsWith("conditions(");
}

/**
 * Activation drift between a model in this weight type and the same model in F32 (worst point over the
 * trace, on llama.cpp and on rosetta). Keyed by GGML type name, upper case. On the fixtures' random
 * 256-wide weights Q3_K and Q2_K drift as far as a layout defect (NMSE ~1): their bands cannot separate the
 * two, so for those pairs the weight diff (SQNR against the floor) is what catches a defect.
 */
export const QUANT_BANDS: Record<string, Band> = {
  F16: q("F16", 1e-5, "measured: worst 4.1e-6 vs F32"),
  BF16: q("BF16", 1e-3, "measured: worst 2.5e-4 vs F32 (median 1.9e-4)"),
  Q8_0: q("Q8_0", 1e-2, "measured: worst 2.8e-3 vs F32"),
  Q6_K: q("Q6_K", 0.1, "measured: worst 2.6e-2 vs F32 (median 1.1e-2)"),
  Q5_0: q("Q5_0", 0.2, "measured: worst 6.6e-2 vs F32"),
  Q5_1: q("Q5_1", 0.2, "measured: worst 7.1e-2 vs F32"),
  Q5_K: q("Q5_K", 0.2, "measured: worst 9.3e-2 vs F32"),
  Q4_0: q("Q4_0", 0.5, "measured: worst 0.30 vs F32; band 1.7x (not 2x) to stay clear of layout defects (NMSE ~1-2)"),
  Q4_1: q("Q4_1", 0.5, "measured: worst 0.25 vs F32"),
  Q4_K: q("Q4_K", 0.5, "measured: worst 0.28 vs F32 (pure Q4_K and Q4_K_M); band 1.8x to stay clear of layout defects"),
  Q3_K: q("Q3_K", 1.5, "measured: worst 0.71 vs F32: overlaps layout defects; the weight diff decides"),
  Q2_K: q("Q2_K", 4, "measured: worst 1.81 vs F32: overlaps layout defects; the weight diff decides"),
  APR_Q8: q("APR_Q8", 1e-2, "not measured: APR 8-bit blocks, taken as Q8_0's", true),
  APR_Q4: q("APR_Q4", 0.5, "not measured: APR 4-bit blocks, taken as Q4_0's", true),
};

/**
 * Expected weight-level SQNR (dB) of a dequantized tensor of this type against its float original
 * (the "floor" of the weight diff). Two identical types are expected to be bit-identical (Infinity).
 * Measured: the lowest SQNR of any tensor of that type in the fixtures (bands:measure, "weight:" lines)
 * minus 3 dB; Q8_K and the APR types are estimates (uniform noise with absmax block scaling).
 */
export const WEIGHT_SQNR_FLOOR_DB: Record<string, number> = {
  F32: 120,
  F16: 70, // measured 73.6
  BF16: 52, // measured 55.5
  Q8_0: 42, // measured 45.3
  Q8_K: 42, // as Q8_0 (estimate)
  Q6_K: 32, // measured 35.0
  Q5_0: 24, // measured 27.3
  Q5_1: 25, // measured 28.4
  Q5_K: 25, // measured 28.7
  Q4_0: 18, // measured 21.2
  Q4_1: 19, // measured 22.1
  Q4_K: 19, // measured 22.9
  Q3_K: 13, // measured 16.4
  Q2_K: 7, // measured 10.7
  APR_Q8: 38, // estimate
  APR_Q4: 16, // estimate
};

/**
 * The reference's own noise, shown in every report: what two runs of side B's engine on the same input
 * differ by (run to run) and what rosetta's two numerics modes differ by for this weight class.
 */
export const REFERENCE_NOISE = {
  runToRun: { nmse: 0, basis: "llama.cpp twice and rosetta twice on the same file: bit-identical at every point (measured)" },
  modes: {
    F32: { nmse: 8.4e-13, basis: "rosetta ggml vs exact, F32 weights (measured worst)" },
    F16: { nmse: 1.5e-6, basis: "rosetta ggml vs exact, F16 weights (measured worst)" },
    BF16: { nmse: 1.0e-4, basis: "rosetta ggml vs exact, BF16 weights (measured worst)" },
    quant: { nmse: 3.1e-3, basis: "rosetta ggml vs exact, quantized weights Q2_K..Q8_0 (measured worst, Q4_K)" },
  } as Record<string, { nmse: number; basis: string }>,
};

export interface NoiseInfo {
  runToRun: number;
  modes: number;
  weightClass: string;
  basis: string;
}

/** The reference noise for a weight type (side B's), for the report. */
export function referenceNoise(type: string | undefined): NoiseInfo {
  const t = normType(type);
  const cls = t === "F32" || t === "F16" || t === "BF16" ? t : t === "UNKNOWN" ? "F32" : "quant";
  const m = REFERENCE_NOISE.modes[cls];
  return { runToRun: REFERENCE_NOISE.runToRun.nmse, modes: m.nmse, weightClass: cls, basis: `${REFERENCE_NOISE.runToRun.basis}; ${m.basis}; measured ${MEASURED_ON} (npm run bands:measure)` };
}

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
  // llama.cpp's file-type names: "all F32", "Q4_K - Medium", "(guessed) all F32", "MOSTLY_Q4_K_M"
  let s = String(t).toUpperCase().replace(/\(GUESSED\)/, "").replace(/\s+-\s+(SMALL|MEDIUM|LARGE)$/, "").trim().replace(/\s+/g, "_");
  s = s.replace(/^(MOSTLY_|ALL_|LLAMA_FTYPE_MOSTLY_|LLAMA_FTYPE_ALL_)/, "");
  s = s.replace(/_(S|M|L|XS|XXS)$/, "");
  return s;
}

const FLOAT_TYPES = new Set(["F32", "F16", "BF16", "F64"]);

/** Precision rank: lower is coarser (used to pick the band of the coarser side). */
export function precisionRank(t: string): number {
  if (t === "F32" || t === "F64") return 1000;
  return WEIGHT_SQNR_FLOOR_DB[t] ?? 0;
}

export interface BandQuery {
  typeA?: string;
  typeB?: string;
  /** Numerics identity per side: engine name and numerics mode ("ggml" | "exact" | "float32" | undefined). */
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
    return QUANT_BANDS[coarser] ?? { id: `quant:${coarser}`, nmse: 1.5, provisional: true, basis: `no measured band for ${coarser}: a wide default` };
  }
  const sameNumerics = q.engineA === q.engineB && (q.modeA ?? "") === (q.modeB ?? "");
  if (sameNumerics) return null;
  // activations never quantized: rosetta's exact mode, or an engine computing in float32 on dequantized
  // weights (the transformers engine records numerics "float32": measured within 1e-11 of exact mode)
  const unquantized = (m: string | undefined) => m === "exact" || m === "float32";
  const exact = unquantized(q.modeA) || unquantized(q.modeB);
  // ggml mode rounds BF16 activations to BF16 as llama.cpp does; exact mode does not (1e-4, not 1e-6).
  // one side's type unknown (a saved or imported trace that does not record it): the other side's decides
  const t = ta === "UNKNOWN" ? tb : ta;
  const band =
    t === "BF16" && exact ? NUMERICS_BANDS["engine:bf16-exact"] : FLOAT_TYPES.has(t) ? NUMERICS_BANDS["engine:float"] : exact ? NUMERICS_BANDS["engine:quant-exact"] : NUMERICS_BANDS["engine:quant-ggml"];
  // a llama.cpp side off the reference path (another backend or CPU variant, repacked weights, flash
  // attention, ...) is not what ggml mode reproduces: the conditions band, or the engine band if wider
  if (isConditionsMode(q.modeA) || isConditionsMode(q.modeB)) {
    const c = conditionsBand(t);
    return c.nmse > band.nmse ? c : band;
  }
  return band;
}
