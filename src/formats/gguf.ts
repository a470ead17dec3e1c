/**
 * GGUF loading in two steps. readGgufFile parses the container: metadata and tensor infos through
 * @huggingface/gguf, then rosetta's own validation of everything a kernel will later trust (row lengths,
 * offsets, sizes, overflow); it works for any valid GGUF, whatever its architecture. ggufModel derives the
 * llama-family model from it: tensor types the kernels decode, the config, the architecture's tensors
 * (architectures.ts) and the role table; it says why when the engine cannot run the file. Tensor bytes
 * are never read here; they stay in the file for the native memory map.
 */
import { open, stat } from "node:fs/promises";

import { gguf } from "@huggingface/gguf";

import { InputError, UnsupportedError } from "../util/errors.js";
import { logger } from "../util/log.js";
import { checkModelTensors } from "./architectures.js";
import { configFromGguf } from "./config.js";
import { readGgufKvs } from "./gguf-kv.js";
import { checkLayout, logLayout } from "./layout.js";
import type { LoadedModel, ModelFile, TensorView } from "./model.js";
import { roleOfName } from "./roles.js";
import { typeTraitsById as typeInfo } from "../bindings/kernels.js";

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const MIN_KV_BYTES = 8 + 4 + 1; // key length, value type, smallest value
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8; // name length, 1-char name, n_dims, one dim, type, offset

/** Reads and checks the fixed header before any parser allocates by its counts. */
async function checkHeader(path: string, size: number): Promise<number> {
  if (size < 24) throw new InputError(`${path}: file is ${size} bytes, too short for a GGUF header (truncated?)`);
  const fh = await open(path, "r");
  const head = Buffer.alloc(24);
  try {
    await fh.read(head, 0, 24, 0);
  } finally {
    await fh.close();
  }
  if (head.readUInt32LE(0) !== GGUF_MAGIC) {
    throw new InputError(`${path}: not a GGUF file (magic ${JSON.stringify(head.subarray(0, 4).toString("latin1"))}, expected "GGUF")`);
  }
  const version = head.readUInt32LE(4);
  if (version === 1) throw new UnsupportedError(`${path}: GGUF v1 is not supported (re-convert the model with a current llama.cpp to get v3)`);
  if (version !== 2 && version !== 3) throw new UnsupportedError(`${path}: GGUF version ${version} is not supported (2 and 3 are)`);
  const nTensors = head.readBigUInt64LE(8);
  const nKv = head.readBigUInt64LE(16);
  if (nTensors > BigInt(Math.floor(size / MIN_TENSOR_INFO_BYTES))) {
    throw new InputError(`${path}: header claims ${nTensors} tensors, impossible in a ${size}-byte file (corrupt header)`);
  }
  if (nKv > BigInt(Math.floor(size / MIN_KV_BYTES))) {
    throw new InputError(`${path}: header claims ${nKv} metadata entries, impossible in a ${size}-byte file (corrupt header)`);
  }
  return version;
}

async function parse(path: string) {
  try {
    return await gguf(path, { allowLocalFile: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new InputError(`${path}: cannot parse GGUF metadata (${msg}); the file is truncated or corrupt`);
  }
}

function toSafeInt(v: bigint | number, what: string, path: string): number {
  const n = typeof v === "bigint" ? v : BigInt(v);
  if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(`${path}: ${what} = ${n} is out of range`);
  return Number(n);
}

/** A tensor's byte size and relative offset, checked against its type's block size, the alignment and the file. */
function checkSizes(
  where: string,
  info: { shape: bigint[]; offset: bigint },
  t: { name: string; blockSize: number; typeSize: number },
  dataStart: number,
  alignment: number,
  fileSize: number,
): { bytes: bigint; rel: bigint } {
  let elements = 1n;
  for (const d of info.shape) {
    if (d < 1n || d > 1n << 40n) throw new InputError(`${where} has an absurd dimension ${d}`);
    elements *= d;
    if (elements > 1n << 46n) throw new InputError(`${where} has an absurd element count (dims ${info.shape.join("x")})`);
  }
  const ne0 = info.shape[0];
  if (ne0 % BigInt(t.blockSize) !== 0n) {
    throw new InputError(`${where}: ${ne0} elements per row, not a multiple of the ${t.name} block size (${t.blockSize})`);
  }
  const bytes = (elements / BigInt(t.blockSize)) * BigInt(t.typeSize);
  const rel = info.offset;
  if (rel % BigInt(alignment) !== 0n) throw new InputError(`${where}: data offset ${rel} is not aligned to ${alignment} bytes`);
  const end = BigInt(dataStart) + rel + bytes;
  if (end > BigInt(fileSize)) {
    throw new InputError(`${where} extends past the end of the file (needs bytes up to ${end}, file has ${fileSize}); the file is truncated or corrupt`);
  }
  return { bytes, rel };
}

/**
 * Validates one tensor info and turns it into a view; every number a kernel will use is checked here. A
 * type ggml knows but rosetta's kernels do not decode is listed (`unsupported` says so), not refused.
 */
function tensorView(
  info: { name: string; n_dims: number; shape: bigint[]; dtype: number; offset: bigint },
  dataStart: number,
  alignment: number,
  fileSize: number,
  path: string,
): TensorView & { unsupported?: string } {
  const where = `${path}: tensor ${info.name}`;
  if (info.n_dims < 1 || info.n_dims > 4 || info.shape.length !== info.n_dims) throw new InputError(`${where} has ${info.n_dims} dims (1 to 4 allowed)`);
  const t = typeInfo(info.dtype);
  if (!t) throw new UnsupportedError(`${where} has unknown type id ${info.dtype}`);
  const unsupported = t.supported ? undefined : `${where} has type ${t.name}, which rosetta does not support`;
  let bytes: bigint, rel: bigint;
  try {
    ({ bytes, rel } = checkSizes(where, info, t, dataStart, alignment, fileSize));
  } catch (e) {
    // a type rosetta does not decode: that is the one thing to say about it (its sizes may be why)
    throw unsupported ? new UnsupportedError(unsupported) : e;
  }
  const fileDims = info.shape.map((d) => Number(d));
  const ref = roleOfName(info.name);
  const view: TensorView & { unsupported?: string } = {
    name: info.name,
    role: ref?.role ?? null,
    layer: ref?.layer ?? null,
    fileDims,
    dims: [...fileDims].reverse(),
    type: info.dtype,
    typeName: t.name,
    offset: dataStart + Number(rel),
    byteLength: Number(bytes),
  };
  if (unsupported) view.unsupported = unsupported;
  return view;
}

export interface LoadOptions {
  /** Log the layout check (default true; it is always on for the CLI). */
  logLayout?: boolean;
}

/** A parsed GGUF container: any valid file, whatever its architecture or tensor types. */
export interface GgufFile extends ModelFile {
  format: "gguf";
  version: number;
  /** The first tensor whose type the kernels do not decode (the engine cannot run the file). */
  unsupportedType?: string;
}

/** Parse and validate the container (header, metadata, tensor infos); no architecture is assumed. */
export async function readGgufFile(path: string): Promise<GgufFile> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new InputError(`${path}: cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const version = await checkHeader(path, size);
  readGgufKvs(path, () => false); // every count and length checked against the file before the parser sizes anything
  const parsed = await parse(path);
  const md = parsed.metadata as unknown as Record<string, unknown>;
  const alignment = md["general.alignment"] === undefined ? 32 : toSafeInt(md["general.alignment"] as number, "general.alignment", path);
  if (alignment < 1 || alignment > 1 << 20 || (alignment & (alignment - 1)) !== 0) throw new InputError(`${path}: general.alignment ${alignment} is not a power of two`);
  const dataStart = toSafeInt(parsed.tensorDataOffset, "tensor data offset", path);
  const seen = new Set<string>();
  let unsupportedType: string | undefined;
  const tensors = parsed.tensorInfos.map((info) => {
    if (seen.has(info.name)) throw new InputError(`${path}: tensor ${info.name} appears twice`);
    seen.add(info.name);
    const { unsupported, ...view } = tensorView(info, dataStart, alignment, size, path);
    unsupportedType ??= unsupported;
    return view;
  });
  const arch = md["general.architecture"];
  const f: GgufFile = {
    path, format: "gguf", version, container: `GGUF v${version}`, fileSize: size, metadata: md,
    archName: typeof arch === "string" ? arch : null, tensors,
    checksums: ["none (GGUF carries no checksums)"],
  };
  if (unsupportedType) f.unsupportedType = unsupportedType;
  return f;
}

/**
 * The llama-family model of a parsed GGUF: throws UnsupportedError / InputError (one line) when there is
 * none (architecture, tensor type, config). The architecture's tensor lists are checked by loadGguf
 * (checkModelTensors), so that `inspect` can still show the config of a file that fails them.
 */
export function ggufModel(f: GgufFile, opts: LoadOptions = {}): LoadedModel {
  const { path, metadata: md, tensors } = f;
  if (f.unsupportedType) throw new UnsupportedError(f.unsupportedType);
  const config = configFromGguf(md, path, new Map(tensors.map((t) => [t.name, t.dims])));
  const byRole = new Map<string, TensorView>();
  for (const t of tensors) if (t.role) byRole.set(t.layer === null ? t.role : `blk.${t.layer}.${t.role}`, t);
  const layout = checkLayout(tensors, config);
  logger("gguf").info({ file: path, version: f.version, arch: config.arch, tensors: tensors.length, bytes: f.fileSize }, `loaded GGUF v${f.version} ${config.arch}`);
  if (opts.logLayout !== false) logLayout(path, "gguf", layout);
  return { path, format: "gguf", config, tensors, byRole, layout, metadata: md, fileSize: f.fileSize };
}

export async function loadGguf(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  return checkModelTensors(ggufModel(await readGgufFile(path), opts));
}
