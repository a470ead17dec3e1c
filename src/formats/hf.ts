/**
 * Hugging Face checkpoint folders: `config.json`, `*.safetensors` (one file, or shards listed by
 * `model.safetensors.index.json`), `tokenizer.json` (+ `tokenizer_config.json`), for llama, mistral, qwen2
 * and qwen3 (docs/hf-checkpoints.md). readHfFolder parses the container: config.json and every shard's
 * header, validated as the safetensors reference does (src/util/safetensors-header.ts: sizes, offsets,
 * exact tiling; a hostile header is one InputError line), a TensorView per tensor pointing into its shard
 * (`file`), bytes never read. hfModel derives the llama-family model: the config from config.json's keys,
 * roles from Hugging Face names (roles.ts), the tokenizer as GGUF keys (hf-tokenizer.ts).
 *
 * Layout conventions (what makes an HF folder and its GGUF conversion the same model):
 *   - matmul weights are stored [out, in] row-major, as rosetta's roles expect (no transposition);
 *   - q/k rows are in Hugging Face order: RoPE rotates the two halves of each head (rotate_half), i.e.
 *     rosetta's NEOX layout, for every architecture. llama.cpp's llama/mistral conversion permutes q/k
 *     rows so that its NORM RoPE (adjacent pairs) computes the same function; the comparator knows the
 *     two orders are one model (weight-diff.ts crossLayout, compare.ts) and names a missing permutation.
 *   - `tie_word_embeddings: true`: the logits use model.embed_tokens, as transformers ties them (a stored
 *     lm_head.weight is then listed, not used).
 */
import { open, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

import { InputError, UnsupportedError } from "../util/errors.js";
import { logger } from "../util/log.js";
import { headerLength, parseSafetensorsHeader } from "../util/safetensors-header.js";
import { typeTraitsById } from "../bindings/kernels.js";
import { ARCHITECTURES, isSupportedArch, requiredRoles, unsupportedArch } from "./architectures.js";
import { positiveInt, num } from "./config.js";
import type { LoadOptions } from "./gguf.js";
import { ggufTokenizerKeysFromHf } from "./hf-tokenizer.js";
import { checkLayout, logLayout } from "./layout.js";
import type { Arch, LoadedModel, ModelConfig, ModelFile, RopeScaling, TensorView } from "./model.js";
import { hfNameOf, roleOfName } from "./roles.js";

type Json = Record<string, unknown>;

/** safetensors dtypes: element sizes; the GGML type id of the ones the engine runs. */
const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 };
const GGML_TYPE: Record<string, number> = { F32: 0, F16: 1, BF16: 30 };

const MAX_JSON_BYTES = 64 << 20;

/** A parsed Hugging Face folder: any valid one, whatever its architecture. */
export interface HfFile extends ModelFile {
  format: "hf";
  /** config.json as parsed. */
  config: Json;
  /** The *.safetensors files, absolute, in index order. */
  shards: string[];
  /** tokenizer.json (+ tokenizer_config.json) as GGUF tokenizer keys, or the reason there are none. */
  tokenizer: Record<string, unknown> | string;
  /** The first tensor whose dtype the engine does not run (F32, F16, BF16 are run). */
  unsupportedType?: string;
}

/** A directory holding config.json: what `rosetta` reads as a Hugging Face folder. */
export async function isHfFolder(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory() && (await stat(path.join(p, "config.json"))).isFile();
  } catch {
    return false;
  }
}

async function readJson(file: string, what: string, optional = false): Promise<Json | undefined> {
  let s;
  try {
    s = await stat(file);
  } catch {
    if (optional) return undefined;
    throw new InputError(`${what}: missing`);
  }
  if (!s.isFile()) throw new InputError(`${what}: not a file`);
  if (s.size > MAX_JSON_BYTES) throw new InputError(`${what}: ${s.size} bytes, over the ${MAX_JSON_BYTES}-byte limit for a JSON file`);
  let v: unknown;
  try {
    v = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new InputError(`${what}: not valid JSON (${(e as Error).message.replace(/\s+/g, " ").slice(0, 120)})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new InputError(`${what}: not a JSON object`);
  return v as Json;
}

/** The shard files: the index's weight_map (names checked: plain file names inside the folder), else every *.safetensors. */
async function shardList(dir: string): Promise<{ shards: string[]; weightMap: Map<string, string> | null }> {
  const indexPath = path.join(dir, "model.safetensors.index.json");
  const index = await readJson(indexPath, indexPath, true);
  if (index) {
    const wm = index.weight_map;
    if (wm === null || typeof wm !== "object" || Array.isArray(wm)) throw new InputError(`${indexPath}: weight_map is not an object`);
    const weightMap = new Map<string, string>();
    const shards: string[] = [];
    for (const [name, f] of Object.entries(wm as Json)) {
      if (typeof f !== "string" || !/^[^/\\]+\.safetensors$/.test(f) || f.startsWith(".")) {
        throw new InputError(`${indexPath}: weight_map names ${JSON.stringify(f).slice(0, 80)} for ${name}, not a *.safetensors file in the folder`);
      }
      const abs = path.join(dir, f);
      weightMap.set(name, abs);
      if (!shards.includes(abs)) shards.push(abs);
    }
    if (!shards.length) throw new InputError(`${indexPath}: weight_map is empty`);
    return { shards, weightMap };
  }
  const all = await readdir(dir);
  const files = all.filter((f) => f.endsWith(".safetensors")).sort();
  if (!files.length) {
    const pickles = all.filter((f) => /\.(bin|pt|pth)$/.test(f));
    const why = pickles.length ? `; it holds ${pickles.slice(0, 2).join(", ")}: PyTorch pickles, which rosetta does not read (unpickling runs code); save the model with save_pretrained(..., safe_serialization=True)` : "";
    throw new UnsupportedError(`${dir}: no *.safetensors file (a Hugging Face folder holds config.json and the weights as safetensors)${why}`);
  }
  return { shards: files.map((f) => path.join(dir, f)), weightMap: null };
}

async function shardTensors(file: string): Promise<{ views: (TensorView & { unsupported?: string })[]; size: number }> {
  let fh;
  try {
    fh = await open(file, "r");
  } catch (e) {
    throw new InputError(`${file}: cannot open file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const n = headerLength(head, size, file);
    const json = Buffer.alloc(n);
    await fh.read(json, 0, n, 8);
    const h = parseSafetensorsHeader(json, size, DTYPE_BYTES, file, (name, dtype) => `tensor ${name}: dtype ${dtype} is not a safetensors dtype`);
    const views = h.entries.map((e) => {
      const ref = roleOfName(e.name);
      const ggml = GGML_TYPE[e.dtype];
      const v: TensorView & { unsupported?: string } = {
        name: e.name,
        role: ref?.role ?? null,
        layer: ref?.layer ?? null,
        fileDims: [...e.shape],
        dims: [...e.shape],
        type: ggml ?? -1,
        typeName: ggml !== undefined ? (typeTraitsById(ggml)?.name ?? e.dtype) : e.dtype,
        offset: h.dataStart + e.begin,
        byteLength: e.end - e.begin,
        file,
      };
      if (ggml === undefined && ref) v.unsupported = `${file}: tensor ${e.name} has dtype ${e.dtype}, which rosetta does not run (F32, F16, BF16 are run)`;
      return v;
    });
    return { views, size };
  } finally {
    await fh.close();
  }
}

/** Parse and validate the folder: config.json, the shards' headers, the index's consistency, the tokenizer. */
export async function readHfFolder(dir: string): Promise<HfFile> {
  const cfgPath = path.join(dir, "config.json");
  const config = (await readJson(cfgPath, cfgPath))!;
  const { shards, weightMap } = await shardList(dir);
  const tensors: TensorView[] = [];
  const seen = new Map<string, string>();
  let fileSize = 0;
  let unsupportedType: string | undefined;
  for (const shard of shards) {
    const { views, size } = await shardTensors(shard);
    fileSize += size;
    for (const { unsupported, ...v } of views) {
      const other = seen.get(v.name);
      if (other) throw new InputError(`${dir}: tensor ${v.name} is in both ${path.basename(other)} and ${path.basename(shard)}`);
      if (weightMap && weightMap.get(v.name) !== shard) {
        throw new InputError(`${dir}: tensor ${v.name} is in ${path.basename(shard)}, but the index ${weightMap.has(v.name) ? `puts it in ${path.basename(weightMap.get(v.name)!)}` : "does not list it"}`);
      }
      seen.set(v.name, shard);
      unsupportedType ??= unsupported;
      tensors.push(v);
    }
  }
  if (weightMap) for (const [name, f] of weightMap) if (!seen.has(name)) throw new InputError(`${dir}: the index puts ${name} in ${path.basename(f)}, which does not hold it`);
  let tokenizer: HfFile["tokenizer"];
  const tokPath = path.join(dir, "tokenizer.json");
  const tok = await readJson(tokPath, tokPath, true);
  if (!tok) tokenizer = "no tokenizer.json in the folder";
  else {
    const tokCfg = (await readJson(path.join(dir, "tokenizer_config.json"), path.join(dir, "tokenizer_config.json"), true)) ?? {};
    try {
      tokenizer = ggufTokenizerKeysFromHf(tok, tokCfg, config, tokPath);
    } catch (e) {
      if (!(e instanceof InputError || e instanceof UnsupportedError)) throw e;
      tokenizer = e.message;
    }
  }
  const metadata: Json = {};
  for (const [k, v] of Object.entries(config)) metadata[`config.${k}`] = v;
  if (typeof tokenizer === "object") Object.assign(metadata, tokenizer);
  else metadata["tokenizer.hf.error"] = tokenizer;
  const modelType = typeof config.model_type === "string" ? config.model_type : null;
  const f: HfFile = {
    path: dir, format: "hf", container: `Hugging Face folder (${shards.length} safetensors file${shards.length > 1 ? "s" : ""}${weightMap ? ", index" : ""})`,
    fileSize, metadata, archName: modelType, tensors, checksums: ["none (safetensors carries no checksums)"],
    config, shards, tokenizer,
  };
  if (unsupportedType) f.unsupportedType = unsupportedType;
  return f;
}

/** The architecture a config.json names: model_type, else architectures[0] (LlamaForCausalLM, ...). */
function archOf(c: Json, file: string): Arch {
  const mt = c.model_type;
  if (typeof mt === "string") {
    if (isSupportedArch(mt)) return mt;
    throw unsupportedArch(file, mt);
  }
  const a = Array.isArray(c.architectures) ? c.architectures[0] : undefined;
  const hit = Object.values(ARCHITECTURES).find((f) => f.hfArchitecture === a);
  if (hit) return hit.name;
  throw new InputError(`${file}: config.json names no model_type (nor a known architectures entry)`);
}

/** rope_scaling (transformers 4) or rope_parameters (transformers 5) as rosetta's RopeScaling. */
function ropeScalingOf(c: Json, file: string): { theta: number | undefined; scaling: RopeScaling } {
  const rp = (c.rope_parameters ?? null) as Json | null;
  const rs = ((c.rope_scaling ?? rp) ?? null) as Json | null;
  const theta = num(c, "rope_theta", file, Number.NaN, "config.json key");
  const thetaRp = rp && typeof rp === "object" ? num(rp, "rope_theta", file, Number.NaN, "config.json rope_parameters key") : Number.NaN;
  const th = Number.isNaN(theta) ? (Number.isNaN(thetaRp) ? undefined : thetaRp) : theta;
  if (!rs || typeof rs !== "object") return { theta: th, scaling: { type: "none" } };
  const type = rs.rope_type ?? rs.type ?? "default";
  const n = (k: string, d: number) => num(rs, k, file, d, "config.json rope scaling key");
  const origCtx = n("original_max_position_embeddings", 0);
  if (type === "default") return { theta: th, scaling: { type: "none" } };
  if (type === "linear") return { theta: th, scaling: { type: "linear", factor: n("factor", 1) } };
  if (type === "llama3") {
    return { theta: th, scaling: { type: "llama3", factor: n("factor", 1), lowFreqFactor: n("low_freq_factor", 1), highFreqFactor: n("high_freq_factor", 4), origCtx } };
  }
  if (type === "yarn") {
    return { theta: th, scaling: { type: "yarn", factor: n("factor", 1), origCtx, attnFactor: n("attention_factor", 1), betaFast: n("beta_fast", 32), betaSlow: n("beta_slow", 1) } };
  }
  throw new UnsupportedError(`${file}: rope scaling type ${String(type)} in config.json is not supported (linear, yarn, llama3 are)`);
}

/** The model config from config.json; every value validated (one line naming the key). */
export function configFromHf(c: Json, file: string, tensorDims: Map<string, number[]>): ModelConfig {
  const arch = archOf(c, file);
  const facts = ARCHITECTURES[arch];
  const K = "config.json key";
  const nEmbd = positiveInt(c, "hidden_size", file, 1 << 20, undefined, K);
  const nHead = positiveInt(c, "num_attention_heads", file, 4096, undefined, K);
  const nHeadKv = positiveInt(c, "num_key_value_heads", file, 4096, nHead, K);
  if (nHead % nHeadKv !== 0) throw new InputError(`${file}: num_attention_heads ${nHead} is not a multiple of num_key_value_heads ${nHeadKv}`);
  const headDim = positiveInt(c, "head_dim", file, 1 << 16, Math.floor(nEmbd / nHead), K);
  const partial = num(c, "partial_rotary_factor", file, 1, K);
  const ropeDim = Math.floor(headDim * partial);
  if (!(partial > 0 && partial <= 1) || ropeDim % 2) throw new InputError(`${file}: partial_rotary_factor ${partial} gives ${ropeDim} rotated dims of ${headDim} (must be even, > 0)`);
  const rmsEps = num(c, "rms_norm_eps", file, 1e-6, K);
  if (!(rmsEps > 0 && rmsEps < 1)) throw new InputError(`${file}: rms_norm_eps ${rmsEps} is out of range (0, 1)`);
  const { theta, scaling } = ropeScalingOf(c, file);
  const ropeBase = theta ?? 10000;
  if (!(ropeBase > 1)) throw new InputError(`${file}: rope_theta ${ropeBase} must be > 1`);
  const embd = tensorDims.get("model.embed_tokens.weight");
  // transformers ties lm_head to the embeddings when the config says so (every supported class defaults to false)
  const tied = c.tie_word_embeddings === true || !tensorDims.has("lm_head.weight");
  return {
    arch,
    nLayer: positiveInt(c, "num_hidden_layers", file, 4096, undefined, K),
    nEmbd,
    nHead,
    nHeadKv,
    headDim,
    headDimV: headDim,
    nFf: positiveInt(c, "intermediate_size", file, 1 << 22, undefined, K),
    nVocab: positiveInt(c, "vocab_size", file, 1 << 24, embd?.[0], K),
    nCtxTrain: positiveInt(c, "max_position_embeddings", file, 1 << 24, 2048, K),
    ropeBase,
    ropeDim,
    // Hugging Face rotates the two halves of each head (rotate_half) for every architecture: NEOX
    ropeLayout: "neox",
    ropeScaling: scaling,
    rmsEps,
    tiedEmbeddings: tied,
    qkvBias: tensorDims.has("model.layers.0.self_attn.q_proj.bias"),
    qkNorm: facts.qkNorm,
  };
}

/**
 * The llama-family model of a parsed folder: throws UnsupportedError / InputError (one line) when there is
 * none. A required tensor that is missing is named by its Hugging Face key, with the keys rosetta does
 * not know (a rename is the usual cause).
 */
export function hfModel(f: HfFile, opts: LoadOptions = {}): LoadedModel {
  const { path: dir } = f;
  if (f.unsupportedType) throw new UnsupportedError(f.unsupportedType);
  const cfgFile = path.join(dir, "config.json");
  const config = configFromHf(f.config, cfgFile, new Map(f.tensors.map((t) => [t.name, t.dims])));
  const tensors = f.tensors.map((t) => (t.role === "output" && config.tiedEmbeddings ? { ...t, role: null, layer: null } : t));
  const byRole = new Map<string, TensorView>();
  for (const t of tensors) if (t.role) byRole.set(t.layer === null ? t.role : `blk.${t.layer}.${t.role}`, t);
  const unknown = tensors.filter((t) => !t.role && !(t.name === "lm_head.weight" && config.tiedEmbeddings)).map((t) => t.name);
  for (const { role, layer } of requiredRoles(config.arch, config.nLayer)) {
    const key = layer === null ? role : `blk.${layer}.${role}`;
    if (!byRole.has(key)) {
      const hint = unknown.length ? `; tensors rosetta does not know: ${unknown.slice(0, 4).join(", ")}${unknown.length > 4 ? `, ... (${unknown.length})` : ""} (renamed?)` : "";
      throw new InputError(`${dir}: tensor ${hfNameOf(role, layer)} (${key}) is missing (required by ${config.arch})${hint}`);
    }
  }
  const log = logger("hf");
  if (unknown.length) log.warn({ file: dir, tensors: unknown }, `${unknown.length} tensor(s) rosetta does not know, not used: ${unknown.slice(0, 4).join(", ")}${unknown.length > 4 ? ", ..." : ""} (renamed?)`);
  const layout = checkLayout(tensors, config);
  log.info({ file: dir, arch: config.arch, shards: f.shards.length, tensors: tensors.length, bytes: f.fileSize }, `loaded Hugging Face ${config.arch} folder (q/k rows in HF order: NEOX RoPE)`);
  if (opts.logLayout !== false) logLayout(dir, "hf", layout);
  const metadata = { ...f.metadata };
  return { path: dir, format: "hf", config, tensors, byRole, layout, metadata, fileSize: f.fileSize };
}

export async function loadHf(p: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  return hfModel(await readHfFolder(p), opts);
}
