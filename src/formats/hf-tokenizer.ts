/**
 * A Hugging Face `tokenizer.json` (the `tokenizers` library's file) as GGUF tokenizer keys
 * (`tokenizer.ggml.*`), so the one tokenizer builder (src/tokenizer) serves GGUF, APR and HF folders alike.
 * Two families, as llama.cpp's converter reads them (docs/hf-checkpoints.md):
 *
 *   - sentencepiece-style BPE (model BPE with byte_fallback, Metaspace pre-tokenizer or normalizer):
 *     tokenizer.ggml.model "llama" (SPM). SPM merges by token score; the score of a token is minus the
 *     rank of the first merge that makes it (so SPM's highest-score-first order is BPE's lowest-rank-first
 *     order); tokens no merge makes score below every merge.
 *   - byte-level BPE (ByteLevel pre-tokenizer): "gpt2" with its merges; the pre-tokenizer type from the
 *     split regex (qwen2's, llama3's) or "default".
 *
 * Token types: added special tokens CONTROL (3), other added tokens USER_DEFINED (4), the unknown token
 * UNKNOWN (2), `<0xNN>` byte tokens of a byte-fallback vocabulary BYTE (6), the rest NORMAL (1).
 * Special ids (bos/eos/unk/pad) from tokenizer_config.json's token strings, else config.json's ids.
 */
import { InputError, UnsupportedError } from "../util/errors.js";

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);

/** The split regex of a pre-tokenizer (Split or inside a Sequence), or undefined. */
function splitRegex(pre: Json | undefined): string | undefined {
  if (!pre) return undefined;
  if (pre.type === "Split") return obj(pre.pattern)?.Regex as string | undefined;
  if (pre.type === "Sequence" && Array.isArray(pre.pretokenizers)) {
    for (const p of pre.pretokenizers) {
      const r = splitRegex(obj(p));
      if (r) return r;
    }
  }
  return undefined;
}

function hasType(node: Json | undefined, type: string): boolean {
  if (!node) return false;
  if (node.type === type) return true;
  for (const k of ["pretokenizers", "normalizers", "decoders"]) {
    const list = node[k];
    if (Array.isArray(list) && list.some((x) => hasType(obj(x), type))) return true;
  }
  return false;
}

/** Pre-tokenizer regexes llama.cpp names (its convert_hf_to_gguf identifies them by the tokenizer's output). */
const PRE_BY_REGEX: [string, string][] = [
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "qwen2"],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "llama3"],
];

/** The prepend scheme of a Metaspace pre-tokenizer/normalizer anywhere in the tree ("first", "always", "never"). */
function metaspacePrepend(node: Json | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === "Metaspace") return typeof node.prepend_scheme === "string" ? node.prepend_scheme : node.add_prefix_space === false ? "never" : "always";
  if (node.type === "Prepend" && node.prepend === "▁") return "always";
  for (const k of ["pretokenizers", "normalizers"]) {
    const list = node[k];
    if (Array.isArray(list)) for (const x of list) {
      const r = metaspacePrepend(obj(x));
      if (r) return r;
    }
  }
  return undefined;
}

/** `[a, b]` or `"a b"` merge entries as GGUF's `"a b"` strings. */
function mergeStrings(merges: unknown, what: string): string[] {
  if (!Array.isArray(merges)) throw new InputError(`${what}: model.merges is not an array`);
  return merges.map((m, i) => {
    if (typeof m === "string") return m;
    if (Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === "string")) return `${m[0]} ${m[1]}`;
    throw new InputError(`${what}: merge ${i} is neither "a b" nor ["a", "b"]`);
  });
}

/**
 * GGUF tokenizer keys from tokenizer.json (`tok`), tokenizer_config.json (`tokCfg`, may be empty) and
 * config.json (`cfg`, for special ids). `what` names the file in errors.
 */
export function ggufTokenizerKeysFromHf(tok: Json, tokCfg: Json, cfg: Json, what: string): Record<string, unknown> {
  const model = obj(tok.model);
  if (!model) throw new InputError(`${what}: no "model" object`);
  if (model.type !== "BPE") throw new UnsupportedError(`${what}: tokenizer model ${String(model.type)} is not supported (BPE is: sentencepiece-style with byte fallback, or byte-level)`);
  const vocab = obj(model.vocab);
  if (!vocab) throw new InputError(`${what}: model.vocab is not an object`);
  const added = Array.isArray(tok.added_tokens) ? tok.added_tokens.map(obj).filter((x): x is Json => !!x) : [];
  let n = 0;
  for (const id of Object.values(vocab)) if (Number.isInteger(id) && (id as number) >= n) n = (id as number) + 1;
  for (const a of added) if (Number.isInteger(a.id) && (a.id as number) >= n) n = (a.id as number) + 1;
  if (n > 1 << 24) throw new InputError(`${what}: token id ${n - 1} is absurd`);
  const tokens: (string | undefined)[] = new Array(n).fill(undefined);
  for (const [t, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new InputError(`${what}: token ${JSON.stringify(t)} has id ${String(id)}`);
    tokens[id as number] = t;
  }
  const types = new Array<number>(n).fill(1);
  for (const a of added) {
    if (!Number.isInteger(a.id) || (a.id as number) < 0 || typeof a.content !== "string") throw new InputError(`${what}: bad added_tokens entry`);
    tokens[a.id as number] = a.content;
    types[a.id as number] = a.special === true ? 3 : 4;
  }
  // ids no token has become UNUSED placeholders, as llama.cpp's converter writes them
  for (let i = 0; i < n; i++) if (tokens[i] === undefined) (tokens[i] = `[PAD${i}]`, (types[i] = 5));
  const merges = mergeStrings(model.merges ?? [], what);
  const pre = obj(tok.pre_tokenizer);
  const norm = obj(tok.normalizer);
  const out: Record<string, unknown> = { "tokenizer.ggml.tokens": tokens as string[] };
  const byteLevel = hasType(pre, "ByteLevel");
  const spm = model.byte_fallback === true && !byteLevel;
  if (spm) {
    out["tokenizer.ggml.model"] = "llama";
    const scores = new Array<number>(n).fill(-1e9);
    const index = new Map(tokens.map((t, i) => [t as string, i]));
    merges.forEach((m, rank) => {
      const sp = m.indexOf(" ");
      const id = index.get(m.slice(0, sp) + m.slice(sp + 1));
      if (id !== undefined && scores[id] === -1e9) scores[id] = -rank;
    });
    for (let i = 0; i < n; i++) {
      if (/^<0x[0-9A-Fa-f]{2}>$/.test(tokens[i] as string) && types[i] === 1) types[i] = 6;
      // tokens no merge makes (single characters, bytes, specials): llama.cpp's SPM never looks them up as bigrams
      if (scores[i] === -1e9 && [...(tokens[i] as string)].length === 1) scores[i] = 0;
    }
    out["tokenizer.ggml.scores"] = scores;
    const prepend = metaspacePrepend(pre) ?? metaspacePrepend(norm);
    out["tokenizer.ggml.add_space_prefix"] = prepend !== undefined && prepend !== "never";
  } else if (byteLevel) {
    out["tokenizer.ggml.model"] = "gpt2";
    out["tokenizer.ggml.merges"] = merges;
    const re = splitRegex(pre);
    out["tokenizer.ggml.pre"] = (re && PRE_BY_REGEX.find(([r]) => r === re)?.[1]) ?? "default";
  } else {
    throw new UnsupportedError(`${what}: a BPE tokenizer without byte fallback or byte-level pre-tokenization is not supported`);
  }
  const idOf = (v: unknown): number | undefined => {
    const content = typeof v === "string" ? v : typeof obj(v)?.content === "string" ? (obj(v)!.content as string) : undefined;
    if (content === undefined) return undefined;
    const i = tokens.indexOf(content);
    return i >= 0 ? i : undefined;
  };
  const cfgId = (k: string): number | undefined => {
    const v = Array.isArray(cfg[k]) ? (cfg[k] as unknown[])[0] : cfg[k];
    return Number.isInteger(v) && (v as number) >= 0 && (v as number) < n ? (v as number) : undefined;
  };
  const special: [string, number | undefined][] = [
    ["bos_token_id", idOf(tokCfg.bos_token) ?? cfgId("bos_token_id")],
    ["eos_token_id", idOf(tokCfg.eos_token) ?? cfgId("eos_token_id")],
    ["unknown_token_id", idOf(tokCfg.unk_token) ?? (typeof model.unk_token === "string" ? idOf(model.unk_token) : undefined)],
    ["padding_token_id", idOf(tokCfg.pad_token) ?? cfgId("pad_token_id")],
  ];
  for (const [k, id] of special) if (id !== undefined) out[`tokenizer.ggml.${k}`] = id;
  const unk = out["tokenizer.ggml.unknown_token_id"];
  if (typeof unk === "number") types[unk] = 2;
  out["tokenizer.ggml.token_type"] = types;
  // BOS: tokenizer_config's flag, else whether the post-processor's template starts with the bos token
  const addBos = typeof tokCfg.add_bos_token === "boolean" ? tokCfg.add_bos_token : templateAddsBos(obj(tok.post_processor), tokens[out["tokenizer.ggml.bos_token_id"] as number]);
  if (addBos !== undefined) out["tokenizer.ggml.add_bos_token"] = addBos;
  if (typeof tokCfg.add_eos_token === "boolean") out["tokenizer.ggml.add_eos_token"] = tokCfg.add_eos_token;
  if (typeof tokCfg.chat_template === "string") out["tokenizer.chat_template"] = tokCfg.chat_template;
  return out;
}

function templateAddsBos(post: Json | undefined, bos: string | undefined): boolean | undefined {
  if (!post) return bos === undefined ? undefined : false;
  if (post.type === "TemplateProcessing" && Array.isArray(post.single)) {
    const first = obj(obj(post.single[0])?.SpecialToken);
    return first !== undefined && first.id === bos;
  }
  if (post.type === "Sequence" && Array.isArray(post.processors)) {
    for (const p of post.processors) {
      const r = templateAddsBos(obj(p), bos);
      if (r) return true;
    }
    return false;
  }
  return false;
}
