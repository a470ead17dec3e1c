/**
 * SentencePiece-style BPE as llama.cpp's llm_tokenizer_spm_session: start from single code points, repeatedly
 * merge the adjacent pair whose concatenation is the highest-scoring vocabulary token (ties: leftmost), then
 * emit each symbol's token, or its UTF-8 bytes as <0xXX> byte tokens when it is not in the vocabulary.
 *
 * Works on UTF-16 offsets of the (already ▁-escaped) JS string; since symbols are whole code points and merged
 * text is contiguous, this is the same as llama.cpp working on UTF-8 bytes.
 */
import { MergeHeap } from "./heap.js";
import { utf8Encode } from "./unicode.js";

export interface SpmVocab {
  tokenToId: Map<string, number>;
  scores: Float64Array;
  /** Token of a raw byte (<0xXX>, else the single-byte string), or -1. */
  byteToken(byte: number): number;
}

export class SpmSession {
  private start = new Int32Array(1024);
  private len = new Int32Array(1024);
  private prev = new Int32Array(1024);
  private next = new Int32Array(1024);
  private heap = new MergeHeap();
  private popped = new Int32Array(3);

  constructor(private readonly vocab: SpmVocab) {}

  tokenize(text: string, out: number[]): void {
    const n = this.splitSymbols(text);
    if (n === 0) return;
    const { len, prev, next, heap, popped } = this;
    heap.clear();
    for (let i = 1; i < n; i++) this.tryAddBigram(text, i - 1, i);
    while (heap.length > 0) {
      heap.pop(popped);
      const l = popped[0], r = popped[1];
      // a stale candidate: one side was merged since it was queued
      if (len[l] === 0 || len[r] === 0 || len[l] + len[r] !== popped[2]) continue;
      len[l] += len[r];
      len[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      this.tryAddBigram(text, prev[l], l);
      this.tryAddBigram(text, l, next[l]);
    }
    for (let i = 0; i !== -1; i = next[i]) this.emit(text.slice(this.start[i], this.start[i] + len[i]), out);
  }

  private emit(piece: string, out: number[]): void {
    const id = this.vocab.tokenToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    for (const b of utf8Encode(piece)) {
      const t = this.vocab.byteToken(b);
      if (t >= 0) out.push(t);
    }
  }

  private tryAddBigram(text: string, l: number, r: number): void {
    if (l < 0 || r < 0) return;
    const size = this.len[l] + this.len[r];
    const s = this.start[l];
    const id = this.vocab.tokenToId.get(text.slice(s, s + size));
    if (id === undefined) return;
    this.heap.push(-this.vocab.scores[id], l, r, size);
  }

  private splitSymbols(text: string): number {
    if (text.length > this.start.length) {
      const cap = text.length * 2;
      this.start = new Int32Array(cap);
      this.len = new Int32Array(cap);
      this.prev = new Int32Array(cap);
      this.next = new Int32Array(cap);
    }
    let n = 0;
    for (let i = 0; i < text.length; ) {
      const c = text.charCodeAt(i);
      const w = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
      this.start[n] = i;
      this.len[n] = w;
      this.prev[n] = n - 1;
      i += w;
      this.next[n] = i === text.length ? -1 : n + 1;
      n++;
    }
    return n;
  }
}
