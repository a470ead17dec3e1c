/**
 * APR v2 metadata JSON (spec §6): serialization the way aprender's serde writes it (typed fields in
 * struct order, only license/data_source/data_license written as null when absent, then the flattened
 * custom keys; f32 fields formatted like ryu), and the model config a reader derives from it.
 */
import { InputError, UnsupportedError } from "../util/errors.js";
import { ARCHITECTURES, archFromAprName, unsupportedArch } from "./architectures.js";
import type { Arch, ModelConfig } from "./model.js";

/** Typed fields of aprender's AprV2Metadata, in serialization order. */
export const TYPED_FIELDS = [
  "model_type", "name", "description", "author", "license", "data_source", "data_license", "version", "source",
  "original_format", "created_at", "total_size", "param_count", "quantization", "sharding", "chat_template",
  "chat_format", "special_tokens", "architecture", "hf_architecture", "hf_model_type", "hidden_size", "num_layers",
  "num_heads", "num_kv_heads", "vocab_size", "intermediate_size", "max_position_embeddings", "rope_theta",
  "rope_type", "rms_norm_eps", "head_dim", "num_experts", "num_experts_per_tok", "moe_intermediate_size",
] as const;
const ALWAYS = new Set(["model_type", "license", "data_source", "data_license", "total_size", "param_count"]);
const DEFAULTS: Record<string, unknown> = { model_type: "", total_size: 0, param_count: 0 };
/** Typed fields that are f32 in aprender (written by ryu's f32 formatter). */
const F32_FIELDS = new Set(["rope_theta", "rms_norm_eps"]);

/** A marker for numbers that must be written in f32 shortest form (e.g. `1e-6`, `10000.0`). */
export class F32 {
  constructor(readonly value: number) {}
}

/** ryu-style shortest f32 text: the fewest digits that read back to the same f32. */
export function formatF32(x: number): string {
  const f = Math.fround(x);
  if (!Number.isFinite(f)) throw new Error(`cannot write non-finite ${f} in JSON`);
  if (f === 0) return Object.is(f, -0) ? "-0.0" : "0.0";
  let digits = "";
  let exp = 0;
  for (let p = 1; p <= 9; p++) {
    const s = Math.abs(f).toExponential(p - 1);
    if (Math.fround(Number(s)) === Math.abs(f)) {
      const [m, e] = s.split("e");
      digits = m.replace(".", "").replace(/0+$/, "") || "0";
      exp = Number(e);
      break;
    }
  }
  const sign = f < 0 ? "-" : "";
  const len = digits.length;
  const kk = exp + 1; // position of the decimal point relative to the digit string
  if (kk >= len && kk <= 16) return `${sign}${digits}${"0".repeat(kk - len)}.0`;
  if (kk > 0 && kk <= 16) return `${sign}${digits.slice(0, kk)}.${digits.slice(kk)}`;
  if (kk > -5 && kk <= 0) return `${sign}0.${"0".repeat(-kk)}${digits}`;
  const e = kk - 1;
  return len === 1 ? `${sign}${digits}e${e}` : `${sign}${digits[0]}.${digits.slice(1)}e${e}`;
}

function stringify(v: unknown): string {
  if (v instanceof F32) return formatF32(v.value);
  if (typeof v === "number" && !Number.isFinite(v)) return "null";
  if (Array.isArray(v)) return `[${v.map(stringify).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}:${stringify(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * Metadata bytes: typed fields first (struct order, absent ones omitted except the always-written
 * ones), then every other key in insertion order. f32 typed fields get ryu formatting.
 */
export function serializeMetadata(md: Record<string, unknown>): Buffer {
  const out: Record<string, unknown> = {};
  for (const k of TYPED_FIELDS) {
    let v = md[k];
    if (v === undefined) {
      if (!ALWAYS.has(k)) continue;
      v = DEFAULTS[k] ?? null;
    }
    out[k] = F32_FIELDS.has(k) && typeof v === "number" ? new F32(v) : v;
  }
  for (const [k, v] of Object.entries(md)) if (!(k in out) && !(TYPED_FIELDS as readonly string[]).includes(k)) out[k] = v;
  return Buffer.from(stringify(out), "utf8");
}

// ---- reading ---------------------------------------------------------------------------------------

const ALIASES: Record<string, string[]> = {
  hidden_size: ["hidden_dim", "d_model", "n_embd", "model.hidden_size"],
  num_layers: ["num_hidden_layers", "n_layers", "n_layer", "model.num_layers"],
  num_heads: ["num_attention_heads", "n_heads", "n_head", "model.num_heads"],
  num_kv_heads: ["num_key_value_heads", "n_kv_heads", "model.num_kv_heads"],
  vocab_size: ["n_vocab", "model.vocab_size"],
  intermediate_size: ["intermediate_dim", "ffn_dim", "n_inner", "model.intermediate_size"],
  max_position_embeddings: ["context_length", "max_seq_len", "n_ctx", "model.max_position_embeddings"],
  rms_norm_eps: ["layer_norm_eps", "norm_eps", "model.rms_norm_eps"],
  rope_theta: ["model.rope_theta"],
  rope_type: ["model.rope_type"],
  architecture: ["model.architecture"],
};

/** A metadata value by its canonical key or the first alias present. */
export function field(md: Record<string, unknown>, key: string): unknown {
  if (md[key] !== undefined && md[key] !== null) return md[key];
  for (const a of ALIASES[key] ?? []) if (md[a] !== undefined && md[a] !== null) return md[a];
  return undefined;
}

function int(md: Record<string, unknown>, key: string, file: string, max: number, fallback?: number): number {
  const v = field(md, key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new InputError(`${file}: APR metadata has no ${key} (nor an alias of it)`);
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
    throw new InputError(`${file}: APR metadata ${key} = ${JSON.stringify(v)?.slice(0, 40)} is not an integer in [1, ${max}]`);
  }
  return v;
}

function f32(md: Record<string, unknown>, key: string, file: string, fallback: number): number {
  const v = field(md, key);
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new InputError(`${file}: APR metadata ${key} is not a number`);
  return Math.fround(v);
}

/** The names APR metadata gives the architecture, in the order a reader trusts them. */
export function aprArchNames(md: Record<string, unknown>): string[] {
  return [field(md, "architecture"), md.hf_model_type, md.model_type].filter((v): v is string => typeof v === "string" && v !== "");
}

function archOf(md: Record<string, unknown>, file: string): Arch {
  const cands = aprArchNames(md);
  for (const c of cands) {
    const a = archFromAprName(c);
    if (a) return a;
  }
  if (!cands.length) throw new InputError(`${file}: APR metadata names no architecture (architecture / model_type)`);
  throw unsupportedArch(file, cands[0]);
}

/**
 * Config from APR metadata plus what the tensors say (vocab rows, tied output, biases). RoPE layout
 * (unless the file's rope_type says otherwise), q/k norm and the rope_theta default come from the
 * architecture table.
 */
export function configFromApr(md: Record<string, unknown>, file: string, roles: Map<string, number[]>): ModelConfig {
  const arch = archOf(md, file);
  const facts = ARCHITECTURES[arch];
  const nEmbd = int(md, "hidden_size", file, 1 << 20);
  const nHead = int(md, "num_heads", file, 4096);
  const nHeadKv = int(md, "num_kv_heads", file, 4096, nHead);
  if (nHead % nHeadKv !== 0) throw new InputError(`${file}: num_heads ${nHead} is not a multiple of num_kv_heads ${nHeadKv}`);
  const headDim = int(md, "head_dim", file, 1 << 16, Math.floor(nEmbd / nHead));
  const ropeType = field(md, "rope_type") ?? (facts.ropeLayout === "neox" ? 2 : 0);
  if (ropeType !== 0 && ropeType !== 2) throw new UnsupportedError(`${file}: rope_type ${JSON.stringify(ropeType)} is not supported (0 NORM, 2 NEOX)`);
  const rmsEps = f32(md, "rms_norm_eps", file, Math.fround(1e-6));
  if (!(rmsEps > 0 && rmsEps < 1)) throw new InputError(`${file}: rms_norm_eps ${rmsEps} is out of range (0, 1)`);
  const ropeBase = f32(md, "rope_theta", file, facts.aprRopeThetaDefault);
  if (!(ropeBase > 1)) throw new InputError(`${file}: rope_theta ${ropeBase} must be > 1`);
  const gate = roles.get("blk.0.ffn_gate");
  const hasOutput = roles.has("output");
  return {
    arch,
    nLayer: int(md, "num_layers", file, 4096),
    nEmbd,
    nHead,
    nHeadKv,
    headDim,
    headDimV: headDim,
    nFf: int(md, "intermediate_size", file, 1 << 22, gate?.[0]),
    nVocab: int(md, "vocab_size", file, 1 << 24, roles.get("token_embd")?.[0]),
    nCtxTrain: int(md, "max_position_embeddings", file, 1 << 24, 2048),
    ropeBase,
    ropeDim: headDim,
    ropeLayout: ropeType === 2 ? "neox" : "norm",
    ropeScaling: { type: "none" },
    rmsEps,
    tiedEmbeddings: md.tied_embeddings === true || !hasOutput,
    qkvBias: roles.has("blk.0.attn_q_bias"),
    qkNorm: facts.qkNorm,
  };
}
