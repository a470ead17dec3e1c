/**
 * Row fetch of a stored matrix (native/addon/apr_ops.cc -> kernels/apr_matmul.cpp get_row): the
 * embedding lookup (ggml GET_ROWS, each row dequantized exactly) for packed rows, APR per-row padded
 * K-quant rows (`rowBytes`) and APR-native types (APR_Q8's scale sits before row 0).
 */
import type { WeightSource } from "./ops-binding.js";
import { loadAddon } from "./load.js";

interface RowsBinding {
  opsGetRow(w: WeightSource, wOffset: number, type: number, nRows: number, nIn: number, rowBytes: number, row: number, out: Float32Array): void;
}

export interface StoredMatrix {
  source: WeightSource;
  offset: number; // absolute byte offset of the tensor
  type: number;
  rows: number;
  cols: number;
  /** Bytes from one row to the next when rows are padded; absent = packed. */
  rowBytes?: number;
}

const isIndex = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** Row `row` of m dequantized into out[0..cols). */
export function getRow(m: StoredMatrix, row: number, out: Float32Array): Float32Array {
  if (!isIndex(m.offset) || !isIndex(m.rows) || !isIndex(m.cols) || !isIndex(m.rowBytes ?? 0)) {
    throw new RangeError(`getRow: bad matrix (offset ${m.offset}, [${m.rows}, ${m.cols}], rowBytes ${m.rowBytes})`);
  }
  if (!isIndex(row) || row >= m.rows) throw new RangeError(`getRow: row ${row} is outside 0..${m.rows - 1}`);
  if (out.length < m.cols) throw new RangeError(`getRow: out has ${out.length} elements, needs ${m.cols}`);
  (loadAddon() as unknown as RowsBinding).opsGetRow(m.source, m.offset, m.type, m.rows, m.cols, m.rowBytes ?? 0, row, out);
  return out;
}

/** The first `count` rows of m dequantized into one [count, cols] array (padded rows honoured). */
export function getRows(m: StoredMatrix, count = m.rows, out = new Float32Array(count * m.cols)): Float32Array {
  if (!Number.isSafeInteger(count) || count < 0 || count > m.rows) throw new RangeError(`getRows: ${count} rows of ${m.rows}`);
  if (out.length < count * m.cols) throw new RangeError(`getRows: out has ${out.length} elements, needs ${count * m.cols}`);
  for (let r = 0; r < count; r++) getRow(m, r, out.subarray(r * m.cols, (r + 1) * m.cols));
  return out;
}
