/**
 * `rosetta demo`: builds a small random llama model (GGUF, F32, seeded: the same bytes every run), writes
 * an APR copy of it carrying one layout defect (layer 0's attn_q stored transposed, the classic
 * [in, out] vs [out, in] bug), and compares the two. Needs no files and no network.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { injectDefect, parseDefect } from "../convert/defects.js";
import { readGgufIr } from "../convert/ir.js";
import { writeIrApr } from "../convert/to-apr.js";
import { GgufType, writeGguf, type GgufKv, type GgufTensorIn } from "../formats/gguf-writer.js";

export const DEMO_DEFECT = "transpose:attn_q@0";
export const DEMO_TOKENS = [1, 17, 42, 9, 23];

const DIMS = { nLayer: 2, nEmbd: 64, nHead: 4, headDim: 16, nFf: 128, nVocab: 128 };

function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function tensor(name: string, rowMajor: number[], r: () => number, fill?: number): GgufTensorIn {
  const n = rowMajor.reduce((x, y) => x * y, 1);
  const x = new Float32Array(n);
  const scale = rowMajor.length === 2 ? 2 / Math.sqrt(rowMajor[1]) : 0;
  for (let i = 0; i < n; i++) x[i] = fill ?? r() * 2 * scale;
  return { name, type: 0, dims: [...rowMajor].reverse(), data: new Uint8Array(x.buffer) };
}

function metadata(): Record<string, GgufKv> {
  const d = DIMS;
  const u32 = (v: number): GgufKv => ({ type: GgufType.UINT32, value: v });
  const f32 = (v: number): GgufKv => ({ type: GgufType.FLOAT32, value: v });
  return {
    "general.architecture": { type: GgufType.STRING, value: "llama" },
    "general.name": { type: GgufType.STRING, value: "rosetta-demo" },
    "general.file_type": u32(0),
    "llama.block_count": u32(d.nLayer),
    "llama.context_length": u32(256),
    "llama.embedding_length": u32(d.nEmbd),
    "llama.feed_forward_length": u32(d.nFf),
    "llama.attention.head_count": u32(d.nHead),
    "llama.attention.head_count_kv": u32(d.nHead),
    "llama.attention.layer_norm_rms_epsilon": f32(1e-5),
    "llama.rope.freq_base": f32(10000),
    "llama.rope.dimension_count": u32(d.headDim),
    "llama.vocab_size": u32(d.nVocab),
  };
}

/** The demo's base model as GGUF bytes (deterministic). */
export function demoGguf(seed = 1234): Buffer {
  const d = DIMS;
  const r = rand(seed);
  const t: GgufTensorIn[] = [tensor("token_embd.weight", [d.nVocab, d.nEmbd], r), tensor("output_norm.weight", [d.nEmbd], r, 1), tensor("output.weight", [d.nVocab, d.nEmbd], r)];
  for (let l = 0; l < d.nLayer; l++) {
    const q = d.nHead * d.headDim;
    t.push(
      tensor(`blk.${l}.attn_norm.weight`, [d.nEmbd], r, 1),
      tensor(`blk.${l}.attn_q.weight`, [q, d.nEmbd], r),
      tensor(`blk.${l}.attn_k.weight`, [q, d.nEmbd], r),
      tensor(`blk.${l}.attn_v.weight`, [q, d.nEmbd], r),
      tensor(`blk.${l}.attn_output.weight`, [d.nEmbd, q], r),
      tensor(`blk.${l}.ffn_norm.weight`, [d.nEmbd], r, 1),
      tensor(`blk.${l}.ffn_gate.weight`, [d.nFf, d.nEmbd], r),
      tensor(`blk.${l}.ffn_up.weight`, [d.nFf, d.nEmbd], r),
      tensor(`blk.${l}.ffn_down.weight`, [d.nEmbd, d.nFf], r),
    );
  }
  return writeGguf(metadata(), t);
}

export interface DemoFiles {
  dir: string;
  gguf: string;
  apr: string;
  cleanup(): void;
}

/** Writes the pair into a fresh temp dir: model.gguf (reference) and model.apr (with the defect). */
export async function writeDemoPair(defect = DEMO_DEFECT): Promise<DemoFiles> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-demo-"));
  const gguf = path.join(dir, "model.gguf");
  const apr = path.join(dir, "model.apr");
  writeFileSync(gguf, demoGguf());
  const ir = await readGgufIr(gguf);
  injectDefect(ir, parseDefect(defect), "apr");
  await writeIrApr(ir, apr);
  return { dir, gguf, apr, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
