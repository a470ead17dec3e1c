/**
 * Open any model rosetta reads: a file by its magic bytes (never by its extension), or a Hugging Face
 * folder (a directory with config.json, src/formats/hf.ts). loadModel gives the llama-family model the
 * engine runs (or one clear error); inspectModel reads any valid GGUF or APR v2 container or HF folder
 * and says why the engine cannot run it, if it cannot.
 */
import { open } from "node:fs/promises";

import { InputError, RosettaError, UnsupportedError } from "../util/errors.js";
import { checkModelTensors } from "./architectures.js";
import { ggufModel, loadGguf, readGgufFile, type LoadOptions } from "./gguf.js";
import { hfModel, isHfFolder, loadHf, readHfFolder } from "./hf.js";
import type { LoadedModel, ModelFile } from "./model.js";

export type FileKind = "gguf" | "apr" | "hf" | "trace" | "unknown";

/** What kind of file this is, from its first bytes (a directory: a Hugging Face folder when it holds config.json). */
export async function sniffFile(path: string): Promise<FileKind> {
  if (await isHfFolder(path)) return "hf";
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw new InputError(`${path}: cannot open file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const head = Buffer.alloc(8);
  try {
    if ((await fh.stat()).isDirectory()) throw new InputError(`${path}: is a directory without config.json, not a model (GGUF, APR, Hugging Face folder) or trace file`);
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
  if (kind === "hf") return checkModelTensors(await loadHf(path, opts));
  if (kind === "apr") {
    const apr = await import("./apr.js").catch(() => null);
    if (!apr) throw new UnsupportedError(`${path}: APR files are not supported by this build`);
    return apr.loadApr(path, opts);
  }
  throw new InputError(`${path}: not a model file rosetta reads (expected GGUF or APR v2 magic bytes, or a Hugging Face folder)`);
}

/** What `inspect` reads: the container always; the model and the reason it cannot run when there is one. */
export interface InspectedModel {
  file: ModelFile;
  /** The llama-family model, when a config could be derived (even if the engine still cannot run it). */
  model: LoadedModel | null;
  /** Why the engine cannot run the file (the message loadModel would fail with, without the path), or null. */
  notRunnable: string | null;
}

/**
 * Read any valid GGUF or APR v2 file. Container errors (corrupt, truncated, not GGUF/APR v2) still throw;
 * an architecture, tensor type, config or tensor set the engine does not run is reported in notRunnable.
 */
export async function inspectModel(path: string, opts: LoadOptions = {}): Promise<InspectedModel> {
  const kind = await sniffFile(path);
  let file: ModelFile;
  let derive: () => LoadedModel;
  if (kind === "gguf") {
    const f = await readGgufFile(path);
    [file, derive] = [f, () => ggufModel(f, opts)];
  } else if (kind === "hf") {
    const f = await readHfFolder(path);
    [file, derive] = [f, () => hfModel(f, opts)];
  } else if (kind === "apr") {
    const apr = await import("./apr.js").catch(() => null);
    if (!apr) throw new UnsupportedError(`${path}: APR files are not supported by this build`);
    const f = await apr.readAprFile(path);
    [file, derive] = [f, () => apr.aprModel(f, opts)];
  } else {
    throw new InputError(`${path}: not a model file rosetta reads (expected GGUF or APR v2 magic bytes, or a Hugging Face folder)`);
  }
  const why = (e: unknown): string => {
    if (!(e instanceof RosettaError)) throw e;
    return e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message;
  };
  let model: LoadedModel;
  try {
    model = derive();
  } catch (e) {
    return { file, model: null, notRunnable: why(e) };
  }
  try {
    checkModelTensors(model);
  } catch (e) {
    return { file, model, notRunnable: why(e) };
  }
  return { file, model, notRunnable: null };
}
