/**
 * A vocabulary built from a TokenizerSpec the way llama.cpp's llama_vocab::impl::load builds it: token
 * attributes (with llama.cpp's text-based overrides), special-token ids, add_bos/add_eos/add_space_prefix
 * defaults per tokenizer type, and the special-token list used to split input text.
 */
import { UnsupportedError, InputError } from "../util/errors.js";
import { preTokenizerInfo, type PreTokenizerInfo } from "./pretokenize.js";
import { ATTR, attrFromTokenType, type TokenizerSpec } from "./types.js";
import { utf8Length } from "./unicode.js";

export type VocabType = "spm" | "bpe";

// Texts llama.cpp forces to CONTROL (its EOT/EOM/FIM/EOG detection in load()).
const CONTROL_BY_TEXT = new Set([
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
  "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>", "<|eom_id|>", "<|return|>", "<|call|>", "<|flush|>",
  "<|calls|>", "</s>", "[EOS]", "<eos>", "<turn|>", "<|tool_response>", "[e~[",
  "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>",
  "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>",
  "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>",
  "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
  "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
]);
const USER_DEFINED_BY_TEXT = new Set(["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]);

export class Vocab {
  readonly type: VocabType;
  readonly pre: PreTokenizerInfo | undefined;
  readonly tokens: readonly string[];
  readonly attrs: Uint16Array;
  readonly scores: Float64Array;
  readonly tokenToId = new Map<string, number>();
  /** BPE merges ("left right", rank = index); empty for SPM. */
  readonly merges: readonly string[];
  /** Ids of control / user-defined / unknown tokens, longest text (in UTF-8 bytes) first. */
  readonly specialTokens: number[];
  readonly bos: number;
  readonly eos: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly cleanSpaces: boolean;

  constructor(spec: TokenizerSpec) {
    const n = spec.tokens.length;
    if (n === 0) throw new InputError("tokenizer has an empty token list");
    let addBos = false, addSpacePrefix = false, cleanSpaces = false;
    let bos = -1, eos = -1;
    if (spec.model === "llama") {
      this.type = "spm";
      [bos, eos] = [1, 2];
      addBos = true;
      addSpacePrefix = true;
    } else if (spec.model === "gpt2") {
      this.type = "bpe";
      const pre = preTokenizerInfo(spec.pre ?? "default");
      if (!pre) throw new UnsupportedError(`unsupported BPE pre-tokenizer '${spec.pre ?? "(none)"}' (supported: llama-bpe/llama3, qwen2, gpt-2 and their aliases, starcoder, refact, command-r)`);
      this.pre = pre;
      cleanSpaces = pre.cleanSpaces;
      addBos = pre.addBos ?? false;
      if (!spec.merges) throw new InputError("BPE tokenizer without merges (tokenizer.ggml.merges)");
    } else {
      throw new UnsupportedError(`unsupported tokenizer model '${spec.model}' (supported: llama (SPM), gpt2 (BPE))`);
    }
    if (spec.addSpacePrefix !== undefined) addSpacePrefix = spec.addSpacePrefix;

    this.tokens = spec.tokens.map((t, i) => (t === "" ? `[EMPTY_${i}]` : t));
    this.attrs = new Uint16Array(n);
    this.scores = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.tokenToId.set(this.tokens[i], i);
      this.scores[i] = spec.scores ? Number(spec.scores[i]) : 0;
      this.attrs[i] = spec.tokenTypes ? attrFromTokenType(Number(spec.tokenTypes[i])) : ATTR.NORMAL;
    }
    this.merges = spec.merges ?? [];

    const pick = (id: number | undefined, dflt: number) => (id !== undefined && id >= 0 && id < n ? id : dflt >= n ? -1 : dflt);
    this.bos = pick(spec.bosTokenId, bos);
    this.eos = pick(spec.eosTokenId, eos);
    this.addBos = spec.addBosToken ?? addBos;
    this.addEos = spec.addEosToken ?? false;
    this.addSpacePrefix = addSpacePrefix;
    this.cleanSpaces = cleanSpaces;

    this.applyAttributeOverrides();
    this.specialTokens = this.collectSpecialTokens();
    this.applyPhi3Strip(spec);
  }

  private applyAttributeOverrides(): void {
    for (const [text, id] of this.tokenToId) {
      if (CONTROL_BY_TEXT.has(text)) this.attrs[id] |= ATTR.CONTROL;
    }
    for (let id = 0; id < this.attrs.length; id++) {
      if (this.attrs[id] & ATTR.CONTROL && this.tokens[id].includes("unused")) this.attrs[id] |= ATTR.UNUSED;
    }
    for (const text of USER_DEFINED_BY_TEXT) {
      const id = this.tokenToId.get(text);
      if (id !== undefined) this.attrs[id] = ATTR.USER_DEFINED;
    }
    const has = (t: string) => this.tokenToId.has(t);
    // o200k_harmony / solar-open: "<|end|>" is not end-of-generation and becomes user-defined
    if (has("<|end|>") && ((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>")))) {
      this.attrs[this.tokenToId.get("<|end|>")!] = ATTR.USER_DEFINED;
    }
    // gemma4 / paddleocr: "</s>" is a normal token when "<|tool_response>" exists
    if (has("<|tool_response>") && has("</s>")) this.attrs[this.tokenToId.get("</s>")!] = ATTR.NORMAL;
  }

  private collectSpecialTokens(): number[] {
    const mask = ATTR.CONTROL | ATTR.USER_DEFINED | ATTR.UNKNOWN;
    const ids: number[] = [];
    for (let id = 0; id < this.attrs.length; id++) if (this.attrs[id] & mask) ids.push(id);
    const bytes = new Map(ids.map((id) => [id, utf8Length(this.tokens[id])]));
    return ids.sort((a, b) => bytes.get(b)! - bytes.get(a)! || a - b);
  }

  /** llama.cpp sets RSTRIP on Phi-3's special tokens by model name (general.name). */
  private applyPhi3Strip(spec: TokenizerSpec): void {
    const name = (spec.modelName ?? "").toLowerCase();
    if (!name.includes("phi-3") && !name.includes("phi3")) return;
    for (const id of this.specialTokens) this.attrs[id] |= ATTR.RSTRIP;
    const set = (t: string, on: boolean) => {
      const id = this.tokenToId.get(t);
      if (id === undefined) return;
      this.attrs[id] = on ? this.attrs[id] | ATTR.RSTRIP : this.attrs[id] & ~ATTR.RSTRIP;
    };
    set("</s>", true);
    for (const t of ["<unk>", "<s>", "<|endoftext|>"]) set(t, false);
  }

  /** Token of a raw byte for SPM byte fallback: "<0xXX>", else the byte as a one-char string, else -1. */
  byteToken(byte: number): number {
    const hex = byte.toString(16).toUpperCase().padStart(2, "0");
    const id = this.tokenToId.get(`<0x${hex}>`);
    if (id !== undefined) return id;
    return byte < 0x80 ? (this.tokenToId.get(String.fromCharCode(byte)) ?? -1) : -1;
  }
}
