/**
 * The benchmark model of `npm run bench:compare`: a synthetic qwen2 model with Qwen2.5-1.5B dimensions
 * (n_embd 1536, 12 heads, 2 kv heads, head dim 128, ffn 8960, all 28 layers, tied embeddings) and the
 * fixtures' 512-token GPT-2 vocabulary, quantized to Q4_K_M by the real llama.cpp quantizer (~0.8 GB).
 * The F32 source (~5 GB) is streamed to a temp file (it does not fit one Buffer) and deleted after
 * quantization; the result is cached in tests/fixtures/generated/ under a hash of this file.
 * Values come from one seeded pool of N(0,1) samples read at per-tensor offsets: generating 1.3 G
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

interface TensorSpec {
  name: string;
  ne: number[];
  kind: "mat" | "norm" | "bias";
}

function tensorList(): TensorSpec[] {
  const d = BENCH_DIMS;
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
  return out;
}

function metadata(): [string, GgufValue][] {
  const d = BENCH_DIMS;
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  const f32 = (value: number): GgufValue => ({ type: "f32", value });
  return [
    ["general.architecture", { type: "string", value: "qwen2" }],
    ["general.name", { type: "string", value: "rosetta-bench-qwen2.5-1.5b-dims" }],
    ["general.file_type", u32(0)],
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
    ...gpt2Vocab(),
  ];
}

/** GGUF v3 header bytes (metadata and tensor infos, padded to 32) for F32 tensors. */
function header(kv: [string, GgufValue][], tensors: TensorSpec[]): Buffer {
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
    u32(0);
    u64(offset);
    offset += Math.ceil((t.ne.reduce((a, b) => a * b, 1) * 4) / 32) * 32;
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

/** Where the benchmark model is cached (it may not exist yet). */
export function benchModelPath(): string {
  const bridge = loadLlamaBridge();
  // keyed by the recipe (bump RECIPE_VERSION when the values change) and the quantizer's commit
  const GENERATED_DIR = path.join(repoRoot(), "tests", "fixtures", "generated");
  const recipe = JSON.stringify({ v: RECIPE_VERSION, dims: BENCH_DIMS, pool: POOL, tensors: tensorList(), kv: metadata() });
  const hash = createHash("sha256").update(recipe).update(bridge.commit).digest("hex").slice(0, 12);
  mkdirSync(GENERATED_DIR, { recursive: true });
  return path.join(GENERATED_DIR, `bench-qwen2-1.5b-dims-28L-Q4_K_M-${hash}.gguf`);
}

/** The cached Q4_K_M benchmark model (generated on first use: about 3 minutes on 2 cores). */
export async function getBenchModel(log: (s: string) => void = () => {}): Promise<string> {
  const bridge = loadLlamaBridge();
  const out = benchModelPath();
  if (existsSync(out)) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  const f32 = path.join(os.tmpdir(), `rosetta-bench-f32-${process.pid}.gguf`);
  try {
    let t = Date.now();
    log("writing the F32 source (~5 GB, streamed)");
    writeF32(f32);
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
