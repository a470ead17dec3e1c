/**
 * GGUF -> APR v2 the way aprender's `apr import` does it (spec §8): Qwen-family names to Hugging Face
 * names with the `model.` prefix, others unchanged; dims row-major (the GGUF shape reversed), data never
 * transposed; F32/F16/Q4_K/Q6_K bytes verbatim, every other type dequantized to F32 (or quantized with
 * `quantize`); a tied model gets an `lm_head.weight` copy and `tied_embeddings: true`; tokenizer and
 * `model.*` keys as custom metadata; header and footer CRCs by the writer.
 */
import { TOKENIZER_KEYS } from "../formats/apr-tokenizer-keys.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { aprDtypeOf, TYPE } from "../formats/apr-dtypes.js";
import { ARCHITECTURES, archFromAprName, isSupportedArch } from "../formats/architectures.js";
import { writeApr, type AprTensorIn } from "../formats/apr-writer.js";
import { hfNameOf, roleOfName } from "../formats/roles.js";
import { typeTraitsById } from "../bindings/kernels.js";
import { UnsupportedError } from "../util/errors.js";
import { quantizeAprQ4, quantizeAprQ8 } from "./apr-quant.js";
import { elementCount, f32Bytes, irToGguf, kv, readGgufIr, toF32, type IrTensor, type ModelIr } from "./ir.js";

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

function convertTensor(t: IrTensor, arch: string, quantize: QuantizeMode | undefined, changes?: TypeChange[]): AprTensorIn {
  const name = aprName(t.name, arch);
  const apr = (type: number, data: Uint8Array): AprTensorIn => {
    changes?.push({ name: t.name, from: t.type, to: type });
    return { name, dtype: aprDtypeOf(type), dims: t.dims, data };
  };
  if (t.type === TYPE.Q4_K || t.type === TYPE.Q6_K) return apr(t.type, t.data);
  if ((quantize === "apr-q4" || quantize === "apr-q8") && quantizable(t)) {
    const x = toF32(t);
    return quantize === "apr-q4" ? apr(TYPE.APR_Q4, quantizeAprQ4(x)) : apr(TYPE.APR_Q8, quantizeAprQ8(x));
  }
  if (PASSTHROUGH.has(t.type)) return apr(t.type, t.data);
  return apr(TYPE.F32, f32Bytes(toF32(t)));
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
    const f32: ModelIr = { ...ir, tensors: ir.tensors.map((t) => (t.type === TYPE.F32 ? t : { ...t, type: TYPE.F32, data: f32Bytes(toF32(t)) })) };
    const fileType = f32.gguf["general.file_type"];
    if (fileType) f32.gguf = { ...f32.gguf, "general.file_type": { ...fileType, value: 0 } };
    const a = path.join(dir, "f32.gguf");
    const b = path.join(dir, "q.gguf");
    writeFileSync(a, irToGguf(f32));
    await bridge.quantize(a, b, ftype, { pure });
    return await use(b);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** q4k / q6k: llama.cpp's quantizer, every tensor in the one type (Q4_K_S / Q6_K, pure). */
async function llamaQuantized(ir: ModelIr, mode: "q4k" | "q6k"): Promise<ModelIr> {
  const q = await withLlamaQuantized(ir, mode === "q4k" ? "Q4_K_S" : "Q6_K", true, readGgufIr);
  return { ...q, aprOverrides: ir.aprOverrides, source: ir.source };
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

/** The APR file bytes for a model. */
export async function irToApr(ir0: ModelIr, opts: ToAprOptions = {}): Promise<Buffer> {
  if (opts.quantize && !QUANTIZE_MODES.includes(opts.quantize)) throw new UnsupportedError(`--quantize ${opts.quantize} is not one of ${QUANTIZE_MODES.join(", ")}`);
  const ir = opts.quantize === "q4k" || opts.quantize === "q6k" ? await llamaQuantized(ir0, opts.quantize) : ir0;
  const tensors = ir.tensors.map((t) => convertTensor(t, ir.arch, opts.quantize, opts.changes));
  const hasOutput = ir.tensors.some((t) => roleOfName(t.name)?.role === "output");
  const embd = tensors.find((t, i) => roleOfName(ir.tensors[i].name)?.role === "token_embd");
  const tied = !hasOutput && embd !== undefined;
  if (tied && embd) tensors.push({ ...embd, name: "lm_head.weight" });
  return writeApr(aprMetadata(ir, tensors, tied), tensors);
}

/** `rosetta convert in.gguf out.apr`. */
export async function convertGgufToApr(input: string, opts: ToAprOptions = {}): Promise<Buffer> {
  return irToApr(await readGgufIr(input), opts);
}
