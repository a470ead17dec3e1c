/**
 * A binary min-heap of candidate merges (left, right, size) ordered by (priority, left): the order of
 * llama.cpp's std::priority_queue comparators, where ties on score/rank go to the leftmost pair.
 * Struct-of-arrays so that a 1 MB prompt does not allocate millions of objects.
 */
export class MergeHeap {
  private prio = new Float64Array(256);
  private left = new Int32Array(256);
  private right = new Int32Array(256);
  private size = new Int32Array(256);
  length = 0;

  clear(): void {
    this.length = 0;
  }

  push(prio: number, left: number, right: number, size: number): void {
    if (this.length === this.prio.length) this.grow();
    let i = this.length++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(prio, left, parent)) break;
      this.move(parent, i);
      i = parent;
    }
    this.prio[i] = prio;
    this.left[i] = left;
    this.right[i] = right;
    this.size[i] = size;
  }

  /** Priority of the top entry (the heap must not be empty). */
  top(): number {
    return this.prio[0];
  }

  /** Pops the top into `out` ([left, right, size]). */
  pop(out: Int32Array): void {
    out[0] = this.left[0];
    out[1] = this.right[0];
    out[2] = this.size[0];
    const last = --this.length;
    if (last === 0) return;
    const p = this.prio[last], l = this.left[last], r = this.right[last], s = this.size[last];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && this.beforeIdx(child + 1, child)) child++;
      if (!this.before(this.prio[child], this.left[child], -1, p, l)) break;
      this.move(child, i);
      i = child;
    }
    this.prio[i] = p;
    this.left[i] = l;
    this.right[i] = r;
    this.size[i] = s;
  }

  /** Whether (prio, left) comes before the entry at idx (or before (p2, l2) when idx < 0). */
  private before(prio: number, left: number, idx: number, p2?: number, l2?: number): boolean {
    const op = idx >= 0 ? this.prio[idx] : p2!;
    const ol = idx >= 0 ? this.left[idx] : l2!;
    return prio < op || (prio === op && left < ol);
  }

  private beforeIdx(a: number, b: number): boolean {
    return this.prio[a] < this.prio[b] || (this.prio[a] === this.prio[b] && this.left[a] < this.left[b]);
  }

  private move(from: number, to: number): void {
    this.prio[to] = this.prio[from];
    this.left[to] = this.left[from];
    this.right[to] = this.right[from];
    this.size[to] = this.size[from];
  }

  private grow(): void {
    const n = this.prio.length * 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.prio = grow(this.prio, (k) => new Float64Array(k));
    this.left = grow(this.left, (k) => new Int32Array(k));
    this.right = grow(this.right, (k) => new Int32Array(k));
    this.size = grow(this.size, (k) => new Int32Array(k));
  }
}
