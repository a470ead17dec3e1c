/**
 * The config diff: the fields that change numerics or structure, diffed model-vs-model, trace-vs-trace or
 * mixed, and the findings they give (a RoPE layout difference, or a metadata mismatch naming each GGUF key).
 */
import type { ModelConfig } from "../formats/model.js";
import { showMeta } from "./format.js";
import { finding, type ConfigDiff, type Finding, type MetadataDiff, type TensorDiff } from "./result.js";

/** The config fields that change numerics or structure: diffed model-vs-model, trace-vs-trace, or mixed. */
export const META_FIELDS: (keyof ModelConfig)[] = [
  "arch", "nLayer", "nEmbd", "nHead", "nHeadKv", "headDim", "nFf", "nVocab", "rmsEps", "ropeBase", "ropeDim", "ropeLayout",
  "ropeScaling", "tiedEmbeddings", "qkvBias", "qkNorm",
];

/** The GGUF key each field comes from (`%` = the architecture); fields derived from tensors or the arch have none. */
const GGUF_KEYS: Partial<Record<keyof ModelConfig, string>> = {
  arch: "general.architecture",
  nLayer: "%.block_count",
  nEmbd: "%.embedding_length",
  nHead: "%.attention.head_count",
  nHeadKv: "%.attention.head_count_kv",
  headDim: "%.attention.key_length",
  nFf: "%.feed_forward_length",
  nVocab: "%.vocab_size",
  rmsEps: "%.attention.layer_norm_rms_epsilon",
  ropeBase: "%.rope.freq_base",
  ropeDim: "%.rope.dimension_count",
  ropeScaling: "%.rope.scaling.*",
};

/** The config.json key each field comes from in a Hugging Face folder (src/formats/hf.ts). */
const HF_KEYS: Partial<Record<keyof ModelConfig, string>> = {
  arch: "model_type",
  nLayer: "num_hidden_layers",
  nEmbd: "hidden_size",
  nHead: "num_attention_heads",
  nHeadKv: "num_key_value_heads",
  headDim: "head_dim",
  nFf: "intermediate_size",
  nVocab: "vocab_size",
  rmsEps: "rms_norm_eps",
  ropeBase: "rope_theta",
  ropeDim: "partial_rotary_factor",
  ropeScaling: "rope_scaling",
  tiedEmbeddings: "tie_word_embeddings",
};

/**
 * `rmsEps (llama.attention.layer_norm_rms_epsilon)`: the field and, where there is one, its GGUF key; with
 * `hf` (a side is a Hugging Face folder) also its config.json key.
 */
export function fieldName(field: string, arch: unknown, hf = false): string {
  const k = GGUF_KEYS[field as keyof ModelConfig];
  const h = hf ? HF_KEYS[field as keyof ModelConfig] : undefined;
  const keys = [k?.replace("%", typeof arch === "string" ? arch : "<arch>"), h && `config.json ${h}`].filter(Boolean);
  return keys.length ? `${field} (${keys.join(" / ")})` : field;
}

/** A config as either side recorded it: a loaded model's, or a trace's `model.config` (possibly partial, or absent). */
type ConfigLike = Partial<ModelConfig> | Record<string, unknown> | undefined;

function sameValue(va: unknown, vb: unknown): boolean {
  return typeof va === "number" && typeof vb === "number" ? Math.abs(va - vb) <= 1e-6 * Math.max(Math.abs(va), Math.abs(vb)) : JSON.stringify(va) === JSON.stringify(vb);
}

/** Field-by-field diff of two configs; a field missing on a side is listed, not compared. */
export function diffConfigs(a: ConfigLike, b: ConfigLike): ConfigDiff {
  const ra = (a ?? {}) as Record<string, unknown>;
  const rb = (b ?? {}) as Record<string, unknown>;
  const out: ConfigDiff = { mismatches: [], compared: [], missingA: [], missingB: [] };
  for (const f of META_FIELDS) {
    const va = ra[f];
    const vb = rb[f];
    if (va === undefined) out.missingA.push(f);
    if (vb === undefined) out.missingB.push(f);
    if (va === undefined || vb === undefined) continue;
    out.compared.push(f);
    if (!sameValue(va, vb)) out.mismatches.push({ field: f, a: va, b: vb });
  }
  return out;
}

export function diffMetadata(a: ModelConfig, b: ModelConfig): MetadataDiff[] {
  return diffConfigs(a, b).mismatches;
}

/** Config flags the loader derives from which tensors exist: a missing (or all-zero vs absent) tensor explains them. */
const DERIVED: Record<string, RegExp> = { qkvBias: /attn_[qkv]_bias$/, qkNorm: /attn_[qk]_norm$/ };

/** Fields that follow from the architecture (its table): reported with it, transplanted with it. */
export const ARCH_DERIVED = new Set(["ropeLayout", "qkvBias", "qkNorm", "tiedEmbeddings"]);

/**
 * Findings for config differences. `tensors`: the weight diff's, when both sides are model files: then
 * the RoPE layout is judged on the Q/K weights themselves (equivalent when their rows are permuted to
 * match, a mismatch named on the tensor when not), and an architecture difference alone is a
 * conversion between families, not a defect. Between traces (no tensors) the activations decide where
 * q and k can be compared modulo the NORM/NEOX row order (`ropeCompared`: the head geometry is known):
 * rows permuted for the other layout match there, rows that were not permuted diverge at q/k or
 * q_rope/k_rope (a Hugging Face folder's HF-order rows against a llama GGUF's permuted ones included).
 * Without the geometry a layout difference within one architecture is a mismatch. `hf`: a side is a
 * Hugging Face folder, so config fields are named by their config.json key too.
 */
export function metadataFindings(md: MetadataDiff[], tensors: TensorDiff[] | null, arch?: unknown, ropeCompared = false, hf = false): Finding[] {
  const out: Finding[] = [];
  const missing = (tensors ?? []).filter((t) => t.status === "missing-in-a" || t.status === "missing-in-b" || t.relation?.kind === "zero-vs-absent").map((t) => t.key);
  const explained = (f: string) => DERIVED[f] !== undefined && missing.some((k) => DERIVED[f].test(k));
  const archDiff = md.find((m) => m.field === "arch");
  const rope = md.find((m) => m.field === "ropeLayout");
  if (archDiff) {
    out.push(finding("architecture-differs", "metadata", null, [
      `architecture: A ${String(archDiff.a)}, B ${String(archDiff.b)}: the capture points align (same layers and widths), so they are compared as one network`,
      ...(rope ? [`RoPE layout: A ${String(rope.a)}, B ${String(rope.b)}: q, k, q_rope and k_rope are compared modulo the NORM/NEOX row order within each head`] : []),
    ], false));
  } else if (rope && !tensors) {
    const ev = `rope layout: A ${String(rope.a)}, B ${String(rope.b)}`;
    if (ropeCompared) out.push(finding("rope-layout-mismatch", "metadata", null, [ev, "q, k, q_rope and k_rope are compared modulo the NORM/NEOX row order within each head: the activations decide (Q/K rows permuted for the other layout match; rows that were not diverge there)"], false));
    else out.push(finding("rope-layout-mismatch", "metadata", null, [ev, "the head geometry (nHead, nHeadKv, headDim) is not recorded on either side, so q and k cannot be compared modulo the row order"]));
  }
  // tiedEmbeddings alone is a storage choice, not a numerics difference; arch-derived flags go with the arch
  const real = md.filter((m) => m.field !== "arch" && m.field !== "ropeLayout" && m.field !== "tiedEmbeddings" && !explained(m.field) && !(archDiff && ARCH_DERIVED.has(m.field)));
  if (real.length) {
    const lines = real.map((m) => `${fieldName(m.field, arch, hf)}: A ${showMeta(m.a)}, B ${showMeta(m.b)}`);
    if (hf) lines.push("a config value not carried over between config.json and the other side's metadata (a conversion defect)");
    const f = finding("metadata-mismatch", "metadata", null, lines);
    f.keys = real.map((m) => m.field);
    out.push(f);
  }
  return out;
}
