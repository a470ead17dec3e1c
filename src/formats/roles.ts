/**
 * The canonical tensor-role table: every format's tensor names map into it, and the engine and the
 * comparator only speak roles. Also what each role's shape must be ([out, in] for matmul weights).
 */
import type { GlobalRole, LayerRole, ModelConfig, Role } from "./model.js";

export interface RoleRef {
  role: Role;
  layer: number | null;
}

/** GGUF base names (`blk.N.<base>.weight|bias`) -> roles. */
const GGUF_LAYER: Record<string, [LayerRole, LayerRole | null]> = {
  attn_norm: ["attn_norm", null],
  attn_q: ["attn_q", "attn_q_bias"],
  attn_k: ["attn_k", "attn_k_bias"],
  attn_v: ["attn_v", "attn_v_bias"],
  attn_output: ["attn_output", "attn_output_bias"],
  attn_q_norm: ["attn_q_norm", null],
  attn_k_norm: ["attn_k_norm", null],
  ffn_norm: ["ffn_norm", null],
  ffn_gate: ["ffn_gate", null],
  ffn_up: ["ffn_up", null],
  ffn_down: ["ffn_down", null],
};
const GGUF_GLOBAL: Record<string, GlobalRole> = {
  "token_embd.weight": "token_embd",
  "output_norm.weight": "output_norm",
  "output.weight": "output",
  "rope_freqs.weight": "rope_freqs",
};

/** Hugging Face names (`model.layers.N.<module>.weight|bias`) -> the GGUF base names above. */
const HF_LAYER: Record<string, string> = {
  input_layernorm: "attn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "self_attn.q_norm": "attn_q_norm",
  "self_attn.k_norm": "attn_k_norm",
  post_attention_layernorm: "ffn_norm",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};
const HF_GLOBAL: Record<string, GlobalRole> = {
  "model.embed_tokens.weight": "token_embd",
  "model.norm.weight": "output_norm",
  "lm_head.weight": "output",
};

function layerRole(base: string, suffix: string, layer: number): RoleRef | null {
  const entry = GGUF_LAYER[base];
  if (!entry) return null;
  const role = suffix === "weight" ? entry[0] : entry[1];
  return role ? { role, layer } : null;
}

/** Role of a tensor name in GGUF or Hugging Face naming, or null for a tensor rosetta does not use. */
export function roleOfName(name: string): RoleRef | null {
  const g = GGUF_GLOBAL[name] ?? HF_GLOBAL[name];
  if (g) return { role: g, layer: null };
  let m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  if (m) return layerRole(m[2], m[3], Number(m[1]));
  m = /^(?:model\.)?layers\.(\d+)\.([a-z_.]+)\.(weight|bias)$/.exec(name);
  if (m && HF_LAYER[m[2]]) return layerRole(HF_LAYER[m[2]], m[3], Number(m[1]));
  return null;
}

/** GGUF tensor name for a role (the names llama.cpp writes). */
export function ggufNameOf(role: Role, layer: number | null): string {
  if (layer === null) return `${role}.weight`;
  const bias = role.endsWith("_bias");
  return `blk.${layer}.${bias ? role.slice(0, -5) : role}.${bias ? "bias" : "weight"}`;
}

/** Hugging Face tensor name for a role (aprender's naming for Qwen-family imports). */
export function hfNameOf(role: Role, layer: number | null): string {
  if (layer === null) {
    const hit = Object.entries(HF_GLOBAL).find(([, r]) => r === role);
    if (!hit) throw new Error(`no Hugging Face name for role ${role}`);
    return hit[0];
  }
  const bias = role.endsWith("_bias");
  const base = bias ? role.slice(0, -5) : role;
  const hit = Object.entries(HF_LAYER).find(([, b]) => b === base);
  if (!hit) throw new Error(`no Hugging Face name for role ${role}`);
  return `model.layers.${layer}.${hit[0]}.${bias ? "bias" : "weight"}`;
}

/** Matmul weights: stored row-major [out, in]. */
export const MATMUL_ROLES: ReadonlySet<Role> = new Set([
  "token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
]);

/** The row-major dims the engine expects for a role: `[out, in]` for matmul weights, `[n]` for vectors. */
export function expectedDims(role: Role, c: ModelConfig): number[] | null {
  const q = c.nHead * c.headDim;
  const kv = c.nHeadKv * c.headDim;
  const vOut = c.nHeadKv * c.headDimV;
  const table: Partial<Record<Role, number[]>> = {
    token_embd: [c.nVocab, c.nEmbd],
    output: [c.nVocab, c.nEmbd],
    output_norm: [c.nEmbd],
    rope_freqs: [c.ropeDim / 2],
    attn_norm: [c.nEmbd],
    attn_q: [q, c.nEmbd],
    attn_k: [kv, c.nEmbd],
    attn_v: [vOut, c.nEmbd],
    attn_output: [c.nEmbd, c.nHead * c.headDimV],
    attn_q_bias: [q],
    attn_k_bias: [kv],
    attn_v_bias: [vOut],
    attn_output_bias: [c.nEmbd],
    attn_q_norm: [c.headDim],
    attn_k_norm: [c.headDim],
    ffn_norm: [c.nEmbd],
    ffn_gate: [c.nFf, c.nEmbd],
    ffn_up: [c.nFf, c.nEmbd],
    ffn_down: [c.nEmbd, c.nFf],
  };
  return table[role] ?? null;
}
