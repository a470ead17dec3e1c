/**
 * The fixed diagnosis vocabulary (docs/diagnoses.md). Every finding the comparator emits carries one of
 * these ids; the title and default recommendation live here so that the docs, the text report and the
 * JSON report say the same thing.
 */

export const DIAGNOSES = {
  "layout-transposed": {
    title: "layout transposed",
    recommendation: "transpose at load: the weight is stored [in, out] on one side and [out, in] (GGML convention) on the other",
  },
  "qk-rope-permutation": {
    title: "Q/K RoPE permutation",
    recommendation: "permute the Q/K rows within each head at conversion (adjacent-pair vs split-half order), or switch the RoPE variant to match",
  },
  "rope-layout-mismatch": {
    title: "RoPE layout mismatch",
    recommendation: "use the same RoPE variant on both sides (NORM adjacent pairs for llama/mistral, NEOX split halves for qwen2/qwen3)",
  },
  "tensors-swapped": {
    title: "tensors swapped",
    recommendation: "map the tensor names to roles correctly at conversion/load (the two tensors are exchanged; any two tensors of one shape, in one layer or across layers)",
  },
  "tensor-misplaced": {
    title: "tensor taken from the wrong place",
    recommendation: "the tensor is a copy of another role or layer (a wrong name mapping or a repeated layer): export the right source tensor",
  },
  "tensor-scaled": {
    title: "weights rescaled",
    recommendation: "the tensor is the reference's up to a uniform factor, sign or offset: check scale factors, norm-weight offsets (+1 conventions) and dtype conversions at export",
  },
  "rows-permuted": {
    title: "rows permuted",
    recommendation: "the tensor holds the reference's rows in another order (heads or rows reordered): apply the same order at conversion, or reorder consistently through the layer",
  },
  "blocks-corrupted": {
    title: "blocks corrupted",
    recommendation: "a few rows or quantization blocks differ and the rest is equal: a partial write, an offset error or a corrupted file region",
  },
  "equivalent-reparametrization": {
    title: "equivalent reparametrization",
    recommendation: "none needed: the two sides store the same function differently (the report compares them modulo this)",
  },
  "architecture-differs": {
    title: "architecture differs",
    recommendation: "none needed when the conversion is right: the two files name different architecture families of one network",
  },
  "tensor-missing": {
    title: "tensor missing",
    recommendation: "export the missing tensor (or stop the other side from using it)",
  },
  "dtype-mismatch": {
    title: "dtype mismatch",
    recommendation: "compare models of the same weight type, or accept the precision band of the lower-precision type",
  },
  "dequant-mismatch": {
    title: "dequantization mismatch",
    recommendation: "check the block layout and dequantization of this type (scales/mins order, nibble order, byte offsets)",
  },
  "weights-differ": {
    title: "weights differ",
    recommendation: "the two files do not hold the same weights for this role: check the source tensor used at conversion",
  },
  "metadata-mismatch": {
    title: "metadata mismatch",
    recommendation: "make the model metadata (eps, rope base, heads, vocab...) agree; the weights may be fine",
  },
  "tokenizer-mismatch": {
    title: "tokenizer mismatch",
    recommendation: "the two sides tokenize the prompt differently: fix the tokenizer, or pass --tokens to compare the models on the same ids",
  },
  "sample-mismatch": {
    title: "sample mismatch",
    recommendation: "the two sides summarise different samples (token counts, positions or shapes): re-capture with the same input and settings",
  },
  "token-flip": {
    title: "top token flips",
    recommendation: "the two sides choose different next tokens: if a near-tie inside the band, precision; otherwise follow the first divergent point of that step",
  },
  "kv-cache-drift": {
    title: "KV-cache drift",
    recommendation: "the prompt matches but decode steps drift, growing with position: check the KV cache (type, positions, rope on cached keys)",
  },
  nonfinite: {
    title: "NaN/Inf",
    recommendation: "find the op that first produces NaN/Inf (overflow in F16, division by a zero norm, uninitialised memory)",
  },
  "precision-drift": {
    title: "precision drift within band",
    recommendation: "none needed: the difference is inside the measured band for these weight types and numerics modes",
  },
  "unexplained-divergence": {
    title: "unexplained divergence",
    recommendation: "no finding explains it: explore it with `rosetta bisect A B` (exact numerics per layer, isolate the layer, take tensors from the other side), and compare the layer's weights with `rosetta diff-weights A B`",
  },
} as const;

export type DiagnosisId = keyof typeof DIAGNOSES;

export const DIAGNOSIS_IDS = Object.keys(DIAGNOSES) as DiagnosisId[];
