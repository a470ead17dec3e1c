/**
 * Open any model file rosetta reads, by its magic bytes (never by its extension).
 */
import { open } from "node:fs/promises";

import { InputError, UnsupportedError } from "../util/errors.js";
import { loadGguf, type LoadOptions } from "./gguf.js";
import type { LoadedModel } from "./model.js";

export type FileKind = "gguf" | "apr" | "trace" | "unknown";

/** What kind of file this is, from its first bytes. */
export async function sniffFile(path: string): Promise<FileKind> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw new InputError(`${path}: cannot open file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const head = Buffer.alloc(8);
  try {
    if ((await fh.stat()).isDirectory()) throw new InputError(`${path}: is a directory, not a model or trace file`);
    await fh.read(head, 0, 8, 0);
  } finally {
    await fh.close();
  }
  const magic = head.subarray(0, 4).toString("latin1");
  if (magic === "GGUF") return "gguf";
  if (magic.startsWith("APR")) return "apr";
  if (head[0] === 0x7b /* { */) return "trace";
  return "unknown";
}

export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const kind = await sniffFile(path);
  if (kind === "gguf") return loadGguf(path, opts);
  if (kind === "apr") {
    const apr = await import("./apr.js").catch(() => null);
    if (!apr) throw new UnsupportedError(`${path}: APR files are not supported by this build`);
    return apr.loadApr(path, opts);
  }
  throw new InputError(`${path}: not a model file rosetta reads (expected GGUF or APR v2 magic bytes)`);
}
