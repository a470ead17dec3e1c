/**
 * Pre-tokenizers of byte-level BPE vocabularies: the word splitters llama.cpp uses for each `tokenizer.ggml.pre`
 * (src/unicode.cpp unicode_regex_split_custom_*). These are hand-written scanners, not regex engines, and their
 * behaviour (not the regex they approximate) is what we reproduce, quirks included: e.g. `\s+(?!\S)` is
 * "all but the last whitespace when something follows", and an isolated code point with no class is its own word.
 *
 * Splitters run one after another, each on every segment the previous one produced (as llama.cpp does with its
 * offsets list), so lookahead never crosses a segment boundary.
 */
import { cptFlags, CPT_LETTER, CPT_NUMBER, CPT_WHITESPACE } from "./unicode.js";

/**
 * Splits the code points cps[start, end) of one segment into words, pushing each word's end to `out`
 * (out.begin(start) was called; ends that do not advance are ignored, like llama.cpp's empty-offset check).
 */
type SegmentSplitter = (cps: Int32Array, start: number, end: number, out: WordEnds) => void;

/** Word boundaries as a growable list of end indices: words are [previous end, end). */
export class WordEnds {
  ends = new Int32Array(1024);
  length = 0;
  private last = 0;

  /** Empties the list and makes room for n ends (growing inside push would deoptimize its callers). */
  clear(n: number): void {
    this.length = 0;
    if (this.ends.length < n) this.ends = new Int32Array(n);
  }

  begin(start: number): void {
    this.last = start;
  }

  push(end: number): void {
    if (end <= this.last) return;
    if (this.length === this.ends.length) {
      const grown = new Int32Array(this.ends.length * 2);
      grown.set(this.ends);
      this.ends = grown;
    }
    this.ends[this.length++] = end;
    this.last = end;
  }
}

const OOR = -1;
const CR = 0x0d;
const LF = 0x0a;
const APOS = 0x27;
const SPACE = 0x20;
const WLN = CPT_WHITESPACE | CPT_LETTER | CPT_NUMBER;

function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

/** Flags of cps[p], 0 past the segment end. */
function flagsAt(cps: Int32Array, p: number, end: number): number {
  return p < end ? cptFlags(cps[p]) : 0;
}

/** Length of a contraction ('s 't 'm 'd 're 've 'll) starting at pos, or 0. */
function contraction(cps: Int32Array, pos: number, end: number, caseInsensitive: boolean): number {
  if (cps[pos] !== APOS || pos + 1 >= end) return 0;
  const a = caseInsensitive ? lowerAscii(cps[pos + 1]) : cps[pos + 1];
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 < end) {
    const b = caseInsensitive ? lowerAscii(cps[pos + 2]) : cps[pos + 2];
    if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3; // re ve ll
  }
  return 0;
}

/** Where a whitespace run starting at pos ends its word: `\s+(?!\S)|\s+`, or one code point if none. */
function whitespaceEnd(cps: Int32Array, pos: number, end: number): number {
  let nws = 0;
  while (flagsAt(cps, pos + nws, end) & CPT_WHITESPACE) nws++;
  if (nws > 1 && pos + nws < end) return pos + nws - 1;
  return pos + (nws > 0 ? nws : 1);
}

/** GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
const splitGpt2: SegmentSplitter = (cps, start, end, out) => {
  let pos = start;
  while (pos < end) {
    const cpt = cps[pos];
    const flags = cptFlags(cpt);
    const c = contraction(cps, pos, end, false);
    if (c > 0) {
      pos += c;
      out.push(pos);
      continue;
    }
    let flags2 = cpt === SPACE ? flagsAt(cps, pos + 1, end) : flags;
    const cls = flags2 & CPT_LETTER ? CPT_LETTER : flags2 & CPT_NUMBER ? CPT_NUMBER : 0;
    if (cls !== 0) {
      if (cpt === SPACE) pos++;
      while (flags2 & cls) flags2 = flagsAt(cps, ++pos, end);
      out.push(pos);
      continue;
    }
    if (!(flags2 & WLN) && flags2) {
      if (cpt === SPACE) pos++;
      while (!(flags2 & WLN) && flags2) flags2 = flagsAt(cps, ++pos, end);
      out.push(pos);
      continue;
    }
    pos = whitespaceEnd(cps, pos, end);
    out.push(pos);
  }
};

/**
 * Llama 3 and Qwen2 (they differ only in \p{N}{1,3} vs \p{N}):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 */
function makeLlama3Splitter(maxDigits: number): SegmentSplitter {
  return (cps, start, end, out) => {
    let pos = start;
    while (pos < end) {
      const cpt = cps[pos];
      const flags = cptFlags(cpt);
      const c = contraction(cps, pos, end, true);
      if (c > 0) {
        pos += c;
        out.push(pos);
        continue;
      }
      if (!(cpt === CR || cpt === LF || flags & CPT_NUMBER) && (flags & CPT_LETTER || flagsAt(cps, pos + 1, end) & CPT_LETTER)) {
        pos++;
        while (flagsAt(cps, pos, end) & CPT_LETTER) pos++;
        out.push(pos);
        continue;
      }
      if (flags & CPT_NUMBER) {
        let ini = pos;
        while (flagsAt(cps, pos, end) & CPT_NUMBER) {
          if (++pos - ini >= maxDigits) {
            out.push(pos);
            ini = pos;
          }
        }
        out.push(pos);
        continue;
      }
      let flags2 = cpt === SPACE ? flagsAt(cps, pos + 1, end) : flags;
      if (!(flags2 & WLN) && flags) {
        if (cpt === SPACE) pos++;
        while (!(flags2 & WLN) && flags2) flags2 = flagsAt(cps, ++pos, end);
        while (pos < end && (cps[pos] === CR || cps[pos] === LF)) pos++;
        out.push(pos);
        continue;
      }
      let nws = 0;
      let lastRN = 0;
      while (flagsAt(cps, pos + nws, end) & CPT_WHITESPACE) {
        const cpt2 = cps[pos + nws];
        if (cpt2 === CR || cpt2 === LF) lastRN = pos + nws + 1;
        nws++;
      }
      pos = lastRN > 0 ? lastRN : whitespaceEnd(cps, pos, end);
      out.push(pos);
    }
  };
}

/** `\p{N}` through llama.cpp's generic regex path: every number code point becomes its own word. */
const splitEachDigit: SegmentSplitter = (cps, start, end, out) => {
  for (let i = start; i < end; i++) {
    if (cptFlags(cps[i]) & CPT_NUMBER) {
      out.push(i);
      out.push(i + 1);
    }
  }
  out.push(end);
};

/** The splitter chain of each supported pre-tokenizer family. */
export const PRE_SPLITTERS: Record<string, SegmentSplitter[]> = {
  gpt2: [splitGpt2],
  llama3: [makeLlama3Splitter(3)],
  qwen2: [makeLlama3Splitter(1)],
  starcoder: [splitEachDigit, splitGpt2],
};

/** Maps `tokenizer.ggml.pre` values to a splitter family, with llama.cpp's clean_spaces / ignore_merges flags. */
export interface PreTokenizerInfo {
  family: keyof typeof PRE_SPLITTERS;
  cleanSpaces: boolean;
  ignoreMerges: boolean;
  /** llama.cpp forces add_bos for this pre type (before the add_bos_token key, which still wins). */
  addBos?: boolean;
}

export function preTokenizerInfo(pre: string): PreTokenizerInfo | undefined {
  switch (pre) {
    case "llama3":
    case "llama-v3":
    case "llama-bpe":
    case "falcon3":
    case "falcon-h1":
    case "pixtral":
    case "midm-2.0":
    case "lfm2":
    case "jina-v5-nano":
      return { family: "llama3", cleanSpaces: true, ignoreMerges: true, addBos: true };
    case "dbrx":
    case "smaug-bpe":
      return { family: "llama3", cleanSpaces: true, ignoreMerges: false };
    case "qwen2":
    case "deepseek-r1-qwen":
      return { family: "qwen2", cleanSpaces: false, ignoreMerges: false };
    case "stablelm2":
      return { family: "qwen2", cleanSpaces: true, ignoreMerges: false };
    case "gpt-2":
    case "phi-2":
    case "mpt":
    case "olmo":
    case "jina-v1-en":
    case "roberta-bpe":
      return { family: "gpt2", cleanSpaces: true, ignoreMerges: false };
    case "starcoder":
    case "refact":
    case "codeshell":
      return { family: "starcoder", cleanSpaces: true, ignoreMerges: false };
    case "smollm":
    case "command-r":
      return { family: "starcoder", cleanSpaces: false, ignoreMerges: false };
    default:
      return undefined;
  }
}

/**
 * Splits cps[0, n) into words with the given chain of splitters, each run on every segment the previous one
 * produced (as llama.cpp does with its offsets list). Returns the word ends, in `a` or `b` (reused buffers).
 */
export function splitWords(cps: Int32Array, n: number, chain: readonly SegmentSplitter[], a: WordEnds, b: WordEnds): WordEnds {
  let segs = a, out = b;
  segs.clear(n + 1);
  segs.begin(0);
  segs.push(n);
  for (const splitter of chain) {
    out.clear(n + 1);
    let s = 0;
    for (let k = 0; k < segs.length; k++) {
      const e = segs.ends[k];
      out.begin(s);
      splitter(cps, s, e, out);
      s = e;
    }
    [segs, out] = [out, segs];
  }
  return segs;
}
