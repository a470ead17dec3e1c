/**
 * Where the supported architectures differ, in one table. The forward pass asks these questions and
 * nothing else about the architecture.
 *
 *   llama, mistral  NORM RoPE (adjacent pairs; the converter permuted q/k rows), separate output matrix
 *   qwen2           NEOX RoPE (split halves), q/k/v biases, tied embeddings allowed
 *   qwen3           NEOX RoPE, per-head RMSNorm of q and k before RoPE, tied embeddings allowed
 *
 * Biases and tied embeddings follow the tensors present in the file (llama.cpp does the same), so they
 * are not repeated here; rope layout comes from the config.
 */
import type { Arch } from "../formats/model.js";

export interface ArchHooks {
  /** Per-head RMSNorm of q and k (weights attn_q_norm / attn_k_norm) between projection and RoPE. */
  qkNorm: boolean;
}

export const ARCH_HOOKS: Record<Arch, ArchHooks> = {
  llama: { qkNorm: false },
  mistral: { qkNorm: false },
  qwen2: { qkNorm: false },
  qwen3: { qkNorm: true },
};
