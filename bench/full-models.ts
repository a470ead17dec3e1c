/**
 * Full-size synthetic qwen2 models for `npm run bench:engine`: Qwen2.5-1.5B dimensions (n_embd 1536,
 * 12 heads, 2 kv heads, ffn 8960, tied embeddings) and 7B-class dimensions (n_embd 3584, 28 heads, 4 kv
 * heads, ffn 18944, its own 151,936 x 3584 output matrix), both with the full 151,936-token vocabulary,
 * at any depth (28 layers is the real one), in Q4_K_M's or Q8_0's tensor types.
 *
 * Written directly in the quantized types, streamed to disk: an F32 source to quantize would be 7 GB
 * (1.5B) or 30 GB (7B). Weights are random valid blocks (f16 scales ~6e-5..1.2e-4, finite; quants and
 * sub-block scales random), norms 1, biases 0: the speed of a forward pass does not depend on the values
 * and nothing overflows. Q4_K_M's mix is llama.cpp's rule (llama-quant.cpp): Q4_K everywhere, Q6_K for
 * the output matrix (the token embeddings when they are tied) and for attn_v / ffn_down of the layers
 * `use_more_bits` picks (the first and last eighth, every third in between). Files are cached by name
 * under bench/.cache (gitignored; BENCH_CACHE overrides): generating the 7B Q8_0 file writes 8 GB once.
 */
import { randomFillSync } from "node:crypto";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { ggufHeader, type GgufTensorInfo } from "../src/formats/gguf-writer.js";
import { DIMS } from "../tests/fixtures/lib/index.js";
import { ggufMetadata, type GgufValue } from "../tests/fixtures/lib/gguf-writer.js";
import { modelMetadata } from "../tests/fixtures/lib/models.js";

export const FULL_VOCAB = 151936;
export const FULL_SHAPES = {
  "1.5b": { nEmbd: 1536, nHead: 12, nHeadKv: 2, headDim: 128, nFf: 8960, tied: true },
  "7b": { nEmbd: 3584, nHead: 28, nHeadKv: 4, headDim: 128, nFf: 18944, tied: false },
} as const;
export type FullShape = keyof typeof FULL_SHAPES;
export type FullQuant = "Q4_K_M" | "Q8_0";

// ggml type ids, block sizes and bytes per block; where the f16 scales sit in a block
const TYPES = {
  f32: { id: 0, block: 1, bytes: 4, halves: [] as number[] },
  q8_0: { id: 8, block: 32, bytes: 34, halves: [0] },
  q4_K: { id: 12, block: 256, bytes: 144, halves: [0, 2] },
  q6_K: { id: 14, block: 256, bytes: 210, halves: [208] },
};
type TypeName = keyof typeof TYPES;
const FILE_TYPE: Record<FullQuant, number> = { Q8_0: 7, Q4_K_M: 15 };

export const cacheDir = () =>
  process.env.BENCH_CACHE ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bench/.cache");

/** llama.cpp's use_more_bits(i, n) (llama-quant.cpp): the layers Q4_K_M gives Q6_K attn_v / ffn_down. */
const moreBits = (i: number, n: number) => i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2;

interface Planned extends GgufTensorInfo {
  kind: TypeName;
  fill?: number;
}

function plan(shape: FullShape, q: FullQuant, nLayer: number): Planned[] {
  const d = FULL_SHAPES[shape];
  const out: Planned[] = [];
  const mat = (name: string, nIn: number, nOut: number, kind: TypeName) =>
    out.push({ name, type: TYPES[kind].id, dims: [nIn, nOut], byteLength: ((nIn * nOut) / TYPES[kind].block) * TYPES[kind].bytes, kind });
  const vec = (name: string, n: number, fill: number) => out.push({ name, type: 0, dims: [n], byteLength: 4 * n, kind: "f32", fill });
  const k4 = q === "Q8_0" ? "q8_0" : "q4_K";
  const k6 = q === "Q8_0" ? "q8_0" : "q6_K";
  const qDim = d.nHead * d.headDim, kvDim = d.nHeadKv * d.headDim;
  mat("token_embd.weight", d.nEmbd, FULL_VOCAB, d.tied ? k6 : k4);
  for (let i = 0; i < nLayer; i++) {
    const p = `blk.${i}.`;
    vec(p + "attn_norm.weight", d.nEmbd, 1);
    mat(p + "attn_q.weight", d.nEmbd, qDim, k4);
    mat(p + "attn_k.weight", d.nEmbd, kvDim, k4);
    mat(p + "attn_v.weight", d.nEmbd, kvDim, moreBits(i, nLayer) ? k6 : k4);
    vec(p + "attn_q.bias", qDim, 0);
    vec(p + "attn_k.bias", kvDim, 0);
    vec(p + "attn_v.bias", kvDim, 0);
    mat(p + "attn_output.weight", qDim, d.nEmbd, k4);
    vec(p + "ffn_norm.weight", d.nEmbd, 1);
    mat(p + "ffn_gate.weight", d.nEmbd, d.nFf, k4);
    mat(p + "ffn_up.weight", d.nEmbd, d.nFf, k4);
    mat(p + "ffn_down.weight", d.nFf, d.nEmbd, moreBits(i, nLayer) ? k6 : k4);
  }
  vec("output_norm.weight", d.nEmbd, 1);
  if (!d.tied) mat("output.weight", d.nEmbd, FULL_VOCAB, k6);
  return out;
}

/**
 * What one depth of a model holds: the bytes of its layers' tensors (all of blk.*) and the int8
 * multiply-accumulates one token costs in its layers' matmuls (weights x activation, attention excluded).
 */
export function layerTotals(shape: FullShape, q: FullQuant, nLayer: number): { bytes: number; macs: number } {
  let bytes = 0, macs = 0;
  for (const t of plan(shape, q, nLayer))
    if (t.name.startsWith("blk.")) {
      bytes += t.byteLength;
      if (t.kind !== "f32") macs += t.dims[0] * t.dims[1];
    }
  return { bytes, macs };
}

/** The fixtures' qwen2 metadata with these dimensions, the file type, and the vocabulary padded to 151,936. */
function metadata(shape: FullShape, q: FullQuant, nLayer: number): [string, GgufValue][] {
  const d = FULL_SHAPES[shape];
  const kv = modelMetadata("qwen2", { ...DIMS, ...d, nLayer, nVocab: FULL_VOCAB, nCtx: 32768 });
  const get = (k: string) => kv.find(([key]) => key === k)![1];
  const tokens = (get("tokenizer.ggml.tokens").value as string[]).slice();
  const types = (get("tokenizer.ggml.token_type").value as number[]).slice();
  // the fixtures' three control tokens stay last; reserved control tokens fill the vocabulary before them
  const specials = tokens.splice(-3), specialTypes = types.splice(-3);
  while (tokens.length < FULL_VOCAB - 3) (tokens.push(`<|reserved_${tokens.length}|>`), types.push(3));
  tokens.push(...specials), types.push(...specialTypes);
  const eos = FULL_VOCAB - 3;
  const set: Record<string, GgufValue> = {
    "general.file_type": { type: "u32", value: FILE_TYPE[q] },
    "general.name": { type: "string", value: `rosetta-bench-qwen2-${shape}-${nLayer}L` },
    "tokenizer.ggml.tokens": { type: "string[]", value: tokens },
    "tokenizer.ggml.token_type": { type: "i32[]", value: types },
    "tokenizer.ggml.eos_token_id": { type: "u32", value: eos },
    "tokenizer.ggml.padding_token_id": { type: "u32", value: eos },
    "tokenizer.ggml.bos_token_id": { type: "u32", value: eos },
  };
  return kv.map(([k, v]) => [k, set[k] ?? v]);
}

/** 4096 random valid blocks of a quantized type (finite f16 scales), reused for every tensor of it. */
function pool(kind: TypeName): Buffer {
  const t = TYPES[kind];
  const b = randomFillSync(Buffer.alloc(4096 * t.bytes));
  for (let i = 0; i < 4096; i++)
    for (const h of t.halves) b.writeUInt16LE(0x0400 | (b.readUInt16LE(i * t.bytes + h) & 0x3ff), i * t.bytes + h);
  return b;
}

/** The path of the model (generated on first use, then cached). */
export function fullModel(shape: FullShape, q: FullQuant, nLayer: number, log: (s: string) => void = () => {}): string {
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `qwen2-${shape}-${nLayer}L-v${FULL_VOCAB}-${q}.gguf`);
  if (existsSync(file)) return file;
  const tensors = plan(shape, q, nLayer);
  const h = ggufHeader(ggufMetadata(metadata(shape, q, nLayer)), tensors);
  log(`generating ${path.basename(file)} (${((h.header.length + h.total) / 2 ** 30).toFixed(2)} GiB) in ${dir}`);
  const pools = new Map<TypeName, Buffer>();
  const fd = openSync(file + ".tmp", "w");
  try {
    writeSync(fd, h.header);
    let pos = 0;
    for (const [i, t] of tensors.entries()) {
      if (h.offsets[i] > pos) writeSync(fd, Buffer.alloc(h.offsets[i] - pos)), (pos = h.offsets[i]);
      if (t.kind === "f32") {
        const v = new Float32Array(t.byteLength / 4).fill(t.fill ?? 0);
        writeSync(fd, new Uint8Array(v.buffer));
      } else {
        if (!pools.has(t.kind)) pools.set(t.kind, pool(t.kind));
        const p = pools.get(t.kind)!;
        for (let left = t.byteLength; left > 0; ) {
          const n = Math.min(left, p.length);
          writeSync(fd, p, 0, n);
          left -= n;
        }
      }
      pos += t.byteLength;
    }
    if (h.total > pos) writeSync(fd, Buffer.alloc(h.total - pos));
  } finally {
    closeSync(fd);
  }
  renameSync(file + ".tmp", file);
  return file;
}

/**
 * Puts a model file in the page-cache state a benchmark names (BENCH_PAGE_CACHE): "reread" (the default)
 * drops the file from the page cache and reads it back once, start to end, so that it sits there as
 * after a reboot or any first read from disk (on Linux 6.x with large folios: mostly 2 MB folios); "asis"
 * leaves whatever is there (a file just written, say by the quantizer, stays in 4 KB pages). Both
 * engines then map the same cached pages; the two states measured alike within noise (docs/engine.md,
 * "Page cache"), so this only makes the state known. Returns what was done, for the bench's header.
 */
export function settlePageCache(file: string, mode = process.env.BENCH_PAGE_CACHE ?? "reread"): string {
  if (mode === "asis") return "as found";
  if (mode !== "reread") throw new Error(`BENCH_PAGE_CACHE must be "reread" or "asis", not "${mode}"`);
  // coreutils dd: iflag=nocache with count=0 asks the kernel to drop the whole file's cached pages
  const drop = spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0"], { stdio: "ignore" });
  const fd = openSync(file, "r");
  const buf = Buffer.allocUnsafe(8 << 20);
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
  return drop.status === 0 ? "dropped and read back once" : "read once (dd could not drop it: state as found)";
}
