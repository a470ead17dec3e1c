/**
 * rosetta's tokenizers: llama.cpp-exact SPM and byte-level BPE (see docs/tokenizer.md).
 */
import { open } from "node:fs/promises";
import { loadApr } from "../formats/apr.js";
import { isHfFolder, readHfFolder } from "../formats/hf.js";
import { ggufTokenizerKeysFromApr } from "../formats/apr-tokenizer-keys.js";
import type { LoadedModel } from "../formats/model.js";
import { InputError } from "../util/errors.js";
import { readGgufTokenizerMetadata, tokenizerSpecFromGgufMetadata } from "./gguf.js";
import { Tokenizer } from "./tokenizer.js";

export { Tokenizer } from "./tokenizer.js";
export { tokenizerSpecFromGgufMetadata, readGgufMetadata, readGgufTokenizerMetadata } from "./gguf.js";
export type { TokenizerSpec, TokenizeOptions, DetokenizeOptions } from "./types.js";
export { ATTR } from "./types.js";

/** A Tokenizer from GGUF metadata (`tokenizer.ggml.*`). */
export function tokenizerFromGgufMetadata(metadata: Record<string, unknown>): Tokenizer {
  return new Tokenizer(tokenizerSpecFromGgufMetadata(metadata));
}

/**
 * The tokenizer of a loaded model (GGUF `tokenizer.ggml.*` keys, APR's `tokenizer.*` custom keys, or a
 * Hugging Face folder's tokenizer.json, which its loader turns into GGUF keys).
 */
export function tokenizerFromModel(model: Pick<LoadedModel, "format" | "metadata">): Tokenizer {
  const hfError = model.metadata["tokenizer.hf.error"];
  if (model.format === "hf" && typeof hfError === "string") throw new InputError(`no tokenizer: ${hfError}`);
  const md = model.format === "apr" ? ggufTokenizerKeysFromApr(model.metadata) : model.metadata;
  return tokenizerFromGgufMetadata(md);
}

/** Loads the tokenizer of a model file, dispatching on its magic bytes (GGUF, APR). */
export async function loadTokenizer(path: string): Promise<Tokenizer> {
  if (await isHfFolder(path)) return tokenizerFromModel(await readHfFolder(path));
  const magic = await readMagic(path);
  if (magic.subarray(0, 4).toString("latin1") === "GGUF") {
    return tokenizerFromGgufMetadata(readGgufTokenizerMetadata(path));
  }
  if (magic.subarray(0, 3).toString("latin1") === "APR") {
    return tokenizerFromModel(await loadApr(path, { logLayout: false }));
  }
  throw new InputError(`${path}: not a GGUF or APR file or a Hugging Face folder (magic ${magic.subarray(0, 4).toString("hex") || "empty"})`);
}

async function readMagic(path: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw new InputError(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    if ((await fh.stat()).isDirectory()) throw new InputError(`${path}: is a directory, not a model file`);
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
