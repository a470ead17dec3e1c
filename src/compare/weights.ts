/**
 * Weight-level diff of two loaded models (`rosetta diff-weights A B`, and the evidence the comparison
 * uses): tensors matched by role; missing/extra; dims (row-major, so GGUF's innermost-first order never
 * looks transposed); dtypes; byte identity; dequantized values (SQNR against the floor for the two
 * types); transposition by shape and, for square weights, by value; Q/K rows permuted within heads;
 * Q/K and gate/up swapped; a shifted embedding table; metadata differences.
 */
import type { LoadedModel, ModelConfig, TensorView } from "../formats/model.js";
import { diffMetrics, mappingBytes, openMapping } from "../bindings/kernels.js";
import { finding, fmt } from "./diagnose.js";
import type { DiagnosisId } from "./diagnoses.js";
import type { DiffFn } from "./metrics.js";
import { normType, weightSqnrFloor } from "./tolerances.js";
import type { Finding } from "./types.js";
import { checkValues, type Src } from "./weight-values.js";

export type TensorStatus =
  | "identical" // same type, same bytes
  | "close" // values agree within the floor of the two types
  | "differs"
  | "transposed"
  | "permuted"
  | "swapped"
  | "shifted"
  | "missing-in-a"
  | "missing-in-b"
  | "shape-mismatch"
  | "not-compared";

export interface TensorDiff {
  key: string; // role key
  layer: number | null;
  nameA: string | null;
  nameB: string | null;
  dimsA: number[] | null;
  dimsB: number[] | null;
  typeA: string | null;
  typeB: string | null;
  status: TensorStatus;
  sqnrDb: number | null;
  floorDb: number | null;
  cosine: number | null;
  note?: string;
}

export interface MetadataDiff {
  field: string;
  a: unknown;
  b: unknown;
}

export interface WeightDiff {
  a: string;
  b: string;
  tensors: TensorDiff[];
  metadata: MetadataDiff[];
  findings: Finding[];
}

export interface WeightDiffOptions {
  /** Tensors larger than this are compared on their first rows only (default 8M elements). */
  maxElements?: number;
  diff?: DiffFn;
  /** Called per tensor (progress on long runs). */
  onTensor?: (i: number, n: number, key: string) => void;
}

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

export interface ConfigDiff {
  /** Fields both sides record that differ. */
  mismatches: MetadataDiff[];
  /** Fields both sides record (equal or not). */
  compared: string[];
  /** Fields one side (or both) does not record: not compared, never counted as agreeing. */
  missingA: string[];
  missingB: string[];
}

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

/** A metadata value for people: f32 fields (eps, rope base) at f32 precision, 1e-5 not 0.000009999999747378752. */
export function showMeta(v: unknown): string {
  if (typeof v === "number" && Number.isFinite(v) && !Number.isInteger(v)) return String(Number(v.toPrecision(7)));
  return JSON.stringify(v) ?? String(v);
}

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

function bytesOf(s: Src, t: TensorView): Uint8Array {
  return mappingBytes(s.map, t.offset, t.byteLength);
}

function base(key: string, ta: TensorView | undefined, tb: TensorView | undefined): TensorDiff {
  return {
    key,
    layer: (ta ?? tb)?.layer ?? null,
    nameA: ta?.name ?? null,
    nameB: tb?.name ?? null,
    dimsA: ta?.dims ?? null,
    dimsB: tb?.dims ?? null,
    typeA: ta ? normType(ta.typeName) : null,
    typeB: tb ? normType(tb.typeName) : null,
    status: "not-compared",
    sqnrDb: null,
    floorDb: ta && tb ? weightSqnrFloor(ta.typeName, tb.typeName) : null,
    cosine: null,
  };
}

function tiedOutput(key: string, m: LoadedModel): boolean {
  return key === "output" && m.config.tiedEmbeddings;
}

function compareOne(key: string, a: Src, b: Src, opts: Required<Pick<WeightDiffOptions, "maxElements" | "diff">>): TensorDiff {
  const ta = a.model.byRole.get(key);
  const tb = b.model.byRole.get(key);
  const d = base(key, ta, tb);
  if (!ta || !tb) {
    if (!ta && tb && tiedOutput(key, a.model)) return { ...d, status: "not-compared", note: "A ties the output to token_embd" };
    if (ta && !tb && tiedOutput(key, b.model)) return { ...d, status: "not-compared", note: "B ties the output to token_embd" };
    return { ...d, status: ta ? "missing-in-b" : "missing-in-a" };
  }
  if (ta.type === tb.type && ta.byteLength === tb.byteLength && ta.dims.join() === tb.dims.join()) {
    const ba = bytesOf(a, ta);
    const bb = bytesOf(b, tb);
    if (Buffer.compare(ba, bb) === 0) return { ...d, status: "identical", sqnrDb: Infinity, cosine: 1 };
  }
  return checkValues(d, ta, tb, a, b, opts);
}

/** Groups per-tensor results into findings: one per (diagnosis, role), listing the layers. */
function tensorFindings(tensors: TensorDiff[]): Finding[] {
  const groups = new Map<string, { id: DiagnosisId; items: TensorDiff[]; fatal: boolean }>();
  const add = (id: DiagnosisId, t: TensorDiff, fatal = true, tag = "") => {
    const role = t.key.replace(/^blk\.\d+\./, "");
    const g = groups.get(`${id}|${role}|${tag}`) ?? { id, items: [], fatal };
    g.items.push(t);
    groups.set(`${id}|${role}|${tag}`, g);
  };
  for (const t of tensors) {
    if (t.status === "missing-in-a" || t.status === "missing-in-b") add("tensor-missing", t);
    else if (t.status === "transposed") add("layout-transposed", t);
    else if (t.status === "permuted") add("qk-rope-permutation", t);
    else if (t.status === "swapped") add("tensors-swapped", t);
    else if (t.status === "shifted" || t.status === "shape-mismatch") add("weights-differ", t, true, t.status);
    else if (t.status === "differs") add(t.note?.startsWith("dequant") ? "dequant-mismatch" : "weights-differ", t);
    if (t.typeA && t.typeB && t.typeA !== t.typeB && t.status !== "missing-in-a" && t.status !== "missing-in-b") add("dtype-mismatch", t, false);
  }
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const first = g.items[0];
    const layers = g.items.map((t) => t.layer).filter((l): l is number => l !== null);
    const where = layers.length ? `${layers.length} layer(s): ${layers.slice(0, 12).join(", ")}${layers.length > 12 ? ", ..." : ""}` : "global";
    const ev = [`${first.key}: ${describe(first)}`];
    if (g.items.length > 1) ev.push(`same for ${g.items.length} tensor(s) of this role (${where})`);
    out.push(finding(g.id, first.key, first.layer, ev, g.fatal));
  }
  return out;
}

export function describe(t: TensorDiff): string {
  const dims = (x: number[] | null) => (x ? `[${x.join(", ")}]` : "-");
  const parts = [`${t.status}`, `A ${t.typeA ?? "-"} ${dims(t.dimsA)}`, `B ${t.typeB ?? "-"} ${dims(t.dimsB)}`];
  if (t.sqnrDb !== null) parts.push(`SQNR ${fmt(t.sqnrDb)} dB (floor ${fmt(t.floorDb)})`);
  if (t.cosine !== null) parts.push(`cos ${fmt(t.cosine)}`);
  if (t.note) parts.push(t.note);
  return parts.join(", ");
}

export function diffWeights(a: LoadedModel, b: LoadedModel, opts: WeightDiffOptions = {}): WeightDiff {
  const sa: Src = { model: a, map: openMapping(a.path) };
  const sb: Src = { model: b, map: openMapping(b.path) };
  try {
    const o = { maxElements: opts.maxElements ?? 8 << 20, diff: opts.diff ?? diffMetrics };
    const keys = [...new Set([...a.byRole.keys(), ...b.byRole.keys()])];
    const tensors = keys.map((k, i) => {
      opts.onTensor?.(i, keys.length, k);
      return compareOne(k, sa, sb, o);
    });
    const metadata = diffMetadata(a.config, b.config);
    return { a: a.path, b: b.path, tensors, metadata, findings: [...metadataFindings(metadata, tensors, b.config.arch), ...tensorFindings(tensors)] };
  } finally {
    sa.map.close();
    sb.map.close();
  }
}
