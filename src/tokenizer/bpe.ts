/**
 * Byte-level BPE as llama.cpp's llm_tokenizer_bpe_session: pre-split the text into words, byte-encode each
 * word (GPT-2 byte -> char table), then within a word repeatedly merge the adjacent pair with the lowest merge
 * rank (ties: leftmost). A finished symbol that is not a token falls back to its single-byte ASCII tokens.
 * Results are cached per word: the same word always gives the same ids.
 */
import { MergeHeap } from "./heap.js";
import { preSplit, PRE_SPLITTERS, type PreTokenizerInfo } from "./pretokenize.js";
import { byteEncode } from "./unicode.js";

export interface BpeVocab {
  tokenToId: Map<string, number>;
  /** "left right" -> rank (first occurrence wins, as llama.cpp's bpe_ranks.emplace). */
  ranks: Map<string, number>;
}

const CACHE_LIMIT = 200_000;

export class BpeSession {
  private start = new Int32Array(256);
  private len = new Int32Array(256);
  private prev = new Int32Array(256);
  private next = new Int32Array(256);
  private heap = new MergeHeap();
  private popped = new Int32Array(3);
  private cache = new Map<string, number[]>();

  constructor(
    private readonly vocab: BpeVocab,
    private readonly pre: PreTokenizerInfo,
  ) {}

  tokenize(text: string, out: number[]): void {
    for (const word of preSplit(text, PRE_SPLITTERS[this.pre.family])) {
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = [];
        this.tokenizeWord(byteEncode(word), ids);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  private tokenizeWord(word: string, out: number[]): void {
    const direct = this.pre.ignoreMerges ? this.vocab.tokenToId.get(word) : undefined;
    if (direct !== undefined) {
      out.push(direct);
      return;
    }
    // byte-encoded chars are all in the BMP: one symbol per UTF-16 unit
    const n = word.length;
    this.ensure(n);
    const { start, len, prev, next, heap, popped } = this;
    const tokenToId = this.vocab.tokenToId;
    for (let i = 0; i < n; i++) {
      start[i] = i;
      len[i] = 1;
      prev[i] = i - 1;
      next[i] = i + 1 === n ? -1 : i + 1;
    }
    heap.clear();
    for (let i = 1; i < n; i++) this.addBigram(word, i - 1, i);
    while (heap.length > 0) {
      heap.pop(popped);
      const l = popped[0], r = popped[1];
      if (len[l] === 0 || len[r] === 0 || len[l] + len[r] !== popped[2]) continue;
      len[l] += len[r];
      len[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      this.addBigram(word, prev[l], l);
      this.addBigram(word, l, next[l]);
    }
    for (let i = 0; i < n; i++) {
      if (len[i] === 0) continue;
      const piece = word.slice(start[i], start[i] + len[i]);
      const id = tokenToId.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // llama.cpp looks up each UTF-8 byte of the encoded piece alone: only ASCII bytes can match
      for (let k = 0; k < piece.length; k++) {
        if (piece.charCodeAt(k) >= 0x80) continue;
        const b = this.vocab.tokenToId.get(piece[k]);
        if (b !== undefined) out.push(b);
      }
    }
  }

  private addBigram(word: string, l: number, r: number): void {
    if (l < 0 || r < 0) return;
    const s = this.start[l];
    const rank = this.vocab.ranks.get(word.slice(s, s + this.len[l]) + " " + word.slice(this.start[r], this.start[r] + this.len[r]));
    if (rank === undefined) return;
    this.heap.push(rank, l, r, this.len[l] + this.len[r]);
  }

  private ensure(n: number): void {
    if (n <= this.start.length) return;
    const cap = n * 2;
    this.start = new Int32Array(cap);
    this.len = new Int32Array(cap);
    this.prev = new Int32Array(cap);
    this.next = new Int32Array(cap);
  }
}
