/**
 * rosetta's tokenizers: llama.cpp-exact SPM and byte-level BPE (see docs/tokenizer.md).
 */
import { open } from "node:fs/promises";
import { InputError, UnsupportedError } from "../util/errors.js";
import { readGgufMetadata, tokenizerSpecFromGgufMetadata } from "./gguf.js";
import { Tokenizer } from "./tokenizer.js";

export { Tokenizer } from "./tokenizer.js";
export { tokenizerSpecFromGgufMetadata, readGgufMetadata } from "./gguf.js";
export type { TokenizerSpec, TokenizeOptions, DetokenizeOptions } from "./types.js";
export { ATTR } from "./types.js";

/** A Tokenizer from GGUF metadata (`tokenizer.ggml.*`). */
export function tokenizerFromGgufMetadata(metadata: Record<string, unknown>): Tokenizer {
  return new Tokenizer(tokenizerSpecFromGgufMetadata(metadata));
}

/**
 * Hook for APR files: the APR reader maps `tokenizer.vocabulary`, `tokenizer.merges`, ... to a TokenizerSpec.
 * Until it is wired in (set via setAprTokenizerLoader), APR files are unsupported here.
 */
export type AprTokenizerLoader = (path: string) => Promise<Tokenizer>;
let aprLoader: AprTokenizerLoader | undefined;
export function setAprTokenizerLoader(loader: AprTokenizerLoader | undefined): void {
  aprLoader = loader;
}

/** Loads the tokenizer of a model file, dispatching on its magic bytes (GGUF, APR). */
export async function loadTokenizer(path: string): Promise<Tokenizer> {
  const magic = await readMagic(path);
  if (magic.subarray(0, 4).toString("latin1") === "GGUF") {
    return tokenizerFromGgufMetadata(await readGgufMetadata(path));
  }
  if (magic.subarray(0, 3).toString("latin1") === "APR") {
    if (aprLoader) return aprLoader(path);
    throw new UnsupportedError(`${path}: reading the tokenizer of APR files is not wired in yet`);
  }
  throw new InputError(`${path}: not a GGUF or APR file (magic ${magic.subarray(0, 4).toString("hex") || "empty"})`);
}

async function readMagic(path: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw new InputError(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
