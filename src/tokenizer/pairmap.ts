/**
 * An open-addressing hash map from a pair of non-negative int32 symbol ids to an int32 value. The merge loops
 * ask "what do these two adjacent symbols merge into?" about a million times per megabyte of text; keyed by
 * ids in typed arrays, that costs no string slicing, no string hashing and no garbage.
 */
export class PairMap {
  private keyA: Int32Array;
  private keyB: Int32Array;
  private vals: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.vals = new Int32Array(cap);
  }

  private slot(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ 0x5bd1e995, 0x85ebca77);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** The value stored for (a, b), or -1. */
  get(a: number, b: number): number {
    const { keyA, keyB, mask } = this;
    for (let i = this.slot(a, b); ; i = (i + 1) & mask) {
      const k = keyA[i];
      if (k === -1) return -1;
      if (k === a && keyB[i] === b) return this.vals[i];
    }
  }

  /** Stores (a, b) -> v unless (a, b) is already present (the first insertion wins). */
  setIfAbsent(a: number, b: number, v: number): void {
    if ((this.size + 1) * 2 > this.keyA.length) this.grow();
    const { keyA, keyB, mask } = this;
    for (let i = this.slot(a, b); ; i = (i + 1) & mask) {
      const k = keyA[i];
      if (k === -1) {
        keyA[i] = a;
        keyB[i] = b;
        this.vals[i] = v;
        this.size++;
        return;
      }
      if (k === a && keyB[i] === b) return;
    }
  }

  private grow(): void {
    const { keyA, keyB, vals } = this;
    const cap = keyA.length * 2;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.vals = new Int32Array(cap);
    this.size = 0;
    for (let i = 0; i < keyA.length; i++) if (keyA[i] !== -1) this.setIfAbsent(keyA[i], keyB[i], vals[i]);
  }
}
