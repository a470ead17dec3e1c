/**
 * Interned texts by id, looked up by a range of another string or by a list of char codes, without making
 * the substring: building the BPE merge table means about 560k lookups of the two halves of each
 * "left right" merge line, and slicing and hashing a fresh string for each was most of the construction time.
 */
export class TextTable {
  readonly texts: string[] = [];
  private slots: Int32Array; // id + 1; 0 = empty
  private count = 0;

  constructor(expected = 512) {
    let size = 1024;
    while (size < expected * 2) size *= 2;
    this.slots = new Int32Array(size);
  }

  /** Adds `text` under the next id, or (like Map.set) moves an existing text to it. Returns the id. */
  add(text: string): number {
    const id = this.texts.length;
    this.texts.push(text);
    if ((this.count + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    const mask = this.slots.length - 1;
    for (let i = hashRange(text, 0, text.length) & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i];
      if (slot === 0) {
        this.slots[i] = id + 1;
        this.count++;
        return id;
      }
      if (this.texts[slot - 1] === text) {
        this.slots[i] = id + 1;
        return id;
      }
    }
  }

  /** The id of s.slice(from, to), or -1. */
  findRange(s: string, from: number, to: number): number {
    const mask = this.slots.length - 1;
    const n = to - from;
    for (let i = hashRange(s, from, to) & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i];
      if (slot === 0) return -1;
      const t = this.texts[slot - 1];
      if (t.length === n && s.startsWith(t, from)) return slot - 1;
    }
  }

  /** The id of the text whose char codes are codes[0, n), or -1. */
  findCodes(codes: Uint16Array, n: number): number {
    let h = 0x811c9dc5 ^ n;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ codes[i], 0x01000193);
    const mask = this.slots.length - 1;
    for (let i = finish(h) & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i];
      if (slot === 0) return -1;
      const t = this.texts[slot - 1];
      if (t.length !== n) continue;
      let j = 0;
      while (j < n && t.charCodeAt(j) === codes[j]) j++;
      if (j === n) return slot - 1;
    }
  }

  private rehash(size: number): void {
    const old = this.slots;
    this.slots = new Int32Array(size);
    const mask = size - 1;
    for (let k = 0; k < old.length; k++) {
      const slot = old[k];
      if (slot === 0) continue;
      const t = this.texts[slot - 1];
      let i = hashRange(t, 0, t.length) & mask;
      while (this.slots[i] !== 0) i = (i + 1) & mask;
      this.slots[i] = slot;
    }
  }
}

function hashRange(s: string, from: number, to: number): number {
  let h = 0x811c9dc5 ^ (to - from);
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return finish(h);
}

function finish(h: number): number {
  h ^= h >>> 16;
  return Math.imul(h, 0x85ebca6b) ^ (h >>> 13);
}
