/**
 * Value-level signature tests for one pair of weight tensors (row-major [out, in] f32): plain SQNR and
 * cosine, transposition by value (cos(W_A, W_B^T) vs cos(W_A, W_B)), Q/K rows permuted within heads
 * (GGUF's adjacent-pair order vs Hugging Face's split-half order), a one-row shift, and where in the
 * quant blocks two same-type byte images differ (scales/mins vs quants).
 */
import type { DiffFn } from "./metrics.js";

export interface ValueCmp {
  sqnrDb: number;
  cosine: number;
}

export function valueCmp(a: Float32Array, b: Float32Array, diff: DiffFn): ValueCmp {
  const d = diff(a, b);
  return { sqnrDb: d.sqnrDb, cosine: d.cosine };
}

/** B^T for a [rows, cols] B: a [cols, rows] array. */
export function transpose(b: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(b.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = b[r * cols + c];
  return t;
}

/**
 * Reorders the rows within each head of a [nHead*d, cols] Q/K weight. `toSplit`: from adjacent pairs
 * (rows 2j, 2j+1: GGUF / llama.cpp NORM order) to split halves (rows j, j+d/2: Hugging Face order);
 * otherwise the inverse.
 */
export function permuteHeads(w: Float32Array, nHead: number, cols: number, toSplit: boolean): Float32Array {
  const rows = w.length / cols;
  const d = rows / nHead;
  const half = d / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHead; h++) {
    for (let j = 0; j < half; j++) {
      for (let t = 0; t < 2; t++) {
        const adjacent = h * d + 2 * j + t;
        const split = h * d + t * half + j;
        const [src, dst] = toSplit ? [adjacent, split] : [split, adjacent];
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/** Rows of B shifted by `by` (row r of the result is row r+by of B; out-of-range rows are 0). */
export function shiftRows(b: Float32Array, cols: number, by: number): Float32Array {
  const rows = b.length / cols;
  const out = new Float32Array(b.length);
  for (let r = 0; r < rows; r++) {
    const s = r + by;
    if (s >= 0 && s < rows) out.set(b.subarray(s * cols, (s + 1) * cols), r * cols);
  }
  return out;
}

/**
 * For two same-type byte images: the in-block byte offsets that differ anywhere, as a fraction of the
 * block size, and the list of differing offset ranges. A defect in block headers (scales, mins) touches
 * few offsets in every block; different weights touch every offset.
 */
export function blockDiffLocality(a: Uint8Array, b: Uint8Array, typeSize: number): { fraction: number; ranges: string; blocksDiffering: number } {
  const hit = new Uint8Array(typeSize);
  let blocksDiffering = 0;
  const n = Math.min(a.length, b.length);
  for (let off = 0; off + typeSize <= n; off += typeSize) {
    let any = false;
    for (let i = 0; i < typeSize; i++) {
      if (a[off + i] !== b[off + i]) {
        hit[i] = 1;
        any = true;
      }
    }
    if (any) blocksDiffering++;
  }
  let count = 0;
  const ranges: string[] = [];
  for (let i = 0; i < typeSize; ) {
    if (!hit[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < typeSize && hit[j]) j++;
    count += j - i;
    if (ranges.length < 8) ranges.push(`[${i}, ${j})`);
    i = j;
  }
  return { fraction: count / typeSize, ranges: ranges.join(" "), blocksDiffering };
}

/** A match "by value": near-lossless for the pair's floor, or at least clearly correlated. */
export function sameByValue(c: ValueCmp, floorDb: number): boolean {
  return c.sqnrDb >= Math.min(floorDb, 40) - 3 || c.cosine > 0.999;
}
