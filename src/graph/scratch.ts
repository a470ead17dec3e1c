/**
 * Activation buffers the forward pass reuses instead of allocating a fresh (zeroed, later collected)
 * Float32Array for every op: one layer's q, k, v, norms, attention and feed-forward outputs come from
 * an arena of slots handed out in call order, each slot kept at the largest size asked of it (a smaller
 * request gets a view of its first elements). A decode step of a 1.5B model otherwise allocates about
 * 200 arrays per token, 5% of its time at two threads (docs/engine.md, "Buffers").
 *
 * The forward pass gives layer l the arena l % 2 (RunState.arenas), so layer l's input, the previous
 * layer's output, is never overwritten while layer l reads it, and what layer l hands to a capture hook
 * stays valid until layer l + 2 starts: through the next layer's l_out. Buffers from an arena are not
 * zeroed: every op that takes one writes all of it.
 */
/** Slots over 1 MB shrink when a request needs under a quarter of them. */
const SHRINK_FLOATS = 1 << 18;

export class Arena {
  private slots: Float32Array[] = [];
  private next = 0;

  /** Hands out the slots from the first again (the previous pass's buffers are overwritten). */
  reset(): void {
    this.next = 0;
  }

  take(n: number): Float32Array {
    const i = this.next++;
    let s = this.slots[i];
    if (!s || s.length < n) {
      // grow by half again so a slot that follows the context (kq_softmax) reallocates rarely
      s = new Float32Array(s ? Math.max(n, Math.ceil(s.length * 1.5)) : n);
      this.slots[i] = s;
    } else if (s.length > 4 * n && s.length > SHRINK_FLOATS) {
      // a long prompt's buffers are not held through the decode steps after it
      s = new Float32Array(n);
      this.slots[i] = s;
    }
    return s.length === n ? s : s.subarray(0, n);
  }
}

let active: Arena | null = null;

/** n floats for an op's output: from the active arena inside withArena, else a fresh array. */
export function scratch(n: number): Float32Array {
  return active ? active.take(n) : new Float32Array(n);
}

/** Runs f with `arena` (reset first) as the source of scratch(); null: fresh arrays. */
export function withArena<T>(arena: Arena | null, f: () => T): T {
  const prev = active;
  active = arena;
  arena?.reset();
  try {
    return f();
  } finally {
    active = prev;
  }
}
