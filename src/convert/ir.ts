/**
 * The model the converter and the defect injector work on: a GGUF's typed metadata and its tensors (GGUF
 * names, row-major dims, raw bytes). A tensor's bytes are read from the file only when code asks for
 * `data` (a defect, a conversion); a tensor nobody touched is streamed from the file to the output by
 * the writers (irBytes), so a model of any size converts in bounded memory. It is written out as APR
 * (aprender's import conventions, ./to-apr.ts) or back as GGUF (../formats/gguf-writer.ts).
 */
import { gguf } from "@huggingface/gguf";

import { loadGguf } from "../formats/gguf.js";
import { ggufChunks, writeGguf, type GgufKv } from "../formats/gguf-writer.js";
import type { ModelConfig, Role } from "../formats/model.js";
import { roleOfName } from "../formats/roles.js";
import { dequantize } from "../bindings/kernels.js";
import { InputError } from "../util/errors.js";
import { fileRange, materialize, type Bytes } from "../util/lazy-bytes.js";

export interface IrTensor {
  /** GGUF name (blk.N.attn_q.weight). */
  name: string;
  /** GGML / rosetta type id. */
  type: number;
  /** Row-major dims, outermost first ([out, in]). */
  dims: number[];
  data: Uint8Array;
}

export interface ModelIr {
  source: string;
  arch: string;
  config: ModelConfig;
  gguf: Record<string, GgufKv>;
  tensors: IrTensor[];
  /** APR metadata keys forced on top of what the GGUF metadata implies (defects that only APR can express). */
  aprOverrides: Record<string, unknown>;
}

export async function readGgufIr(path: string): Promise<ModelIr> {
  const model = await loadGguf(path, { logLayout: false });
  let typed: Record<string, GgufKv>;
  try {
    typed = (await gguf(path, { allowLocalFile: true, typedMetadata: true })).typedMetadata as unknown as Record<string, GgufKv>;
  } catch (e) {
    throw new InputError(`${path}: cannot parse GGUF metadata (${(e as Error).message})`);
  }
  const tensors = model.tensors.map((t) => lazyTensor(t.name, t.type, [...t.dims], fileRange(path, t.offset, t.byteLength)));
  return { source: path, arch: model.config.arch, config: model.config, gguf: typed, tensors, aprOverrides: {} };
}

/** The unread file bytes of tensors whose `data` nobody has asked for (or replaced). */
const unread = new WeakMap<IrTensor, Bytes>();

/** A tensor whose `data` is read from `bytes` on first use (an enumerable accessor: a spread copy reads it). */
function lazyTensor(name: string, type: number, dims: number[], bytes: Bytes): IrTensor {
  let data: Uint8Array | null = null;
  const t = { name, type, dims } as IrTensor;
  Object.defineProperty(t, "data", {
    enumerable: true,
    get: () => {
      if (!data) (data = materialize(bytes)), unread.delete(t);
      return data;
    },
    set: (v: Uint8Array) => {
      data = v;
      unread.delete(t);
    },
  });
  unread.set(t, bytes);
  return t;
}

/** A tensor's bytes for a writer: still in the file (streamed as written) or in memory. */
export function irBytes(t: IrTensor): Bytes {
  return unread.get(t) ?? t.data;
}

/** A tensor whose bytes are computed when written (a per-tensor conversion), then dropped. */
export function computedTensor(name: string, type: number, dims: number[], byteLength: number, compute: () => Uint8Array): IrTensor {
  return lazyTensor(name, type, dims, { byteLength, chunks: () => [compute()] });
}

export const elementCount = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** f32 values of a tensor (native dequantizer for quantized types). */
export function toF32(t: IrTensor): Float32Array {
  // an unread tensor is read for this call only (a conversion of every tensor never holds them all)
  const bytes = materialize(irBytes(t));
  if (t.type === 0) return new Float32Array(bytes.slice().buffer);
  return dequantize({ source: bytes, offset: 0, type: t.type, nElements: elementCount(t.dims), name: t.name });
}

export function f32Bytes(x: Float32Array): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

/** The tensor with a role (and layer), or undefined. */
export function findRole(ir: ModelIr, role: Role, layer: number | null): IrTensor | undefined {
  return ir.tensors.find((t) => {
    const r = roleOfName(t.name);
    return r !== null && r.role === role && r.layer === layer;
  });
}

function ggufTensors(ir: ModelIr) {
  // GGUF lists dims innermost first: the reverse of the row-major dims.
  return ir.tensors.map((t) => ({ name: t.name, type: t.type, dims: [...t.dims].reverse(), data: irBytes(t) }));
}

export function irToGguf(ir: ModelIr): Buffer {
  return writeGguf(ir.gguf, ggufTensors(ir));
}

/** The GGUF file chunk by chunk (untouched tensors streamed from the source file). */
export function irGgufChunks(ir: ModelIr): Iterable<Uint8Array> {
  return ggufChunks(ir.gguf, ggufTensors(ir));
}

/** A GGUF metadata value by key (undefined if absent). */
export function kv(ir: ModelIr, key: string): unknown {
  return ir.gguf[key]?.value;
}
