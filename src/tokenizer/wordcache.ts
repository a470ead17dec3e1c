/**
 * BPE results per pre-tokenized word, keyed by the word's code points. A megabyte of text is a few hundred
 * thousand words but only some ten thousand distinct ones; hashing code points straight from the text buffer
 * avoids making (and hashing) a JS string per word. Everything lives in typed arrays: no garbage.
 */
const MAX_ENTRIES = 200_000;

export class WordCache {
  private slots: Int32Array<ArrayBuffer> = new Int32Array(1 << 16); // entry index + 1; 0 = empty
  private keyStart: Int32Array<ArrayBuffer> = new Int32Array(1 << 15);
  private keyLen: Int32Array<ArrayBuffer> = new Int32Array(1 << 15);
  private valStart: Int32Array<ArrayBuffer> = new Int32Array(1 << 15);
  private valLen: Int32Array<ArrayBuffer> = new Int32Array(1 << 15);
  private hashes: Int32Array<ArrayBuffer> = new Int32Array(1 << 15);
  private keys: Int32Array<ArrayBuffer> = new Int32Array(1 << 18);
  private vals: Int32Array<ArrayBuffer> = new Int32Array(1 << 17);
  private nEntries = 0;
  private nKeys = 0;
  private nVals = 0;

  static hash(cps: Int32Array, s: number, e: number): number {
    let h = 0x811c9dc5 ^ (e - s);
    for (let i = s; i < e; i++) h = Math.imul(h ^ cps[i], 0x01000193);
    h ^= h >>> 16;
    return Math.imul(h, 0x85ebca6b);
  }

  /** The entry of word cps[s, e) with hash h, or -1. */
  find(cps: Int32Array, s: number, e: number, h: number): number {
    const mask = this.slots.length - 1;
    const len = e - s;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i];
      if (slot === 0) return -1;
      const k = slot - 1;
      if (this.hashes[k] !== h || this.keyLen[k] !== len) continue;
      const ks = this.keyStart[k];
      let j = 0;
      while (j < len && this.keys[ks + j] === cps[s + j]) j++;
      if (j === len) return k;
    }
  }

  /** Appends the ids of entry k to out. */
  emit(k: number, out: number[]): void {
    const { vals } = this;
    for (let i = this.valStart[k], end = i + this.valLen[k]; i < end; i++) out.push(vals[i]);
  }

  /** Stores word cps[s, e) (hash h) -> ids[0, n). */
  add(cps: Int32Array, s: number, e: number, h: number, ids: ArrayLike<number>, n: number): void {
    if (this.nEntries >= MAX_ENTRIES) this.clear();
    if ((this.nEntries + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    if (this.nEntries === this.keyStart.length) this.growEntries();
    const len = e - s;
    this.keys = ensure(this.keys, this.nKeys + len);
    this.vals = ensure(this.vals, this.nVals + n);
    const k = this.nEntries++;
    this.hashes[k] = h;
    this.keyStart[k] = this.nKeys;
    this.keyLen[k] = len;
    this.keys.set(cps.subarray(s, e), this.nKeys);
    this.nKeys += len;
    this.valStart[k] = this.nVals;
    this.valLen[k] = n;
    for (let i = 0; i < n; i++) this.vals[this.nVals + i] = ids[i];
    this.nVals += n;
    this.place(k);
  }

  private place(k: number): void {
    const mask = this.slots.length - 1;
    let i = this.hashes[k] & mask;
    while (this.slots[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = k + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let k = 0; k < this.nEntries; k++) this.place(k);
  }

  private growEntries(): void {
    const n = this.keyStart.length * 2;
    this.keyStart = ensure(this.keyStart, n);
    this.keyLen = ensure(this.keyLen, n);
    this.valStart = ensure(this.valStart, n);
    this.valLen = ensure(this.valLen, n);
    this.hashes = ensure(this.hashes, n);
  }

  private clear(): void {
    this.slots.fill(0);
    this.nEntries = this.nKeys = this.nVals = 0;
  }
}

function ensure(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const b = new Int32Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}
