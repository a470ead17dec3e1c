/**
 * Minimal safetensors (F32 only) encoder and decoder (trace files are written and read in src/trace/io.ts), so traces' full tensors open in numpy/torch
 * (`safetensors.numpy.load_file`) without rosetta. Format: 8-byte little-endian header length N, N bytes
 * of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`,
 * then the data (offsets relative to the data start). Spec: docs/trace-format.md.
 */
import { InputError } from "../util/errors.js";

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
  const bad = (msg: string) => new InputError(`${what}: ${msg}`);
  if (buf.length < 8) throw bad("shorter than its 8-byte header length");
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(buf.length - 8)) throw bad(`header length ${n} exceeds the file (${buf.length} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + Number(n)).toString("utf8"));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message.replace(/\s+/g, " ")})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw bad("header is not a JSON object");
  const dataStart = 8 + Number(n);
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, F32Tensor>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === "string"))
        throw bad("__metadata__ must map names to strings");
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e?.dtype !== "F32") throw bad(`tensor ${name}: dtype ${String(e?.dtype)} (only F32 is written by rosetta)`);
    const shape = e.shape;
    const offs = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor ${name}: bad shape`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor ${name}: bad data_offsets`);
    const [b, end] = offs as number[];
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    if (end < b || end > dataLen || end - b !== count * 4) throw bad(`tensor ${name}: data_offsets [${b}, ${end}] do not match shape [${shape}] within ${dataLen} data bytes`);
    spans.push([b, end, name]);
    // Copy: the data may be unaligned for a Float32Array view.
    const data = new Float32Array(count);
    Buffer.from(data.buffer).set(buf.subarray(dataStart + b, dataStart + end));
    tensors.set(name, { shape: shape as number[], data });
  }
  // As the reference implementation: tensors tile the data exactly (no overlap, no gap, nothing after).
  // Overlapping tensors would alias one tensor's values under another's name.
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let at = 0;
  for (const [b, end, name] of spans) {
    if (b !== at) throw bad(`tensor ${name}: data_offsets [${b}, ${end}] ${b < at ? "overlap the previous tensor" : `leave a gap after byte ${at}`}`);
    at = end;
  }
  if (at !== dataLen) throw bad(`the tensors cover ${at} of ${dataLen} data bytes`);
  return { tensors, metadata };
}
