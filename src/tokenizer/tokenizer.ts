/**
 * Text <-> token ids with llama.cpp's semantics (llama_tokenize / llama_token_to_piece / llama_detokenize):
 * split the input on special-token texts first, then run SPM or BPE on each text fragment, adding BOS/EOS as
 * the vocabulary says; decode by concatenating token pieces (bytes) and applying llama.cpp's space cleanup.
 */
import { BpeSession } from "./bpe.js";
import { SpecialSplitter } from "./special.js";
import { SpmSession } from "./spm.js";
import { ATTR, type DetokenizeOptions, type TokenizeOptions, type TokenizerSpec } from "./types.js";
import { CHAR_TO_BYTE, utf8Decode, utf8Encode } from "./unicode.js";
import { Vocab } from "./vocab.js";
import { InputError } from "../util/errors.js";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_G = new RegExp(LONE_SURROGATE.source, "g");

export class Tokenizer {
  readonly vocab: Vocab;
  private readonly spm?: SpmSession;
  private readonly bpe?: BpeSession;
  private readonly pieceCache: (Uint8Array | undefined)[];
  private readonly special: SpecialSplitter;

  constructor(spec: TokenizerSpec) {
    this.vocab = new Vocab(spec);
    if (this.vocab.type === "spm") this.spm = new SpmSession(this.vocab);
    else this.bpe = new BpeSession(this.vocab, this.vocab.pre!);
    this.pieceCache = new Array(this.vocab.tokens.length);
    this.special = new SpecialSplitter(this.vocab);
  }

  get nTokens(): number {
    return this.vocab.tokens.length;
  }
  get bos(): number {
    return this.vocab.bos;
  }
  get eos(): number {
    return this.vocab.eos;
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const v = this.vocab;
    // llama.cpp receives UTF-8: lone surrogates arrive as U+FFFD
    const input = LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATE_G, "\uFFFD") : text;
    const fragments = input === "" ? [] : this.special.partition(input, options.parseSpecial ?? false);
    const out: number[] = [];
    if (addSpecial && (options.addBos ?? v.addBos)) {
      if (v.bos < 0) throw new InputError("the vocabulary asks for a BOS token but has none");
      out.push(v.bos);
    }
    let prevSpecial = true; // SPM: a space prefix goes before the first text and after each special token
    for (const f of fragments) {
      if (typeof f === "number") {
        out.push(f);
        prevSpecial = true;
      } else if (this.spm) {
        this.spm.tokenize(f, v.addSpacePrefix && prevSpecial, out);
        prevSpecial = false;
      } else {
        this.bpe!.tokenize(f, out);
      }
    }
    if (addSpecial && (options.addEos ?? v.addEos)) {
      if (v.eos < 0) throw new InputError("the vocabulary asks for an EOS token but has none");
      out.push(v.eos);
    }
    return out;
  }

  /** llama_token_to_piece: the bytes of one token (empty for control/unknown tokens unless `special`). */
  tokenToPiece(id: number, special = true, lstrip = 0): Uint8Array {
    const v = this.vocab;
    if (!Number.isInteger(id) || id < 0 || id >= v.tokens.length) {
      throw new InputError(`token id ${id} is out of range (vocabulary has ${v.tokens.length} tokens)`);
    }
    const attr = v.attrs[id];
    if (!special && attr & (ATTR.UNKNOWN | ATTR.CONTROL)) return new Uint8Array(0);
    let piece = this.pieceCache[id];
    if (piece === undefined) piece = this.pieceCache[id] = this.computePiece(id);
    let s = 0;
    while (s < lstrip && s < piece.length && piece[s] === 0x20) s++;
    return s === 0 ? piece : piece.subarray(s);
  }

  private computePiece(id: number): Uint8Array {
    const v = this.vocab;
    const text = v.tokens[id];
    const attr = v.attrs[id];
    if (attr & (ATTR.UNKNOWN | ATTR.CONTROL | ATTR.USER_DEFINED)) return utf8Encode(text);
    if (attr & ATTR.NORMAL) {
      return v.type === "spm" ? utf8Encode(text.replaceAll("▁", " ")) : decodeByteChars(text);
    }
    if (attr & ATTR.BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16));
    return new Uint8Array(0);
  }

  /** llama_detokenize, as bytes (the text may end inside a UTF-8 sequence). */
  detokenizeBytes(ids: readonly number[], options: DetokenizeOptions = {}): Uint8Array {
    const v = this.vocab;
    let removeSpace = v.addSpacePrefix;
    let lo = 0, hi = ids.length;
    if (options.removeSpecial && v.addBos && hi > 0 && ids[0] === v.bos) {
      removeSpace = false;
      lo++;
    }
    if (options.removeSpecial && v.addEos && hi > lo && ids[hi - 1] === v.eos) hi--;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const p = this.tokenToPiece(ids[i], options.unparseSpecial ?? false, removeSpace ? 1 : 0);
      removeSpace = false;
      parts.push(p);
      total += p.length;
    }
    const buf = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      buf.set(p, o);
      o += p.length;
    }
    return v.cleanSpaces ? cleanSpaces(buf) : buf;
  }

  /** llama_detokenize as a string (invalid UTF-8 becomes U+FFFD). */
  detokenize(ids: readonly number[], options: DetokenizeOptions = {}): string {
    return utf8Decode(this.detokenizeBytes(ids, options));
  }
}

/** llama_decode_text: GPT-2 byte chars back to bytes; a char outside the table becomes "[UNK_BYTE_0x..]". */
function decodeByteChars(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b >= 0) {
      out.push(b);
      continue;
    }
    const hex = Array.from(utf8Encode(ch), (x) => x.toString(16).padStart(2, "0")).join("");
    out.push(...utf8Encode(`[UNK_BYTE_0x${hex}${text}]`));
  }
  return Uint8Array.from(out);
}

/** llama.cpp's clean_spaces passes over the detokenized bytes: " ?", " !", " .", " ,", " ' ", " 's" ... */
function cleanSpaces(t: Uint8Array): Uint8Array {
  const SP = 0x20, Q = 0x27;
  let total = t.length;
  // pass 1: drop the space before ? ! . ,
  let n = total ? 1 : 0;
  for (let i = 1; i < total; i++) {
    const x = t[i];
    if (t[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) n--;
    t[n++] = x;
  }
  total = n;
  // pass 2: " ' " -> "'"
  n = total ? 1 : 0;
  for (let i = 1; i < total; i++) {
    const x = t[i];
    if (x === Q && i + 1 < total && t[i - 1] === SP && t[i + 1] === SP) {
      n--;
      t[++i] = 0;
    }
    t[n++] = x;
  }
  total = n;
  // pass 3: " 's", " 'm", " 're", " 've" lose their space
  n = total ? 1 : 0;
  for (let i = 1; i < total; i++) {
    const x = t[i];
    if (t[i - 1] === SP && x === Q && i + 1 < total) {
      const x1 = t[i + 1];
      if (x1 === 0x73 || x1 === 0x6d) n--;
      else if (i + 2 < total && ((x1 === 0x72 && t[i + 2] === 0x65) || (x1 === 0x76 && t[i + 2] === 0x65))) n--;
    }
    t[n++] = x;
  }
  return t.subarray(0, n);
}
