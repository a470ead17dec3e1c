/**
 * The safetensors header, validated: the one reader both trace files (src/trace/safetensors.ts, F32) and
 * Hugging Face checkpoints (src/formats/hf.ts, F32/F16/BF16) use. Format: 8-byte little-endian header
 * length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`,
 * then the data (offsets relative to the data start). As the reference implementation: every shape and
 * offset is a safe integer, each tensor's byte span is its element count times its dtype's size, and the
 * tensors tile the data exactly (no overlap, no gap, nothing after), so no tensor aliases another.
 */
import { InputError } from "./errors.js";

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte span relative to the data start. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute byte offset of the data (8 + header length). */
  dataStart: number;
}

/** Largest header accepted (the reference implementation's limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** The header length from the first 8 bytes, checked against the file size before anything is allocated. */
export function headerLength(first8: Uint8Array, fileSize: number, what: string): number {
  if (fileSize < 8 || first8.length < 8) throw new InputError(`${what}: shorter than its 8-byte header length (truncated?)`);
  const n = Buffer.from(first8.buffer, first8.byteOffset, 8).readBigUInt64LE(0);
  if (n > BigInt(fileSize - 8)) throw new InputError(`${what}: header length ${n} exceeds the file (${fileSize} bytes); truncated or not safetensors`);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new InputError(`${what}: header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  return Number(n);
}

/**
 * Parse and validate the JSON header. `dtypes` maps the accepted dtype names to their element sizes; any
 * other dtype is an InputError naming the tensor (`unsupported` lets the caller say why in its own words).
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  fileSize: number,
  dtypes: Readonly<Record<string, number>>,
  what: string,
  unsupported: (name: string, dtype: string) => string = (name, dtype) => `tensor ${name}: dtype ${dtype} (accepted: ${Object.keys(dtypes).join(", ")})`,
): SafetensorsHeader {
  const bad = (msg: string) => new InputError(`${what}: ${msg}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString("utf8"));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message.replace(/\s+/g, " ").slice(0, 120)})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw bad("header is not a JSON object");
  const dataStart = 8 + json.byteLength;
  const dataLen = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === "string"))
        throw bad("__metadata__ must map names to strings");
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) throw bad(`tensor ${name}: entry is not an object`);
    const dtype = String(e.dtype);
    const size = Object.prototype.hasOwnProperty.call(dtypes, dtype) ? dtypes[dtype] : undefined;
    if (size === undefined) throw bad(unsupported(name, dtype));
    const shape = e.shape;
    const offs = e.data_offsets;
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor ${name}: bad shape`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor ${name}: bad data_offsets`);
    const [b, end] = offs as number[];
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    if (end < b || end > dataLen || end - b !== count * size) throw bad(`tensor ${name}: data_offsets [${b}, ${end}] do not match ${dtype} shape [${shape}] within ${dataLen} data bytes`);
    entries.push({ name, dtype, shape: shape as number[], begin: b, end });
  }
  const spans = [...entries].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = 0;
  for (const { begin, end, name } of spans) {
    if (begin !== at) throw bad(`tensor ${name}: data_offsets [${begin}, ${end}] ${begin < at ? "overlap the previous tensor" : `leave a gap after byte ${at}`}`);
    at = end;
  }
  if (at !== dataLen) throw bad(`the tensors cover ${at} of ${dataLen} data bytes`);
  return { entries, metadata, dataStart };
}
