/**
 * What every model format loads into: a config and a table of tensors by canonical role. GGUF
 * (src/formats/gguf.ts) and APR (src/formats/apr.ts) both produce a LoadedModel; the engine and the
 * comparator only ever see this.
 */

export type Arch = "llama" | "mistral" | "qwen2" | "qwen3";

/** gguf, apr: one file; hf: a Hugging Face folder (config.json, *.safetensors, tokenizer.json; src/formats/hf.ts). */
export type ModelFormat = "gguf" | "apr" | "hf";

export type RopeScaling =
  | { type: "none" }
  | { type: "linear"; factor: number }
  | { type: "yarn"; factor: number; origCtx: number; extFactor?: number; attnFactor?: number; betaFast?: number; betaSlow?: number }
  | { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; origCtx: number };

export interface ModelConfig {
  arch: Arch;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  headDim: number; // key/query head dimension
  headDimV: number; // value head dimension (= headDim for every supported arch)
  nFf: number;
  nVocab: number;
  nCtxTrain: number;
  ropeBase: number;
  ropeDim: number; // rotated dimensions per head (= headDim unless the metadata says otherwise)
  ropeLayout: "norm" | "neox"; // NORM: adjacent pairs (llama, mistral); NEOX: split halves (qwen2, qwen3)
  ropeScaling: RopeScaling;
  rmsEps: number;
  tiedEmbeddings: boolean; // no separate output tensor: logits use token_embd
  qkvBias: boolean; // qwen2
  qkNorm: boolean; // qwen3
}

/** Canonical tensor roles. Per-layer roles are keyed `blk.<i>.<role>`. */
export const GLOBAL_ROLES = ["token_embd", "output_norm", "output", "rope_freqs"] as const;
export const LAYER_ROLES = [
  "attn_norm",
  "attn_q",
  "attn_k",
  "attn_v",
  "attn_output",
  "attn_q_bias",
  "attn_k_bias",
  "attn_v_bias",
  "attn_output_bias",
  "attn_q_norm",
  "attn_k_norm",
  "ffn_norm",
  "ffn_gate",
  "ffn_up",
  "ffn_down",
] as const;
export type GlobalRole = (typeof GLOBAL_ROLES)[number];
export type LayerRole = (typeof LAYER_ROLES)[number];
export type Role = GlobalRole | LayerRole;

export function roleKey(role: Role, layer: number | null): string {
  return layer === null ? role : `blk.${layer}.${role}`;
}

/** Where a tensor's bytes are and how to read them. Bytes stay in the native memory mapping. */
export interface TensorView {
  /** Name in the file. */
  name: string;
  role: Role | null; // null: a tensor rosetta does not use (listed, not loaded)
  layer: number | null;
  /** Dims as the file lists them (GGUF: innermost first, ne0 contiguous; APR: outermost first). */
  fileDims: number[];
  /** Row-major dims, outermost first: `[out, in]` for a matmul weight as stored. */
  dims: number[];
  /** GGML type id (types.h); >= 128 for APR-native formats. */
  type: number;
  typeName: string;
  /** Absolute byte offset in the file and byte length. */
  offset: number;
  /**
   * The file holding the bytes when it is not the model's own path (a Hugging Face folder: one of its
   * *.safetensors shards). Read bytes through ModelBytes (bytes.ts), which maps each file once.
   */
  file?: string;
  byteLength: number;
  /**
   * Bytes from one row to the next when rows are independently padded (APR K-quant matrices whose row
   * length is not a multiple of 256, spec §4.4: each row holds ceil(in/256) super-blocks and the padding
   * elements are discarded). Absent: rows are packed (row bytes = in / blockSize * typeSize).
   */
  rowBytes?: number;
}

export type LayoutVerdict = "OK" | "TRANSPOSE NEEDED" | "UNEXPECTED SHAPE" | "UNUSED";

export interface LayoutCheck {
  key: string; // role key, e.g. blk.0.attn_q
  name: string;
  dims: number[]; // row-major as stored
  expected: number[] | null; // what the engine expects ([out, in] for matmul weights)
  typeName: string;
  verdict: LayoutVerdict;
}

/**
 * A model file's container, parsed and validated, whatever its architecture: what `inspect` lists for any
 * valid GGUF or APR v2 file, including ones the engine does not run.
 */
export interface ModelFile {
  path: string;
  format: ModelFormat;
  /** The container and its version, e.g. "GGUF v3", "APR v2 (flags 0x400)". */
  container: string;
  fileSize: number;
  /** Format metadata (GGUF KV / APR JSON). */
  metadata: Record<string, unknown>;
  /** The architecture the file names (GGUF general.architecture; APR architecture / model_type), or null. */
  archName: string | null;
  /** Every tensor as the file lists it, in file order (an APR fused qkv_proj unsplit). */
  tensors: TensorView[];
  /** The checksums the container carries and what their verification said, one line each. */
  checksums: string[];
}

export interface LoadedModel {
  path: string;
  format: ModelFormat;
  config: ModelConfig;
  /** Every tensor in the file, in file order. */
  tensors: TensorView[];
  /** Tensors by role key (`token_embd`, `blk.0.attn_q`, ...). */
  byRole: Map<string, TensorView>;
  /** The load-time layout check of every role tensor (always logged). */
  layout: LayoutCheck[];
  /** Format metadata (GGUF KV / APR JSON), for the tokenizer and for metadata diffs. */
  metadata: Record<string, unknown>;
  fileSize: number;
}
