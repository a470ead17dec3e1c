/**
 * The architecture table: every fact about an architecture that rosetta decides, in one place (like
 * llama.cpp's llama_model_rope_type and its per-architecture tensor lists in llama-model.cpp). The GGUF
 * and APR config readers, the loaders' tensor checks, the engine and `inspect` read it; nothing else
 * decides these facts.
 *
 *   llama, mistral  NORM RoPE (adjacent pairs; the converter permuted q/k rows); q/k/v/o biases allowed
 *   qwen2           NEOX RoPE (split halves); q/k/v biases expected
 *   qwen3           NEOX RoPE; per-head RMSNorm of q and k before RoPE (attn_q_norm/attn_k_norm required)
 *
 * Every one allows tied embeddings (no output tensor: logits use token_embd), as llama.cpp does.
 *
 * Where rosetta is more lenient than llama.cpp, on purpose: an *expected* tensor (qwen2's q/k/v biases)
 * may be absent, so the comparator can name the missing tensor instead of the loader refusing the file;
 * rope_freqs (llama3 rope scaling) is accepted for every architecture.
 */
import { InputError, UnsupportedError } from "../util/errors.js";
import type { Arch, GlobalRole, LayerRole, LoadedModel, Role } from "./model.js";
import { ggufNameOf, type RoleRef } from "./roles.js";

export interface ArchFacts {
  /** `general.architecture` in GGUF; the name traces and reports use. */
  name: Arch;
  /** Model family (aprender names Qwen-family tensors the Hugging Face way, §5.1 of the APR spec). */
  family: "llama" | "qwen";
  /** llama_model_rope_type: NORM rotates adjacent pairs, NEOX the two halves of each head. */
  ropeLayout: "norm" | "neox";
  /** Per-head RMSNorm of q and k (attn_q_norm / attn_k_norm) between the projection and RoPE. */
  qkNorm: boolean;
  /** q/k/v projection biases: expected (llama.cpp requires them; may be absent here), allowed, or none. */
  qkvBias: "expected" | "allowed" | "none";
  /** attn_output bias: allowed (used when present) or none. */
  outputBias: "allowed" | "none";
  /** A file without output.weight is allowed (logits through token_embd). */
  tiedEmbeddings: boolean;
  /** Roles every file of this architecture must hold (global ones once, layer ones in every layer). */
  required: { global: GlobalRole[]; layer: LayerRole[] };
  /** Roles a file may hold and the engine then uses; any other role tensor makes the file unrunnable. */
  optional: { global: GlobalRole[]; layer: LayerRole[] };
  /** Names APR metadata uses for it (architecture / hf_model_type / model_type, lower-cased). */
  aprNames: string[];
  /** hf_architecture written by aprender's GGUF import. */
  hfArchitecture: string;
  /** rope_theta when APR metadata has none (realizar's per-architecture default). */
  aprRopeThetaDefault: number;
}

const CORE_LAYER: LayerRole[] = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"];
const CORE_GLOBAL: GlobalRole[] = ["token_embd", "output_norm"];
const QKV_BIASES: LayerRole[] = ["attn_q_bias", "attn_k_bias", "attn_v_bias"];

/** A row with its tensor lists derived from its facts (q/k norm -> required norms; biases, tied -> optional). */
function facts(f: Omit<ArchFacts, "required" | "optional">): ArchFacts {
  const qkNorms: LayerRole[] = f.qkNorm ? ["attn_q_norm", "attn_k_norm"] : [];
  const optionalLayer: LayerRole[] = [
    ...(f.qkvBias === "none" ? [] : QKV_BIASES),
    ...(f.outputBias === "allowed" ? (["attn_output_bias"] as LayerRole[]) : []),
  ];
  const optionalGlobal: GlobalRole[] = ["rope_freqs", ...(f.tiedEmbeddings ? (["output"] as GlobalRole[]) : [])];
  return {
    ...f,
    required: { global: [...CORE_GLOBAL, ...(f.tiedEmbeddings ? [] : (["output"] as GlobalRole[]))], layer: [...CORE_LAYER, ...qkNorms] },
    optional: { global: optionalGlobal, layer: optionalLayer },
  };
}

export const ARCHITECTURES: Readonly<Record<Arch, ArchFacts>> = {
  llama: facts({
    name: "llama", family: "llama", ropeLayout: "norm", qkNorm: false, qkvBias: "allowed", outputBias: "allowed", tiedEmbeddings: true,
    aprNames: ["llama"], hfArchitecture: "LlamaForCausalLM", aprRopeThetaDefault: 10000,
  }),
  mistral: facts({
    name: "mistral", family: "llama", ropeLayout: "norm", qkNorm: false, qkvBias: "allowed", outputBias: "allowed", tiedEmbeddings: true,
    aprNames: ["mistral"], hfArchitecture: "MistralForCausalLM", aprRopeThetaDefault: 10000,
  }),
  qwen2: facts({
    name: "qwen2", family: "qwen", ropeLayout: "neox", qkNorm: false, qkvBias: "expected", outputBias: "none", tiedEmbeddings: true,
    aprNames: ["qwen2", "qwen2.5", "qwen"], hfArchitecture: "Qwen2ForCausalLM", aprRopeThetaDefault: 1e6,
  }),
  qwen3: facts({
    name: "qwen3", family: "qwen", ropeLayout: "neox", qkNorm: true, qkvBias: "none", outputBias: "none", tiedEmbeddings: true,
    aprNames: ["qwen3"], hfArchitecture: "Qwen3ForCausalLM", aprRopeThetaDefault: 1e6,
  }),
};

export const SUPPORTED_ARCHS: readonly Arch[] = Object.keys(ARCHITECTURES) as Arch[];

export function isSupportedArch(name: unknown): name is Arch {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(ARCHITECTURES, name);
}

export function archFacts(arch: Arch): ArchFacts {
  return ARCHITECTURES[arch];
}

/** The one refusal line for an architecture the engine does not run. */
export function unsupportedArch(file: string, name: string): UnsupportedError {
  return new UnsupportedError(`${file}: architecture '${name}' is not supported (supported: ${SUPPORTED_ARCHS.join(", ")})`);
}

/** The supported architecture an APR metadata name (architecture, hf_model_type, model_type) stands for. */
export function archFromAprName(name: string): Arch | null {
  const n = name.toLowerCase();
  for (const f of Object.values(ARCHITECTURES)) if (f.aprNames.includes(n)) return f.name;
  return null;
}

/**
 * The roles a file of `arch` must hold: the global ones, then each layer's (all of layer 0, then layer
 * 1, ...). Without nLayer, the layer roles once, for layer 0. `output` is among them only where the
 * architecture does not allow tied embeddings.
 */
export function requiredRoles(arch: Arch, nLayer = 1): RoleRef[] {
  const f = ARCHITECTURES[arch];
  const out: RoleRef[] = f.required.global.map((role) => ({ role, layer: null }));
  for (let l = 0; l < nLayer; l++) for (const role of f.required.layer) out.push({ role, layer: l });
  return out;
}

/** Every role the engine uses for `arch` (required and optional), as role names. */
export function knownRoles(arch: Arch): Set<Role> {
  const f = ARCHITECTURES[arch];
  return new Set<Role>([...f.required.global, ...f.required.layer, ...f.optional.global, ...f.optional.layer]);
}

/**
 * The tensors of a model against its architecture's lists: an InputError naming the first required tensor
 * that is missing, or the first role tensor the architecture does not have (llama.cpp refuses both files).
 * `present` is role keys (`token_embd`, `blk.0.attn_q`, ...) to the tensor's name in the file.
 */
export function checkArchTensors(arch: Arch, nLayer: number, present: Map<string, string>, file: string): void {
  const f = ARCHITECTURES[arch];
  for (const { role, layer } of requiredRoles(arch, nLayer)) {
    const key = layer === null ? role : `blk.${layer}.${role}`;
    if (!present.has(key)) {
      const why = f.qkNorm && (role === "attn_q_norm" || role === "attn_k_norm") ? `; ${arch} normalizes q and k per head (llama.cpp refuses the file too)` : "";
      throw new InputError(`${file}: tensor ${ggufNameOf(role, layer)} is missing (required by ${arch})${why}`);
    }
  }
  const known = knownRoles(arch);
  for (const [key, name] of present) {
    const m = /^blk\.(\d+)\.(.+)$/.exec(key);
    const role = (m ? m[2] : key) as Role;
    if (!known.has(role)) throw new InputError(`${file}: tensor ${name} (${role}) is not part of a ${arch} model (llama.cpp refuses the file too)`);
  }
}

/** checkArchTensors on a loaded model; returns the model when it passes. */
export function checkModelTensors(m: LoadedModel): LoadedModel {
  checkArchTensors(m.config.arch, m.config.nLayer, new Map([...m.byRole].map(([k, t]) => [k, t.name])), m.path);
  return m;
}
