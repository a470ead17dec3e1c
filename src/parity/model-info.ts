/**
 * What the parity run needs to know about a model file before running it: its quantization (which
 * picks the band), sha256, size and tokenizer-metadata sha256.
 */
import { statSync } from "node:fs";

import { readGgufMetadata } from "../tokenizer/gguf.js";
import { loadModel, sniffFile } from "../formats/index.js";
import { ggufTokenizerKeysFromApr } from "../formats/apr-tokenizer-keys.js";
import { InputError, UnsupportedError } from "../util/errors.js";
import { sha256File, tokenizerSha256 } from "./manifest.js";

/**
 * llama_ftype (llama.h of the pinned release, every value it names) -> the quantization name used by
 * bands and reports. A name without a band is reported as such by the run, never passed.
 */
const FTYPE: Record<number, string> = {
  0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M",
  13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS",
  21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
  29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4",
  40: "Q1_0", 41: "Q2_0",
};

/** GGML type ids (ggml.h) of the weight types a file without general.file_type may hold. */
const GGML_TYPE: Record<number, string> = { 0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 10: "Q2_K", 12: "Q4_K", 14: "Q6_K", 30: "BF16" };

export interface ModelInfo {
  path: string;
  quant: string;
  sha256: string;
  bytes: number;
  tokenizerSha256: string;
  metadata: Record<string, unknown>;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : undefined;
}

/** general.file_type when present; otherwise the type of blk.0.attn_q (as llama.cpp guesses). */
export function quantFromMetadata(metadata: Record<string, unknown>, attnQType?: number): string {
  const ft = num(metadata["general.file_type"]);
  if (ft !== undefined) {
    const q = FTYPE[ft & ~1024]; // 1024: LLAMA_FTYPE_GUESSED
    if (!q) throw new InputError(`unknown general.file_type ${ft}`);
    return q;
  }
  if (attnQType !== undefined && GGML_TYPE[attnQType]) return GGML_TYPE[attnQType];
  throw new InputError("cannot tell the model's quantization (no general.file_type and no known blk.0.attn_q type)");
}

/**
 * A model rosetta runs. An APR file needs `reference`, the GGUF llama.cpp runs (llama.cpp reads GGUF
 * only), holding the same weights: every role tensor of the same type (a faithful conversion), so the
 * reference's quantization names the band. Weights of other types are a conversion to measure layer by
 * layer (`rosetta A B`), not an engine parity run, and are refused.
 */
export async function describeModel(path: string, reference?: string): Promise<ModelInfo> {
  const kind = await sniffFile(path);
  if (kind === "hf") throw new UnsupportedError(`${path}: a Hugging Face folder is not a parity model (llama.cpp runs GGUF files); compare it with its GGUF layer by layer: rosetta ${path} MODEL.gguf -p TEXT`);
  const bytes = fileBytes(path);
  if (kind !== "apr") return describeGguf(path, bytes);
  const advice = `compare it layer by layer instead: rosetta ${path} ORIGINAL.gguf -p TEXT`;
  if (!reference) throw new UnsupportedError(`${path}: an APR model needs --reference ORIGINAL.gguf (llama.cpp reads GGUF only), or ${advice}`);
  if ((await sniffFile(reference)) !== "gguf") throw new InputError(`--reference ${reference}: not a GGUF file (llama.cpp runs the reference)`);
  const [apr, ref] = [await loadModel(path, { logLayout: false }), await loadModel(reference, { logLayout: false })];
  // a missing output matrix is the tied embedding (either side may spell it out)
  const typeOf = (m: typeof apr, role: string) => (m.byRole.get(role) ?? (role === "output" ? m.byRole.get("token_embd") : undefined))?.typeName;
  const differing: string[] = [];
  for (const role of new Set([...apr.byRole.keys(), ...ref.byRole.keys()])) {
    const a = typeOf(apr, role), r = typeOf(ref, role);
    if (a !== r) differing.push(`${role} ${a ?? "absent"} vs ${r ?? "absent"}`);
  }
  if (differing.length)
    throw new UnsupportedError(
      `${path}: its weights are not the reference's types (${differing.slice(0, 3).join("; ")}${differing.length > 3 ? `; +${differing.length - 3} more` : ""}), so parity bands do not apply; ${advice}`,
    );
  const metadata = ggufTokenizerKeysFromApr(apr.metadata);
  return { path, quant: (await describeGguf(reference, fileBytes(reference))).quant, sha256: await sha256File(path), bytes, tokenizerSha256: tokenizerSha256(metadata), metadata };
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch (e) {
    throw new InputError(`model ${path} is not on disk (${(e as NodeJS.ErrnoException).code}); parity runs read pre-staged weights only`);
  }
}

async function describeGguf(path: string, bytes: number): Promise<ModelInfo> {
  const { gguf } = await import("@huggingface/gguf");
  let tensorType: number | undefined;
  let metadata: Record<string, unknown>;
  try {
    const r = await gguf(path, { allowLocalFile: true });
    metadata = r.metadata as unknown as Record<string, unknown>;
    tensorType = r.tensorInfos.find((t) => t.name === "blk.0.attn_q.weight")?.dtype as number | undefined;
  } catch {
    metadata = await readGgufMetadata(path); // rethrows as a one-line InputError
  }
  return { path, quant: quantFromMetadata(metadata, tensorType), sha256: await sha256File(path), bytes, tokenizerSha256: tokenizerSha256(metadata), metadata };
}
