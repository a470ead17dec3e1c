/**
 * The in-memory model the converter and the defect injector work on: a GGUF's typed metadata and its
 * tensors (GGUF names, row-major dims, raw bytes), read once. It is written out as APR (aprender's
 * import conventions, ./to-apr.ts) or back as GGUF (../formats/gguf-writer.ts).
 */
import { readFileSync } from "node:fs";

import { gguf } from "@huggingface/gguf";

import { loadGguf } from "../formats/gguf.js";
import { writeGguf, type GgufKv } from "../formats/gguf-writer.js";
import type { ModelConfig, Role } from "../formats/model.js";
import { roleOfName } from "../formats/roles.js";
import { dequantize } from "../bindings/kernels.js";
import { InputError } from "../util/errors.js";

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
  const file = readFileSync(path);
  const tensors = model.tensors.map((t) => ({
    name: t.name,
    type: t.type,
    dims: [...t.dims],
    data: new Uint8Array(file.buffer, file.byteOffset + t.offset, t.byteLength),
  }));
  return { source: path, arch: model.config.arch, config: model.config, gguf: typed, tensors, aprOverrides: {} };
}

export const elementCount = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** f32 values of a tensor (native dequantizer for quantized types). */
export function toF32(t: IrTensor): Float32Array {
  if (t.type === 0) return new Float32Array(t.data.slice().buffer);
  return dequantize({ source: t.data, offset: 0, type: t.type, nElements: elementCount(t.dims), name: t.name });
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

export function irToGguf(ir: ModelIr): Buffer {
  // GGUF lists dims innermost first: the reverse of the row-major dims.
  return writeGguf(ir.gguf, ir.tensors.map((t) => ({ name: t.name, type: t.type, dims: [...t.dims].reverse(), data: t.data })));
}

/** A GGUF metadata value by key (undefined if absent). */
export function kv(ir: ModelIr, key: string): unknown {
  return ir.gguf[key]?.value;
}
