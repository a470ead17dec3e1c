/**
 * TokenizerSpec from GGUF metadata (`tokenizer.ggml.*`, as @huggingface/gguf returns it: arrays whole, numbers
 * as number or bigint).
 */
import { gguf } from "@huggingface/gguf";
import { readGgufKvs } from "../formats/gguf-kv.js";
import { InputError } from "../util/errors.js";
import type { TokenizerSpec } from "./types.js";

type Metadata = Record<string, unknown>;

function num(m: Metadata, key: string): number | undefined {
  const v = m[key];
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

function bool(m: Metadata, key: string): boolean | undefined {
  const v = m[key];
  return typeof v === "boolean" ? v : undefined;
}

function str(m: Metadata, key: string): string | undefined {
  const v = m[key];
  return typeof v === "string" ? v : undefined;
}

function strArray(m: Metadata, key: string): string[] | undefined {
  const v = m[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new InputError(`GGUF key ${key} is not an array of strings`);
  return v as string[];
}

function numArray(m: Metadata, key: string): number[] | undefined {
  const v = m[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new InputError(`GGUF key ${key} is not an array`);
  return Array.from(v as ArrayLike<number | bigint>, Number);
}

/** The TokenizerSpec of a GGUF file's metadata. */
export function tokenizerSpecFromGgufMetadata(m: Metadata): TokenizerSpec {
  const model = str(m, "tokenizer.ggml.model");
  const tokens = strArray(m, "tokenizer.ggml.tokens");
  if (model === undefined || tokens === undefined) {
    throw new InputError("the GGUF file has no tokenizer (tokenizer.ggml.model / tokenizer.ggml.tokens missing)");
  }
  const n = tokens.length;
  const scores = numArray(m, "tokenizer.ggml.scores");
  const tokenTypes = numArray(m, "tokenizer.ggml.token_type");
  if (scores && scores.length < n) throw new InputError(`tokenizer.ggml.scores has ${scores.length} entries for ${n} tokens`);
  if (tokenTypes && tokenTypes.length < n) throw new InputError(`tokenizer.ggml.token_type has ${tokenTypes.length} entries for ${n} tokens`);
  return {
    model,
    pre: str(m, "tokenizer.ggml.pre"),
    tokens,
    scores,
    tokenTypes,
    merges: strArray(m, "tokenizer.ggml.merges"),
    bosTokenId: num(m, "tokenizer.ggml.bos_token_id"),
    eosTokenId: num(m, "tokenizer.ggml.eos_token_id"),
    eotTokenId: num(m, "tokenizer.ggml.eot_token_id"),
    eomTokenId: num(m, "tokenizer.ggml.eom_token_id"),
    unknownTokenId: num(m, "tokenizer.ggml.unknown_token_id"),
    separatorTokenId: num(m, "tokenizer.ggml.seperator_token_id"),
    paddingTokenId: num(m, "tokenizer.ggml.padding_token_id"),
    addBosToken: bool(m, "tokenizer.ggml.add_bos_token"),
    addEosToken: bool(m, "tokenizer.ggml.add_eos_token"),
    addSpacePrefix: bool(m, "tokenizer.ggml.add_space_prefix"),
    modelName: str(m, "general.name"),
  };
}

/** Reads the metadata of a local GGUF file (tensor data is not read). */
export async function readGgufMetadata(path: string): Promise<Metadata> {
  try {
    const { metadata } = await gguf(path, { allowLocalFile: true });
    return metadata as unknown as Metadata;
  } catch (e) {
    throw new InputError(`cannot read GGUF metadata from ${path}: ${(e as Error).message}`);
  }
}

/**
 * Reads only the tokenizer keys (`tokenizer.*`, `general.name`) of a local GGUF file, with the strict
 * reader of src/formats/gguf-kv.ts (fast on large vocabularies; other keys skipped without decoding).
 */
export function readGgufTokenizerMetadata(path: string): Metadata {
  return readGgufKvs(path, (key) => key.startsWith("tokenizer.") || key === "general.name");
}
