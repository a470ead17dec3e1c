/**
 * SentencePiece-style BPE as llama.cpp's llm_tokenizer_spm_session: start from single code points, repeatedly
 * merge the adjacent pair whose concatenation is the highest-scoring vocabulary token (ties: leftmost), then
 * emit each symbol's token, or its UTF-8 bytes as <0xXX> byte tokens when it is not in the vocabulary.
 *
 * Symbols are ids, not strings: a symbol is the token id of its text, or nTokens + cp for a single code point
 * that is not a token. Every merged symbol is a token, so "is left+right a token?" is a lookup of the id pair
 * in a table built once from the vocabulary (every split of every token text into two symbols). Lengths are
 * in code points; llama.cpp counts bytes, but both only serve to detect stale queue entries, where any merge
 * strictly grows a length in either unit.
 *
 * One priority queue over a whole megabyte is slow (cache misses on every sift). But a merge result is always
 * a token, so no merge ever joins two adjacent code points that are not adjacent inside some token's text.
 * Cutting the text at those points gives chunks that evolve independently, and merging each with its own
 * small queue is exactly the same as one global queue.
 */
import { MergeHeap } from "./heap.js";
import { PairMap } from "./pairmap.js";

export interface SpmVocab {
  tokenToId: Map<string, number>;
  scores: Float64Array;
  /** Token of a raw byte (<0xXX>, else the single-byte string), or -1. */
  byteToken(byte: number): number;
}

const ESCAPED_SPACE = 0x2581; // "▁"

export class SpmSession {
  private cps = new Int32Array(1024);
  private sym = new Int32Array(1024);
  private len = new Int32Array(1024);
  private prev = new Int32Array(1024);
  private next = new Int32Array(1024);
  private heap = new MergeHeap();
  private popped = new Int32Array(3);
  private readonly nTokens: number;
  /** (left symbol, right symbol) -> token id of their concatenation. */
  private readonly pairs: PairMap;
  /** Symbol of a single code point, plus one (0: not looked up yet). */
  private readonly cpSym = new Int32Array(0x110000);
  private readonly byteTok = new Int32Array(256);
  /** Adjacent code point pairs that occur inside some token's text (value 1). */
  private readonly inner = new PairMap(1 << 16);

  constructor(private readonly vocab: SpmVocab) {
    this.nTokens = vocab.scores.length;
    this.pairs = new PairMap(vocab.tokenToId.size * 4);
    for (let b = 0; b < 256; b++) this.byteTok[b] = vocab.byteToken(b);
    for (const [text, id] of vocab.tokenToId) this.addSplits(text, id);
  }

  /** Records every way `text` (token `id`) is the concatenation of two symbols. */
  private addSplits(text: string, id: number): void {
    let last = -1;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (last >= 0) this.inner.setIfAbsent(last, cp, 1);
      last = cp;
    }
    for (let i = 1; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0xdc00 && c <= 0xdfff && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800) continue; // inside a pair
      const a = this.textSym(text.slice(0, i));
      if (a < 0) continue;
      const b = this.textSym(text.slice(i));
      if (b >= 0) this.pairs.setIfAbsent(a, b, id);
    }
  }

  private textSym(s: string): number {
    const id = this.vocab.tokenToId.get(s);
    if (id !== undefined) return id;
    const cp = s.codePointAt(0)!;
    return s.length === (cp > 0xffff ? 2 : 1) ? this.nTokens + cp : -1;
  }

  private cpSymbol(cp: number): number {
    const s = this.cpSym[cp];
    if (s !== 0) return s - 1;
    const sym = this.textSym(String.fromCodePoint(cp));
    this.cpSym[cp] = sym + 1;
    return sym;
  }

  /** Tokenizes `text` with spaces escaped as "▁" (and one put in front when `spacePrefix`). */
  tokenize(text: string, spacePrefix: boolean, out: number[]): void {
    const n = this.splitSymbols(text, spacePrefix);
    const { cps, inner } = this;
    let s = 0;
    for (let k = 1; k <= n; k++) {
      if (k < n && inner.get(cps[k - 1], cps[k]) >= 0) continue;
      if (k - s === 1) this.emit(this.sym[s], out);
      else {
        this.mergeChunk(s, k);
        for (let i = s; i !== -1; i = this.next[i]) this.emit(this.sym[i], out);
      }
      s = k;
    }
  }

  /** llama.cpp's merge loop over symbols [s, e). */
  private mergeChunk(s: number, e: number): void {
    const { sym, len, prev, next, heap, popped, pairs } = this;
    for (let k = s; k < e; k++) {
      len[k] = 1;
      prev[k] = k === s ? -1 : k - 1;
      next[k] = k + 1 === e ? -1 : k + 1;
    }
    heap.clear();
    for (let i = s + 1; i < e; i++) this.tryAdd(i - 1, i);
    while (heap.length > 0) {
      heap.pop(popped);
      const l = popped[0], r = popped[1];
      // a stale candidate: one side was merged since it was queued
      if (len[l] === 0 || len[r] === 0 || len[l] + len[r] !== popped[2]) continue;
      sym[l] = pairs.get(sym[l], sym[r]);
      len[l] += len[r];
      len[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      this.tryAdd(prev[l], l);
      this.tryAdd(l, next[l]);
    }
  }

  private tryAdd(l: number, r: number): void {
    if (l < 0 || r < 0) return;
    const id = this.pairs.get(this.sym[l], this.sym[r]);
    if (id >= 0) this.heap.push(-this.vocab.scores[id], l, r, this.len[l] + this.len[r]);
  }

  private emit(s: number, out: number[]): void {
    if (s < this.nTokens) {
      out.push(s);
      return;
    }
    // a code point that is not a token: its UTF-8 bytes
    const cp = s - this.nTokens;
    const push = (b: number) => {
      const t = this.byteTok[b];
      if (t >= 0) out.push(t);
    };
    if (cp < 0x80) push(cp);
    else if (cp < 0x800) {
      push(0xc0 | (cp >> 6));
      push(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      push(0xe0 | (cp >> 12));
      push(0x80 | ((cp >> 6) & 0x3f));
      push(0x80 | (cp & 0x3f));
    } else {
      push(0xf0 | (cp >> 18));
      push(0x80 | ((cp >> 12) & 0x3f));
      push(0x80 | ((cp >> 6) & 0x3f));
      push(0x80 | (cp & 0x3f));
    }
  }

  private splitSymbols(text: string, spacePrefix: boolean): number {
    if (text.length + 1 > this.sym.length) {
      const cap = text.length * 2 + 1;
      this.cps = new Int32Array(cap);
      this.sym = new Int32Array(cap);
      this.len = new Int32Array(cap);
      this.prev = new Int32Array(cap);
      this.next = new Int32Array(cap);
    }
    const { cps, sym } = this;
    let n = 0;
    if (spacePrefix) {
      cps[n] = ESCAPED_SPACE;
      sym[n++] = this.cpSymbol(ESCAPED_SPACE);
    }
    for (let i = 0; i < text.length; ) {
      let cp = text.charCodeAt(i++);
      if (cp >= 0xd800 && cp <= 0xdbff && i < text.length) {
        const lo = text.charCodeAt(i);
        if ((lo & 0xfc00) === 0xdc00) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i++;
        }
      } else if (cp === 0x20) cp = ESCAPED_SPACE;
      cps[n] = cp;
      sym[n++] = this.cpSymbol(cp);
    }
    return n;
  }
}
