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

/** Splits one segment into words. `cps` are its code points, `offs[i]` the UTF-16 index of code point i. */
type SegmentSplitter = (text: string, cps: Int32Array, offs: Int32Array, n: number, out: string[]) => void;

const OOR = -1;
const CR = 0x0d;
const LF = 0x0a;
const APOS = 0x27;
const SPACE = 0x20;
const WLN = CPT_WHITESPACE | CPT_LETTER | CPT_NUMBER;

function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

/** Length of a contraction ('s 't 'm 'd 're 've 'll) starting at pos, or 0. */
function contraction(cps: Int32Array, pos: number, n: number, caseInsensitive: boolean): number {
  if (cps[pos] !== APOS || pos + 1 >= n) return 0;
  const lc = caseInsensitive ? lowerAscii : (c: number) => c;
  const a = lc(cps[pos + 1]);
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 < n) {
    const b = lc(cps[pos + 2]);
    if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3; // re ve ll
  }
  return 0;
}

/** GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
const splitGpt2: SegmentSplitter = (text, cps, offs, n, out) => {
  const fl = (p: number) => (p < n ? cptFlags(cps[p]) : 0);
  let prev = 0;
  const add = (end: number) => {
    if (end > prev) out.push(text.slice(offs[prev], offs[end]));
    prev = end;
  };
  let pos = 0;
  while (pos < n) {
    const cpt = cps[pos];
    const flags = cptFlags(cpt);
    const c = contraction(cps, pos, n, false);
    if (c > 0) {
      pos += c;
      add(pos);
      continue;
    }
    let flags2 = cpt === SPACE ? fl(pos + 1) : flags;
    const cls = flags2 & CPT_LETTER ? CPT_LETTER : flags2 & CPT_NUMBER ? CPT_NUMBER : 0;
    if (cls !== 0) {
      if (cpt === SPACE) pos++;
      while (flags2 & cls) flags2 = fl(++pos);
      add(pos);
      continue;
    }
    if (!(flags2 & WLN) && flags2) {
      if (cpt === SPACE) pos++;
      while (!(flags2 & WLN) && flags2) flags2 = fl(++pos);
      add(pos);
      continue;
    }
    let nws = 0;
    while (fl(pos + nws) & CPT_WHITESPACE) nws++;
    if (nws > 1 && pos + nws < n) pos += nws - 1;
    else if (nws > 0) pos += nws;
    else pos++;
    add(pos);
  }
};

/**
 * Llama 3 and Qwen2 (they differ only in \p{N}{1,3} vs \p{N}):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 */
function makeLlama3Splitter(maxDigits: number): SegmentSplitter {
  return (text, cps, offs, n, out) => {
    const fl = (p: number) => (p < n ? cptFlags(cps[p]) : 0);
    const get = (p: number) => (p < n ? cps[p] : OOR);
    let prev = 0;
    const add = (end: number) => {
      if (end > prev) out.push(text.slice(offs[prev], offs[end]));
      prev = end;
    };
    let pos = 0;
    while (pos < n) {
      const cpt = cps[pos];
      const flags = cptFlags(cpt);
      const c = contraction(cps, pos, n, true);
      if (c > 0) {
        pos += c;
        add(pos);
        continue;
      }
      if (!(cpt === CR || cpt === LF || flags & CPT_NUMBER) && (flags & CPT_LETTER || fl(pos + 1) & CPT_LETTER)) {
        pos++;
        while (fl(pos) & CPT_LETTER) pos++;
        add(pos);
        continue;
      }
      if (flags & CPT_NUMBER) {
        let ini = pos;
        while (fl(pos) & CPT_NUMBER) {
          if (++pos - ini >= maxDigits) {
            add(pos);
            ini = pos;
          }
        }
        add(pos);
        continue;
      }
      let flags2 = cpt === SPACE ? fl(pos + 1) : flags;
      if (!(flags2 & WLN) && flags) {
        if (cpt === SPACE) pos++;
        while (!(flags2 & WLN) && flags2) flags2 = fl(++pos);
        let cpt2 = get(pos);
        while (cpt2 === CR || cpt2 === LF) cpt2 = get(++pos);
        add(pos);
        continue;
      }
      let nws = 0;
      let lastRN = 0;
      while (fl(pos + nws) & CPT_WHITESPACE) {
        const cpt2 = cps[pos + nws];
        if (cpt2 === CR || cpt2 === LF) lastRN = pos + nws + 1;
        nws++;
      }
      if (lastRN > 0) pos = lastRN;
      else if (nws > 1 && pos + nws < n) pos += nws - 1;
      else if (nws > 0) pos += nws;
      else pos++;
      add(pos);
    }
  };
}

/** `\p{N}` through llama.cpp's generic regex path: every number code point becomes its own word. */
const splitEachDigit: SegmentSplitter = (text, cps, offs, n, out) => {
  let prev = 0;
  for (let i = 0; i < n; i++) {
    if (cptFlags(cps[i]) & CPT_NUMBER) {
      if (i > prev) out.push(text.slice(offs[prev], offs[i]));
      out.push(text.slice(offs[i], offs[i + 1]));
      prev = i + 1;
    }
  }
  if (n > prev) out.push(text.slice(offs[prev], offs[n]));
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

let cpBuf = new Int32Array(1024);
let offBuf = new Int32Array(1025);

/** Splits text into words with the given chain of splitters. */
export function preSplit(text: string, chain: SegmentSplitter[]): string[] {
  let segments = [text];
  for (const splitter of chain) {
    const out: string[] = [];
    for (const seg of segments) splitSegment(seg, splitter, out);
    segments = out;
  }
  return segments;
}

function splitSegment(seg: string, splitter: SegmentSplitter, out: string[]): void {
  if (seg.length + 1 > offBuf.length) {
    cpBuf = new Int32Array(seg.length * 2);
    offBuf = new Int32Array(seg.length * 2 + 1);
  }
  let n = 0;
  for (let i = 0; i < seg.length; ) {
    const cp = seg.codePointAt(i)!;
    offBuf[n] = i;
    cpBuf[n++] = cp;
    i += cp > 0xffff ? 2 : 1;
  }
  offBuf[n] = seg.length;
  splitter(seg, cpBuf, offBuf, n, out);
}
