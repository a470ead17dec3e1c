/**
 * The tokenizer's input: everything llama.cpp reads from `tokenizer.ggml.*` (GGUF), in one shape that both the
 * GGUF reader and the APR reader fill (APR's `tokenizer.vocabulary`, `tokenizer.merges`, ... map onto it).
 */
export interface TokenizerSpec {
  /** `tokenizer.ggml.model`: "llama" (SentencePiece, SPM) or "gpt2" (byte-level BPE). */
  model: string;
  /** `tokenizer.ggml.pre`: the BPE pre-tokenizer ("llama-bpe", "qwen2", "gpt-2", ...). */
  pre?: string;
  /** `tokenizer.ggml.tokens`, indexed by token id. */
  tokens: readonly string[];
  /** `tokenizer.ggml.scores` (SPM merge priority). */
  scores?: ArrayLike<number>;
  /** `tokenizer.ggml.token_type` (llama.cpp LLAMA_TOKEN_TYPE_*: 1 normal, 2 unknown, 3 control, ...). */
  tokenTypes?: ArrayLike<number>;
  /** `tokenizer.ggml.merges` ("left right", rank = index). */
  merges?: readonly string[];
  bosTokenId?: number;
  eosTokenId?: number;
  eotTokenId?: number;
  eomTokenId?: number;
  unknownTokenId?: number;
  separatorTokenId?: number;
  paddingTokenId?: number;
  addBosToken?: boolean;
  addEosToken?: boolean;
  addSpacePrefix?: boolean;
  /** `general.name`: llama.cpp keys a few per-token attributes on it (Phi-3's RSTRIP). */
  modelName?: string;
}

/** llama.cpp's LLAMA_TOKEN_ATTR_* bits. */
export const ATTR = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  NORMALIZED: 1 << 6,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
  SINGLE_WORD: 1 << 9,
} as const;

/** LLAMA_TOKEN_TYPE_* (GGUF token_type values) to attribute bits. */
export function attrFromTokenType(type: number): number {
  switch (type) {
    case 1: return ATTR.NORMAL;
    case 2: return ATTR.UNKNOWN;
    case 3: return ATTR.CONTROL;
    case 4: return ATTR.USER_DEFINED;
    case 5: return ATTR.UNUSED;
    case 6: return ATTR.BYTE;
    default: return ATTR.UNDEFINED;
  }
}

export interface TokenizeOptions {
  /** Add BOS/EOS as the vocabulary's add_bos/add_eos say (llama_tokenize's add_special). Default true. */
  addSpecial?: boolean;
  /** Override the vocabulary's add_bos (only when addSpecial is on). */
  addBos?: boolean;
  /** Override the vocabulary's add_eos (only when addSpecial is on). */
  addEos?: boolean;
  /** Match control/unknown token texts in the input (llama_tokenize's parse_special). Default false. */
  parseSpecial?: boolean;
}

export interface DetokenizeOptions {
  /** Drop a leading BOS / trailing EOS the vocabulary would add (llama_detokenize's remove_special). */
  removeSpecial?: boolean;
  /** Render control/unknown tokens as their text (llama_detokenize's unparse_special). */
  unparseSpecial?: boolean;
}
