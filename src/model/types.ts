/**
 * The engine's three kinds of state, kept apart as in llama2.c's run.c: the Config (hyperparameters,
 * from the file), the Weights (read-only views into the file mapping; only norms, biases and rope
 * factors, a few KB per layer, are decoded to f32) and the RunState (the KV cache and the position).
 * Shapes are row-major, outermost first; T = tokens in the current batch.
 */
import type { ModelConfig } from "../formats/model.js";
import type { ByteSource, Numerics } from "../bindings/kernels.js";
import type { Arena } from "../graph/scratch.js";

export type Config = ModelConfig;

/** A matmul weight as stored: `rows` outputs of `cols` inputs, read in place by the kernels. */
export interface MatWeight {
  source: ByteSource; // the file mapping
  offset: number; // absolute byte offset of the tensor
  type: number; // GGML type id
  typeName: string;
  rows: number; // out
  cols: number; // in
  rowBytes?: number; // bytes from row to row when rows are padded (APR per-row padded K-quants); absent = packed
}

export interface LayerWeights {
  attnNorm: Float32Array; // [nEmbd]
  wq: MatWeight; // [nHead*headDim, nEmbd]
  wk: MatWeight; // [nHeadKv*headDim, nEmbd]
  wv: MatWeight; // [nHeadKv*headDimV, nEmbd]
  wo: MatWeight; // [nEmbd, nHead*headDimV]
  bq: Float32Array | null; // [nHead*headDim]     qwen2
  bk: Float32Array | null; // [nHeadKv*headDim]   qwen2
  bv: Float32Array | null; // [nHeadKv*headDimV]  qwen2
  bo: Float32Array | null; // [nEmbd]
  qNorm: Float32Array | null; // [headDim]        qwen3
  kNorm: Float32Array | null; // [headDim]        qwen3
  ffnNorm: Float32Array; // [nEmbd]
  wGate: MatWeight; // [nFf, nEmbd]
  wUp: MatWeight; // [nFf, nEmbd]
  wDown: MatWeight; // [nEmbd, nFf]
}

export interface Weights {
  tokenEmbd: MatWeight; // [nVocab, nEmbd]  rows are read one token at a time (get_rows)
  outputNorm: Float32Array; // [nEmbd]
  output: MatWeight; // [nVocab, nEmbd]  = tokenEmbd when the embeddings are tied
  ropeFreqs: Float32Array | null; // [ropeDim/2] llama3-style per-dimension divisors
  layers: LayerWeights[];
}

export interface RunState {
  nCtx: number; // cache capacity in positions
  nPast: number; // positions already in the cache
  kCache: Float32Array[]; // per layer nCtx rows of nHeadKv*headDim, kvStride apart (F32, like a trace run with --kv f32)
  vCache: Float32Array[]; // per layer nCtx rows of nHeadKv*headDimV, kvStride apart
  /** Floats from one cache row to the next: the row padded by 16 floats (newRunState). */
  kvStride: number;
  /**
   * The forward pass's activation buffers, reused from step to step (src/graph/scratch.ts); an Engine
   * gives all its states the same pair, so a new prompt's prefill reuses the last one's buffers.
   */
  arenas?: [Arena, Arena];
}

export interface EngineSettings {
  numerics: Numerics;
  threads: number;
  isa: string; // "scalar" | "avx2" | "avx512"
}
