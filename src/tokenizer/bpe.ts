/**
 * Byte-level BPE as llama.cpp's llm_tokenizer_bpe_session: pre-split the text into words, byte-encode each
 * word (GPT-2 byte -> char table), then within a word repeatedly merge the adjacent pair with the lowest merge
 * rank (ties: leftmost). A finished symbol that is not a token falls back to its single-byte ASCII tokens.
 * Results are cached per word (src/tokenizer/wordcache.ts): the same word always gives the same ids.
 *
 * Symbols are ids of interned texts: a token's text has its token id, any other text met in the merges gets an
 * id past the vocabulary. Merges become (left id, right id) -> rank, and rank -> id of the merged text, so the
 * merge loop never builds or hashes a string.
 */
import { MergeHeap } from "./heap.js";
import { PairMap } from "./pairmap.js";
import { PRE_SPLITTERS, splitWords, WordEnds, type PreTokenizerInfo } from "./pretokenize.js";
import { BYTE_TO_CHAR } from "./unicode.js";
import { TextTable } from "./texttable.js";
import { WordCache } from "./wordcache.js";

const BYTE_TO_CHAR_CODE = Uint16Array.from(BYTE_TO_CHAR, (c) => c.charCodeAt(0));

export interface BpeVocab {
  tokenToId: Map<string, number>;
  readonly tokens: readonly string[];
  /** `tokenizer.ggml.merges`: "left right", rank = index; the first rank of a pair wins (bpe_ranks.emplace). */
  readonly merges: readonly string[];
}

export class BpeSession {
  // roomy from the start: replacing an array field later deoptimizes the code that read it
  private bytes = new Uint8Array(4096);
  private sym = new Int32Array(4096);
  private start = new Int32Array(4096);
  private len = new Int32Array(4096);
  private prev = new Int32Array(4096);
  private next = new Int32Array(4096);
  private heap = new MergeHeap();
  private popped = new Int32Array(3);
  private cps = new Int32Array(1024);
  private endsA = new WordEnds();
  private endsB = new WordEnds();
  private cache = new WordCache();
  private wordIds: number[] = [];
  private readonly nTokens: number;
  /** (left symbol, right symbol) -> merge rank. */
  private readonly ranks: PairMap;
  /** Merge rank -> symbol of the merged text (-1: not needed yet). */
  private readonly mergedSym: Int32Array;
  /** Text of every symbol: the tokens, then texts met in the merges that are not tokens. */
  private readonly texts: TextTable;
  private codes = new Uint16Array(4096);
  /** Symbol of each single byte (its GPT-2 char). */
  private readonly byteSym = new Int32Array(256);
  /** Token of each byte char below 0x80, the only ones llama.cpp's byte fallback can find; else -1. */
  private readonly asciiTok = new Int32Array(128);

  constructor(
    private readonly vocab: BpeVocab,
    private readonly pre: PreTokenizerInfo,
  ) {
    this.nTokens = vocab.tokens.length;
    const merges = vocab.merges;
    this.texts = new TextTable(this.nTokens + merges.length / 4);
    for (const t of vocab.tokens) this.texts.add(t);
    for (let b = 0; b < 256; b++) this.byteSym[b] = this.intern(BYTE_TO_CHAR[b], 0, 1);
    for (let c = 0; c < 128; c++) this.asciiTok[c] = vocab.tokenToId.get(String.fromCharCode(c)) ?? -1;
    this.ranks = new PairMap(merges.length);
    this.mergedSym = new Int32Array(merges.length).fill(-1);
    for (let i = 0; i < merges.length; i++) {
      const m = merges[i];
      const pos = m.indexOf(" ", 1);
      // llama.cpp keys a merge without a space as ("", ""): no symbol is empty, so it never applies
      if (pos < 0 || pos === m.length - 1) continue;
      this.ranks.setIfAbsent(this.intern(m, 0, pos), this.intern(m, pos + 1, m.length), i);
    }
  }

  /**
   * The symbol of s.slice(from, to): its token id (the last id with that text, as llama.cpp's token_to_id),
   * or an id past the vocabulary for a text that is not a token.
   */
  private intern(s: string, from: number, to: number): number {
    const id = this.texts.findRange(s, from, to);
    return id >= 0 ? id : this.texts.add(s.slice(from, to));
  }

  /** The symbol two symbols merge into under merge `rank`, interned the first time that merge is used. */
  private merged(rank: number, a: number, b: number): number {
    let m = this.mergedSym[rank];
    if (m < 0) {
      const text = this.texts.texts[a] + this.texts.texts[b];
      m = this.mergedSym[rank] = this.intern(text, 0, text.length);
    }
    return m;
  }

  tokenize(text: string, out: number[]): void {
    const n = this.codePoints(text);
    const { cps, cache, wordIds } = this;
    const ends = splitWords(cps, n, PRE_SPLITTERS[this.pre.family], this.endsA, this.endsB);
    let s = 0;
    for (let w = 0; w < ends.length; w++) {
      const e = ends.ends[w];
      const h = WordCache.hash(cps, s, e);
      const k = cache.find(cps, s, e, h);
      if (k >= 0) cache.emit(k, out);
      else {
        wordIds.length = 0;
        this.tokenizeWord(s, e, wordIds);
        cache.add(cps, s, e, h, wordIds, wordIds.length);
        for (let i = 0; i < wordIds.length; i++) out.push(wordIds[i]);
      }
      s = e;
    }
  }

  /** Code points of text into this.cps; returns the count. */
  private codePoints(text: string): number {
    if (text.length > this.cps.length) this.cps = new Int32Array(text.length * 2);
    const cps = this.cps;
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const lo = text.charCodeAt(i + 1);
        if ((lo & 0xfc00) === 0xdc00) {
          cps[n++] = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          i++;
          continue;
        }
      }
      cps[n++] = c;
    }
    return n;
  }

  /** BPE of the word this.cps[s, e). */
  private tokenizeWord(s: number, e: number, out: number[]): void {
    const n = this.utf8(s, e);
    if (this.pre.ignoreMerges) {
      // a word that is a token as a whole is emitted as it is
      const codes = this.codes;
      for (let i = 0; i < n; i++) codes[i] = BYTE_TO_CHAR_CODE[this.bytes[i]];
      const direct = this.texts.findCodes(codes, n);
      if (direct >= 0 && direct < this.nTokens) {
        out.push(direct);
        return;
      }
    }
    const { sym, start, len, prev, next, heap, popped } = this;
    for (let i = 0; i < n; i++) {
      sym[i] = this.byteSym[this.bytes[i]];
      start[i] = i;
      len[i] = 1;
      prev[i] = i - 1;
      next[i] = i + 1 === n ? -1 : i + 1;
    }
    heap.clear();
    for (let i = 1; i < n; i++) this.tryAdd(i - 1, i);
    while (heap.length > 0) {
      const rank = heap.top();
      heap.pop(popped);
      const l = popped[0], r = popped[1];
      if (len[l] === 0 || len[r] === 0 || len[l] + len[r] !== popped[2]) continue;
      sym[l] = this.merged(rank, sym[l], sym[r]);
      len[l] += len[r];
      len[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      this.tryAdd(prev[l], l);
      this.tryAdd(l, next[l]);
    }
    for (let i = 0; i < n; i++) {
      if (len[i] === 0) continue;
      if (sym[i] < this.nTokens) {
        out.push(sym[i]);
        continue;
      }
      // llama.cpp looks up each UTF-8 byte of the encoded piece alone: only ASCII chars can match
      for (let k = start[i]; k < start[i] + len[i]; k++) {
        const c = BYTE_TO_CHAR[this.bytes[k]].charCodeAt(0);
        if (c < 0x80 && this.asciiTok[c] >= 0) out.push(this.asciiTok[c]);
      }
    }
  }

  private tryAdd(l: number, r: number): void {
    if (l < 0 || r < 0) return;
    const rank = this.ranks.get(this.sym[l], this.sym[r]);
    if (rank >= 0) this.heap.push(rank, l, r, this.len[l] + this.len[r]);
  }

  /** UTF-8 bytes of code points cps[s, e) into this.bytes; returns the count. */
  private utf8(s: number, e: number): number {
    this.ensure((e - s) * 4);
    const { bytes: b, cps } = this;
    let n = 0;
    for (let i = s; i < e; i++) {
      const c = cps[i];
      if (c < 0x80) b[n++] = c;
      else if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
        b[n++] = 0x80 | (c & 0x3f);
      } else if (c < 0x10000) {
        b[n++] = 0xe0 | (c >> 12); // lone surrogates were replaced by U+FFFD before tokenizing
        b[n++] = 0x80 | ((c >> 6) & 0x3f);
        b[n++] = 0x80 | (c & 0x3f);
      } else {
        b[n++] = 0xf0 | (c >> 18);
        b[n++] = 0x80 | ((c >> 12) & 0x3f);
        b[n++] = 0x80 | ((c >> 6) & 0x3f);
        b[n++] = 0x80 | (c & 0x3f);
      }
    }
    return n;
  }

  private ensure(n: number): void {
    if (n <= this.sym.length) return;
    const cap = n * 2;
    this.bytes = new Uint8Array(cap);
    this.codes = new Uint16Array(cap);
    this.sym = new Int32Array(cap);
    this.start = new Int32Array(cap);
    this.len = new Int32Array(cap);
    this.prev = new Int32Array(cap);
    this.next = new Int32Array(cap);
  }
}
