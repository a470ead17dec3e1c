/**
 * Model config from GGUF metadata (`<arch>.*` keys, as llama.cpp's llama-model.cpp reads them).
 * Every value is validated: a missing or absurd hyperparameter is an InputError naming the key.
 */
import { InputError, UnsupportedError } from "../util/errors.js";
import { ARCHITECTURES, isSupportedArch, unsupportedArch } from "./architectures.js";
import type { ModelConfig, RopeScaling } from "./model.js";

type Meta = Record<string, unknown>;

/** A number from a metadata object; `noun` names where the key lives in messages ("metadata key", "config.json key"). */
export function num(md: Meta, key: string, file: string, fallback?: number, noun = "metadata key"): number {
  const v = md[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new InputError(`${file}: ${noun} ${key} is missing`);
  }
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new InputError(`${file}: ${noun} ${key} is not a number (${String(v).slice(0, 40)})`);
  }
  return n;
}

export function positiveInt(md: Meta, key: string, file: string, max: number, fallback?: number, noun = "metadata key"): number {
  const n = num(md, key, file, fallback, noun);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InputError(`${file}: ${noun === "metadata key" ? "metadata" : noun} ${key} = ${n} is out of range [1, ${max}]`);
  return n;
}

function ropeScaling(md: Meta, a: string, file: string, hasRopeFreqs: boolean): RopeScaling {
  const type = md[`${a}.rope.scaling.type`];
  const factor = num(md, `${a}.rope.scaling.factor`, file, 1);
  const origCtx = num(md, `${a}.rope.scaling.original_context_length`, file, 0);
  if (type === undefined || type === "none") {
    // llama3-style scaling is stored as per-dimension factors in rope_freqs.weight, not as a type.
    return hasRopeFreqs ? { type: "llama3", factor, lowFreqFactor: 0, highFreqFactor: 0, origCtx } : { type: "none" };
  }
  if (type === "linear") return { type: "linear", factor };
  if (type === "yarn") {
    return {
      type: "yarn",
      factor,
      origCtx,
      extFactor: num(md, `${a}.rope.scaling.yarn_ext_factor`, file, -1),
      attnFactor: num(md, `${a}.rope.scaling.attn_factor`, file, 1),
      betaFast: num(md, `${a}.rope.scaling.yarn_beta_fast`, file, 32),
      betaSlow: num(md, `${a}.rope.scaling.yarn_beta_slow`, file, 1),
    };
  }
  throw new UnsupportedError(`${file}: rope scaling type ${String(type)} is not supported (linear, yarn, llama3 are)`);
}

/**
 * Config from GGUF metadata. The architecture's facts (RoPE layout, q/k norm) come from the
 * architecture table (architectures.ts); the tensors tell whether an output tensor exists (tied
 * embeddings) and biases are present, and give the vocabulary size when the key is absent.
 */
export function configFromGguf(md: Meta, file: string, tensorDims: Map<string, number[]>): ModelConfig {
  const arch = md["general.architecture"];
  if (typeof arch !== "string") throw new InputError(`${file}: metadata key general.architecture is missing`);
  if (!isSupportedArch(arch)) throw unsupportedArch(file, arch);
  const facts = ARCHITECTURES[arch];
  const a = arch;
  const nEmbd = positiveInt(md, `${a}.embedding_length`, file, 1 << 20);
  const nHead = positiveInt(md, `${a}.attention.head_count`, file, 4096);
  const nHeadKv = positiveInt(md, `${a}.attention.head_count_kv`, file, 4096, nHead);
  if (nHead % nHeadKv !== 0) throw new InputError(`${file}: head_count ${nHead} is not a multiple of head_count_kv ${nHeadKv}`);
  const headDim = positiveInt(md, `${a}.attention.key_length`, file, 1 << 16, Math.floor(nEmbd / nHead));
  const headDimV = positiveInt(md, `${a}.attention.value_length`, file, 1 << 16, headDim);
  const embd = tensorDims.get("token_embd.weight");
  const tokens = md["tokenizer.ggml.tokens"];
  const vocabFallback = embd?.[0] ?? (Array.isArray(tokens) ? tokens.length : undefined);
  const ropeDim = positiveInt(md, `${a}.rope.dimension_count`, file, 1 << 16, headDim);
  if (ropeDim > headDim || ropeDim % 2) throw new InputError(`${file}: rope.dimension_count ${ropeDim} must be even and <= head dim ${headDim}`);
  const rmsEps = num(md, `${a}.attention.layer_norm_rms_epsilon`, file, 1e-5);
  if (!(rmsEps > 0 && rmsEps < 1)) throw new InputError(`${file}: layer_norm_rms_epsilon ${rmsEps} is out of range (0, 1)`);
  const ropeBase = num(md, `${a}.rope.freq_base`, file, 10000);
  if (!(ropeBase > 1)) throw new InputError(`${file}: rope.freq_base ${ropeBase} must be > 1`);
  return {
    arch,
    nLayer: positiveInt(md, `${a}.block_count`, file, 4096),
    nEmbd,
    nHead,
    nHeadKv,
    headDim,
    headDimV,
    nFf: positiveInt(md, `${a}.feed_forward_length`, file, 1 << 22),
    nVocab: positiveInt(md, `${a}.vocab_size`, file, 1 << 24, vocabFallback),
    nCtxTrain: positiveInt(md, `${a}.context_length`, file, 1 << 24, 2048),
    ropeBase,
    ropeDim,
    ropeLayout: facts.ropeLayout,
    ropeScaling: ropeScaling(md, a, file, tensorDims.has("rope_freqs.weight")),
    rmsEps,
    tiedEmbeddings: !tensorDims.has("output.weight"),
    qkvBias: tensorDims.has("blk.0.attn_q.bias"),
    qkNorm: facts.qkNorm,
  };
}
