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

/** `rmsEps (llama.attention.layer_norm_rms_epsilon)`: the field and, where there is one, its GGUF key. */
export function fieldName(field: string, arch: unknown): string {
  const k = GGUF_KEYS[field as keyof ModelConfig];
  return k ? `${field} (${k.replace("%", typeof arch === "string" ? arch : "<arch>")})` : field;
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

/** Config flags the loader derives from which tensors exist: a missing tensor explains them. */
const DERIVED: Record<string, RegExp> = { qkvBias: /attn_[qkv]_bias$/, qkNorm: /attn_[qk]_norm$/ };

/** Findings for config differences (`tensors`: the weight diff's, so a missing tensor explains its derived flag). */
export function metadataFindings(md: MetadataDiff[], tensors: TensorDiff[], arch?: unknown): Finding[] {
  const out: Finding[] = [];
  const missing = tensors.filter((t) => t.status === "missing-in-a" || t.status === "missing-in-b").map((t) => t.key);
  const explained = (f: string) => DERIVED[f] !== undefined && missing.some((k) => DERIVED[f].test(k));
  const rope = md.filter((m) => m.field === "ropeLayout");
  const rest = md.filter((m) => m.field !== "ropeLayout" && !explained(m.field));
  if (rope.length) out.push(finding("rope-layout-mismatch", "metadata", null, [`rope layout: A ${String(rope[0].a)}, B ${String(rope[0].b)}`]));
  // tiedEmbeddings alone is a storage choice, not a numerics difference
  const real = rest.filter((m) => m.field !== "tiedEmbeddings");
  if (real.length) out.push(finding("metadata-mismatch", "metadata", null, real.map((m) => `${fieldName(m.field, arch)}: A ${showMeta(m.a)}, B ${showMeta(m.b)}`)));
  return out;
}

