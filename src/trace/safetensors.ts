/**
 * Minimal safetensors (F32 only) encoder and decoder (trace files are written and read in src/trace/io.ts), so traces' full tensors open in numpy/torch
 * (`safetensors.numpy.load_file`) without rosetta. Format: 8-byte little-endian header length N, N bytes
 * of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`,
 * then the data (offsets relative to the data start). Spec: docs/trace-format.md.
 */
import { headerLength, parseSafetensorsHeader } from "../util/safetensors-header.js";

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/** Serializes tensors in the given order (insertion order of the map), little-endian f32. */
export function encodeSafetensors(tensors: Map<string, F32Tensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (allowed by the spec).
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    // Float32Array is host-endian; every supported platform is little-endian.
    b.copy(out, at);
    at += b.length;
  }
  return out;
}

/** Parses a safetensors buffer holding F32 tensors; every malformation is an InputError naming `what`. */
export function decodeSafetensors(buf: Buffer, what = "safetensors file"): { tensors: Map<string, F32Tensor>; metadata: Record<string, string> } {
  const n = headerLength(buf, buf.length, what);
  const h = parseSafetensorsHeader(buf.subarray(8, 8 + n), buf.length, { F32: 4 }, what, (name, dtype) => `tensor ${name}: dtype ${dtype} (only F32 is written by rosetta)`);
  const tensors = new Map<string, F32Tensor>();
  for (const e of h.entries) {
    // Copy: the data may be unaligned for a Float32Array view.
    const data = new Float32Array(e.shape.reduce((a, d) => a * d, 1));
    Buffer.from(data.buffer).set(buf.subarray(h.dataStart + e.begin, h.dataStart + e.end));
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { tensors, metadata: h.metadata };
}
