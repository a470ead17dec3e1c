/**
 * The benchmark models of `npm run bench:compare` (and bench:bisect), synthetic qwen2 models quantized to
 * Q4_K_M by the real llama.cpp quantizer and cached in tests/fixtures/generated/ under a hash of the recipe
 * and the quantizer's commit:
 *
 * - "1.5b" (default): Qwen2.5-1.5B dimensions (n_embd 1536, 12 heads, 2 kv heads, head dim 128, ffn 8960,
 *   all 28 layers, tied embeddings) and the fixtures' 512-token GPT-2 vocabulary (~0.8 GB). Its source is
 *   F32 (~5 GB), streamed to a temp file and deleted after quantization.
 * - "7b": Qwen2.5-7B dimensions (n_embd 3584, 28 heads, 4 kv heads, head dim 128, ffn 18944, all 28
 *   layers, separate output matrix) and a 151,936-token vocabulary (the fixtures' GPT-2 BPE tokenizer,
 *   padded with unreachable normal tokens), so the 151,936 x 3584 embedding and output matmul are there
 *   (~4.4 GB). Its source is F16 (~15 GB on a temp file), written from pools of pre-converted halves.
 *
 * Values come from one seeded pool of N(0,1) samples read at per-tensor offsets: generating billions of
 * independent samples in JS would dominate the setup time and buys nothing for a timing benchmark.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { repoRoot } from "../src/bindings/paths.js";
import { loadLlamaBridge } from "../src/bindings/llama.js";
import type { GgufValue } from "../tests/fixtures/lib/gguf-writer.js";
import { VOCAB_SIZE, gpt2Vocab } from "../tests/fixtures/lib/vocab.js";

export const BENCH_DIMS = { nEmbd: 1536, nHead: 12, nHeadKv: 2, headDim: 128, nFf: 8960, nLayer: 28, nVocab: VOCAB_SIZE, nCtx: 4096 };
export const BENCH_DIMS_7B = { nEmbd: 3584, nHead: 28, nHeadKv: 4, headDim: 128, nFf: 18944, nLayer: 28, nVocab: 151936, nCtx: 32768 };
export type BenchShape = "1.5b" | "7b";
const dimsOf = (shape: BenchShape) => (shape === "7b" ? BENCH_DIMS_7B : BENCH_DIMS);

interface TensorSpec {
  name: string;
  ne: number[];
  kind: "mat" | "norm" | "bias";
}

function tensorList(shape: BenchShape = "1.5b"): TensorSpec[] {
  const d = dimsOf(shape);
  const q = d.nHead * d.headDim;
  const kv = d.nHeadKv * d.headDim;
  const out: TensorSpec[] = [{ name: "token_embd.weight", ne: [d.nEmbd, d.nVocab], kind: "mat" }];
  for (let i = 0; i < d.nLayer; i++) {
    const p = `blk.${i}.`;
    out.push(
      { name: p + "attn_norm.weight", ne: [d.nEmbd], kind: "norm" },
      { name: p + "attn_q.weight", ne: [d.nEmbd, q], kind: "mat" },
      { name: p + "attn_k.weight", ne: [d.nEmbd, kv], kind: "mat" },
      { name: p + "attn_v.weight", ne: [d.nEmbd, kv], kind: "mat" },
      { name: p + "attn_q.bias", ne: [q], kind: "bias" },
      { name: p + "attn_k.bias", ne: [kv], kind: "bias" },
      { name: p + "attn_v.bias", ne: [kv], kind: "bias" },
      { name: p + "attn_output.weight", ne: [q, d.nEmbd], kind: "mat" },
      { name: p + "ffn_norm.weight", ne: [d.nEmbd], kind: "norm" },
      { name: p + "ffn_gate.weight", ne: [d.nEmbd, d.nFf], kind: "mat" },
      { name: p + "ffn_up.weight", ne: [d.nEmbd, d.nFf], kind: "mat" },
      { name: p + "ffn_down.weight", ne: [d.nFf, d.nEmbd], kind: "mat" },
    );
  }
  out.push({ name: "output_norm.weight", ne: [d.nEmbd], kind: "norm" });
  if (shape === "7b") out.push({ name: "output.weight", ne: [d.nEmbd, d.nVocab], kind: "mat" });
  return out;
}

/** The fixtures' GPT-2 vocabulary padded to `n` tokens with normal tokens no merge reaches (specials stay last). */
function paddedGpt2Vocab(n: number): [string, GgufValue][] {
  const kv = gpt2Vocab();
  const get = (k: string) => kv.find(([key]) => key === k)![1] as { value: (string | number)[] };
  const tokens = get("tokenizer.ggml.tokens").value as string[];
  const types = get("tokenizer.ggml.token_type").value as number[];
  const specials = tokens.splice(tokens.length - 3), specialTypes = types.splice(types.length - 3);
  while (tokens.length < n - 3) (tokens.push(`<|pad_${tokens.length}|>`), types.push(1));
  tokens.push(...specials), types.push(...specialTypes);
  const eos = tokens.indexOf("<|endoftext|>");
  return kv.map(([k, v]): [string, GgufValue] => (/_token_id$/.test(k) ? [k, { type: "u32", value: eos }] : [k, v]));
}

function metadata(shape: BenchShape = "1.5b"): [string, GgufValue][] {
  const d = dimsOf(shape);
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  const f32 = (value: number): GgufValue => ({ type: "f32", value });
  return [
    ["general.architecture", { type: "string", value: "qwen2" }],
    ["general.name", { type: "string", value: `rosetta-bench-qwen2.5-${shape}-dims` }],
    ["general.file_type", u32(shape === "7b" ? 1 : 0)],
    ["general.quantization_version", u32(2)],
    ["qwen2.context_length", u32(d.nCtx)],
    ["qwen2.embedding_length", u32(d.nEmbd)],
    ["qwen2.block_count", u32(d.nLayer)],
    ["qwen2.feed_forward_length", u32(d.nFf)],
    ["qwen2.attention.head_count", u32(d.nHead)],
    ["qwen2.attention.head_count_kv", u32(d.nHeadKv)],
    ["qwen2.rope.freq_base", f32(1000000)],
    ["qwen2.attention.layer_norm_rms_epsilon", f32(1e-6)],
    ["qwen2.rope.dimension_count", u32(d.headDim)],
    ["qwen2.vocab_size", u32(d.nVocab)],
    ...(shape === "7b" ? paddedGpt2Vocab(d.nVocab) : gpt2Vocab()),
  ];
}

/** GGUF v3 header bytes (metadata and tensor infos, padded to 32) for F32 (or F16) tensors. */
function header(kv: [string, GgufValue][], tensors: TensorSpec[], f16 = false): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32LE(v); parts.push(b); };
  const u64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const f32 = (v: number) => { const b = Buffer.alloc(4); b.writeFloatLE(v); parts.push(b); };
  const str = (s: string) => { const b = Buffer.from(s, "utf8"); u64(b.length); parts.push(b); };
  parts.push(Buffer.from("GGUF", "ascii"));
  u32(3);
  u64(tensors.length);
  u64(kv.length);
  for (const [k, v] of kv) {
    str(k);
    switch (v.type) {
      case "u32": u32(4); u32(v.value); break;
      case "i32": u32(5); i32(v.value); break;
      case "f32": u32(6); f32(v.value); break;
      case "bool": u32(7); parts.push(Buffer.from([v.value ? 1 : 0])); break;
      case "string": u32(8); str(v.value); break;
      case "string[]": u32(9); u32(8); u64(v.value.length); v.value.forEach(str); break;
      case "f32[]": u32(9); u32(6); u64(v.value.length); v.value.forEach(f32); break;
      case "i32[]": u32(9); u32(5); u64(v.value.length); v.value.forEach(i32); break;
    }
  }
  let offset = 0;
  for (const t of tensors) {
    str(t.name);
    u32(t.ne.length);
    t.ne.forEach(u64);
    u32(f16 ? 1 : 0);
    u64(offset);
    offset += Math.ceil((t.ne.reduce((a, b) => a * b, 1) * (f16 ? 2 : 4)) / 32) * 32;
  }
  const len = parts.reduce((n, b) => n + b.length, 0);
  parts.push(Buffer.alloc((32 - (len % 32)) % 32));
  return Buffer.concat(parts);
}

const POOL = 1 << 24;
const RECIPE_VERSION = 1;

function gaussianPool(seed: number): Float32Array {
  let a = seed >>> 0;
  const uni = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const p = new Float32Array(POOL);
  for (let i = 0; i < POOL; i++) p[i] = Math.sqrt(-2 * Math.log(uni())) * Math.cos(2 * Math.PI * uni());
  return p;
}

/** Streams the F32 source model to `file`. */
function writeF32(file: string): void {
  const tensors = tensorList();
  const pool = gaussianPool(0x5eed);
  const fd = openSync(file, "w");
  try {
    writeSync(fd, header(metadata(), tensors));
    const chunk = new Float32Array(1 << 22);
    tensors.forEach((t, ti) => {
      const n = t.ne.reduce((a, b) => a * b, 1);
      const scale = t.kind === "mat" ? 1 / Math.sqrt(t.ne[0]) : 0.1;
      let start = (ti * 7919 * 4099) % POOL;
      for (let done = 0; done < n; ) {
        const m = Math.min(chunk.length, n - done);
        for (let i = 0; i < m; i++) {
          const g = pool[(start + i) % POOL];
          chunk[i] = t.kind === "norm" ? 1 + scale * g : scale * g;
        }
        writeSync(fd, new Uint8Array(chunk.buffer, 0, m * 4));
        done += m;
        start = (start + m) % POOL;
      }
      const pad = (32 - ((n * 4) % 32)) % 32;
      if (pad) writeSync(fd, Buffer.alloc(pad));
    });
  } finally {
    closeSync(fd);
  }
}

/** IEEE half bits of a float (round to nearest even; the pool's values are far from the half range's edges). */
const f32Scratch = new Float32Array(1), u32Scratch = new Uint32Array(f32Scratch.buffer);
function halfBits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  const sign = (u >>> 16) & 0x8000, exp = ((u >>> 23) & 0xff) - 127 + 15, mant = u & 0x7fffff;
  if (exp <= 0) return sign; // below the normal half range: flush (|x| < 6e-5 in an N(0, 1/n) pool)
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}

/** Streams the F16 source model to `file`: matrices and biases are slices of pre-scaled half pools. */
function writeF16(file: string, shape: BenchShape): void {
  const tensors = tensorList(shape);
  const pool = gaussianPool(0x5eed);
  const halves = new Map<number, Uint16Array>();
  const scaled = (scale: number) => {
    let h = halves.get(scale);
    if (!h) (h = Uint16Array.from(pool, (g) => halfBits(scale * g))), halves.set(scale, h);
    return h;
  };
  const fd = openSync(file, "w");
  try {
    writeSync(fd, header(metadata(shape), tensors, true));
    tensors.forEach((t, ti) => {
      const n = t.ne.reduce((a, b) => a * b, 1);
      let start = (ti * 7919 * 4099) % POOL;
      if (t.kind === "norm") {
        const out = new Uint16Array(n);
        for (let i = 0; i < n; i++) out[i] = halfBits(1 + 0.1 * pool[(start + i) % POOL]);
        writeSync(fd, new Uint8Array(out.buffer));
      } else {
        const h = scaled(t.kind === "mat" ? 1 / Math.sqrt(t.ne[0]) : 0.1);
        for (let done = 0; done < n; ) {
          const m = Math.min(POOL - start, n - done);
          writeSync(fd, new Uint8Array(h.buffer, start * 2, m * 2));
          done += m;
          start = (start + m) % POOL;
        }
      }
      const pad = (32 - ((n * 2) % 32)) % 32;
      if (pad) writeSync(fd, Buffer.alloc(pad));
    });
  } finally {
    closeSync(fd);
  }
}

/** Where the benchmark model is cached (it may not exist yet). */
export function benchModelPath(shape: BenchShape = "1.5b"): string {
  const bridge = loadLlamaBridge();
  // keyed by the recipe (bump RECIPE_VERSION when the values change) and the quantizer's commit
  const GENERATED_DIR = path.join(repoRoot(), "tests", "fixtures", "generated");
  const recipe =
    shape === "7b"
      ? JSON.stringify({ v: RECIPE_VERSION, shape, dims: BENCH_DIMS_7B, pool: POOL, source: "f16", tensors: tensorList(shape), kv: metadata(shape) })
      : JSON.stringify({ v: RECIPE_VERSION, dims: BENCH_DIMS, pool: POOL, tensors: tensorList(), kv: metadata() });
  const hash = createHash("sha256").update(recipe).update(bridge.commit).digest("hex").slice(0, 12);
  mkdirSync(GENERATED_DIR, { recursive: true });
  return path.join(GENERATED_DIR, `bench-qwen2-${shape}-dims-28L-Q4_K_M-${hash}.gguf`);
}

/** The cached Q4_K_M benchmark model (generated on first use: about 3 minutes on 2 cores for 1.5b, 5-8 for 7b). */
export async function getBenchModel(log: (s: string) => void = () => {}, shape: BenchShape = "1.5b"): Promise<string> {
  const bridge = loadLlamaBridge();
  const out = benchModelPath(shape);
  if (existsSync(out)) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  const f32 = path.join(os.tmpdir(), `rosetta-bench-src-${process.pid}.gguf`);
  try {
    let t = Date.now();
    log(shape === "7b" ? "writing the F16 source (~15 GB, streamed)" : "writing the F32 source (~5 GB, streamed)");
    if (shape === "7b") writeF16(f32, shape);
    else writeF32(f32);
    log(`  ${((Date.now() - t) / 1000).toFixed(1)} s; quantizing to Q4_K_M with llama.cpp`);
    t = Date.now();
    await bridge.quantize(f32, out + ".tmp", "Q4_K_M", { threads: 2 });
    renameSync(out + ".tmp", out);
    log(`  ${((Date.now() - t) / 1000).toFixed(1)} s: ${out}`);
  } finally {
    rmSync(f32, { force: true });
  }
  return out;
}
