/**
 * GGUF -> APR v2 the way aprender's `apr import` does it (spec §8): Qwen-family names to Hugging Face
 * names with the `model.` prefix, others unchanged; dims row-major (the GGUF shape reversed), data never
 * transposed; F32/F16/Q4_K/Q6_K bytes verbatim, every other type dequantized to F32 (or quantized with
 * `quantize`); a tied model gets an `lm_head.weight` copy and `tied_embeddings: true`; tokenizer and
 * `model.*` keys as custom metadata; header and footer CRCs by the writer.
 */
import { TOKENIZER_KEYS } from "../formats/apr-tokenizer-keys.js";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { aprDtypeOf, TYPE } from "../formats/apr-dtypes.js";
import { ARCHITECTURES, archFromAprName, isSupportedArch } from "../formats/architectures.js";
import { aprChunks, writeApr, type AprTensorIn } from "../formats/apr-writer.js";
import { hfNameOf, roleOfName } from "../formats/roles.js";
import { writeFileAtomicChunks } from "../util/atomic.js";
import { typeTraitsById } from "../bindings/kernels.js";
import { UnsupportedError } from "../util/errors.js";
import { quantizeAprQ4, quantizeAprQ8 } from "./apr-quant.js";
import { computedTensor, elementCount, f32Bytes, irBytes, irGgufChunks, kv, readGgufIr, toF32, type IrTensor, type ModelIr } from "./ir.js";

export type QuantizeMode = "q4k" | "q6k" | "apr-q4" | "apr-q8";
export const QUANTIZE_MODES: readonly QuantizeMode[] = ["q4k", "q6k", "apr-q4", "apr-q8"];

const PASSTHROUGH = new Set<number>([TYPE.F32, TYPE.F16, TYPE.Q4_K, TYPE.Q6_K]);

/** aprender's name for a GGUF tensor name (§5.1): Hugging Face names for the Qwen family. */
export function aprName(ggufName: string, arch: string): string {
  const a = archFromAprName(arch);
  if (!a || ARCHITECTURES[a].family !== "qwen") return ggufName;
  const r = roleOfName(ggufName);
  if (r) return hfNameOf(r.role, r.layer);
  const m = /^blk\.(\d+)\.(.+)$/.exec(ggufName);
  return m ? `model.layers.${m[1]}.${m[2]}` : ggufName;
}

/** aprender keeps embeddings, the output head, norms, biases and small tensors in F32 when quantizing. */
function quantizable(t: IrTensor): boolean {
  const r = roleOfName(t.name);
  if (t.dims.length !== 2 || elementCount(t.dims) < 1024) return false;
  return !(r && (r.role === "token_embd" || r.role === "output"));
}

/** One tensor as APR: verbatim bytes (streamed from the file when untouched), or converted when written. */
function convertTensor(t: IrTensor, arch: string, quantize: QuantizeMode | undefined, changes?: TypeChange[]): AprTensorIn {
  const name = aprName(t.name, arch);
  const apr = (type: number, data: AprTensorIn["data"]): AprTensorIn => {
    changes?.push({ name: t.name, from: t.type, to: type });
    return { name, dtype: aprDtypeOf(type), dims: t.dims, data };
  };
  if (t.type === TYPE.Q4_K || t.type === TYPE.Q6_K) return apr(t.type, irBytes(t));
  if ((quantize === "apr-q4" || quantize === "apr-q8") && quantizable(t)) {
    // the scales need the whole tensor: one tensor in memory at a time
    const x = toF32(t);
    return quantize === "apr-q4" ? apr(TYPE.APR_Q4, quantizeAprQ4(x)) : apr(TYPE.APR_Q8, quantizeAprQ8(x));
  }
  if (PASSTHROUGH.has(t.type)) return apr(t.type, irBytes(t));
  return apr(TYPE.F32, { byteLength: elementCount(t.dims) * 4, chunks: () => [f32Bytes(toF32(t))] });
}


const plain = (v: unknown): unknown => (typeof v === "bigint" ? Number(v) : Array.isArray(v) ? v.map(plain) : v);

/** APR metadata for a converted model (§6.1 typed fields, §6.3 custom keys). */
export function aprMetadata(ir: ModelIr, tensors: AprTensorIn[], tied: boolean): Record<string, unknown> {
  const c = ir.config;
  const a = ir.arch;
  const keyLength = kv(ir, `${a}.attention.key_length`);
  const typed: Record<string, unknown> = {
    model_type: a,
    name: a,
    description: "GGUF model imported by rosetta convert",
    version: "1.0.0",
    original_format: "gguf",
    total_size: 0,
    param_count: ir.tensors.reduce((s, t) => s + elementCount(t.dims), 0) + (tied ? c.nVocab * c.nEmbd : 0),
    chat_template: kv(ir, "tokenizer.chat_template"),
    architecture: a,
    hf_architecture: isSupportedArch(a) ? ARCHITECTURES[a].hfArchitecture : undefined,
    hf_model_type: a,
    hidden_size: c.nEmbd,
    num_layers: c.nLayer,
    num_heads: c.nHead,
    num_kv_heads: c.nHeadKv,
    vocab_size: c.nVocab,
    intermediate_size: c.nFf,
    max_position_embeddings: c.nCtxTrain,
    rope_theta: c.ropeBase,
    rope_type: c.ropeLayout === "neox" ? 2 : 0,
    rms_norm_eps: c.rmsEps,
    head_dim: keyLength === undefined ? undefined : c.headDim,
  };
  const custom: Record<string, unknown> = { tensor_shapes: Object.fromEntries(tensors.map((t) => [t.name, t.dims])) };
  for (const [g, k] of TOKENIZER_KEYS) if (ir.gguf[g] !== undefined) custom[k] = plain(ir.gguf[g].value);
  if (Array.isArray(custom["tokenizer.vocabulary"])) custom["tokenizer.vocab_size"] = (custom["tokenizer.vocabulary"] as unknown[]).length;
  for (const k of ["hidden_size", "num_layers", "num_heads", "num_kv_heads", "vocab_size", "intermediate_size", "max_position_embeddings", "rope_theta", "rms_norm_eps", "rope_type"]) {
    custom[`model.${k}`] = typed[k];
  }
  custom["model.architecture"] = a;
  if (tied) custom.tied_embeddings = true;
  return { ...typed, ...custom, ...ir.aprOverrides };
}

/**
 * llama.cpp's own quantizer (llama_model_quantize through the bridge, the npm-shipped libllama) on an F32
 * copy of the model, to `ftype` (llama-quantize's names, LLAMA_FTYPES); `use` reads the quantized file
 * before its folder is removed. `pure`: every tensor in the one type (else llama.cpp's mix, e.g. Q4_K_M).
 */
export async function withLlamaQuantized<T>(ir: ModelIr, ftype: string, pure: boolean, use: (file: string) => Promise<T> | T): Promise<T> {
  const { loadLlamaBridge } = await import("../bindings/llama.js");
  const bridge = loadLlamaBridge();
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-quant-"));
  try {
    // the F32 copy is written tensor by tensor, each converted as it is written
    const f32: ModelIr = { ...ir, tensors: ir.tensors.map((t) => (t.type === TYPE.F32 ? t : computedTensor(t.name, TYPE.F32, t.dims, elementCount(t.dims) * 4, () => f32Bytes(toF32(t))))) };
    const fileType = f32.gguf["general.file_type"];
    if (fileType) f32.gguf = { ...f32.gguf, "general.file_type": { ...fileType, value: 0 } };
    const a = path.join(dir, "f32.gguf");
    const b = path.join(dir, "q.gguf");
    writeFileAtomicChunks(a, irGgufChunks(f32));
    await bridge.quantize(a, b, ftype, { pure });
    // the quantized file's tensors are read lazily: `use` must finish with them before the folder goes
    return await use(b);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One tensor's type in the input and in the output (GGML type ids). */
export interface TypeChange {
  name: string;
  from: number;
  to: number;
}

/**
 * The one line that says which tensors a conversion widened (more bits per weight in the output than in
 * the input, e.g. Q4_0 to F32 where APR has no Q4_0), or null when none was.
 */
export function describeWidening(changes: TypeChange[], hint: string): string | null {
  const bits = (id: number) => {
    const t = typeTraitsById(id);
    return t ? ((t.typeSize - t.headerBytes) * 8) / t.blockSize : 0;
  };
  const name = (id: number) => typeTraitsById(id)?.name.toUpperCase() ?? `type ${id}`;
  const groups = new Map<string, number>();
  for (const c of changes) if (bits(c.to) > bits(c.from)) groups.set(`${name(c.from)} to ${name(c.to)}`, (groups.get(`${name(c.from)} to ${name(c.to)}`) ?? 0) + 1);
  if (groups.size === 0) return null;
  const n = [...groups.values()].reduce((a, b) => a + b, 0);
  return `widened ${n} tensor${n === 1 ? "" : "s"}: ${[...groups].map(([k, v]) => `${k} (${v})`).join(", ")}; ${hint}`;
}

export interface ToAprOptions {
  quantize?: QuantizeMode;
  /** Filled with every tensor's input and output type (for describeWidening). */
  changes?: TypeChange[];
}

/** The APR metadata and tensors (bytes produced as they are written) for a model. */
async function withAprParts<R>(ir0: ModelIr, opts: ToAprOptions, use: (md: Record<string, unknown>, tensors: AprTensorIn[]) => R): Promise<R> {
  if (opts.quantize && !QUANTIZE_MODES.includes(opts.quantize)) throw new UnsupportedError(`--quantize ${opts.quantize} is not one of ${QUANTIZE_MODES.join(", ")}`);
  if (opts.quantize === "q4k" || opts.quantize === "q6k") {
    const ftype = opts.quantize === "q4k" ? "Q4_K_S" : "Q6_K";
    return withLlamaQuantized(ir0, ftype, true, async (file) => {
      const q = await readGgufIr(file);
      return use(...aprParts({ ...q, aprOverrides: ir0.aprOverrides, source: ir0.source }, opts));
    });
  }
  return use(...aprParts(ir0, opts));
}

function aprParts(ir: ModelIr, opts: ToAprOptions): [Record<string, unknown>, AprTensorIn[]] {
  const tensors = ir.tensors.map((t) => convertTensor(t, ir.arch, opts.quantize, opts.changes));
  const hasOutput = ir.tensors.some((t) => roleOfName(t.name)?.role === "output");
  const embd = tensors.find((t, i) => roleOfName(ir.tensors[i].name)?.role === "token_embd");
  const tied = !hasOutput && embd !== undefined;
  if (tied && embd) tensors.push({ ...embd, name: "lm_head.weight" });
  return [aprMetadata(ir, tensors, tied), tensors];
}

/** The APR file bytes for a model (small models, tests). */
export async function irToApr(ir: ModelIr, opts: ToAprOptions = {}): Promise<Buffer> {
  return withAprParts(ir, opts, writeApr);
}

/** Writes the APR file atomically, streamed: memory for one chunk (or one converted tensor), whatever the model's size. Returns its size. */
export async function writeIrApr(ir: ModelIr, file: string, opts: ToAprOptions = {}): Promise<number> {
  return withAprParts(ir, opts, (md, tensors) => writeFileAtomicChunks(file, aprChunks(md, tensors)));
}

/** Writes the GGUF file atomically, streamed. Returns its size. */
export function writeIrGguf(ir: ModelIr, file: string): number {
  return writeFileAtomicChunks(file, irGgufChunks(ir));
}

/** `rosetta convert in.gguf out.apr`. */
export async function convertGgufToApr(input: string, opts: ToAprOptions = {}): Promise<Buffer> {
  return irToApr(await readGgufIr(input), opts);
}
