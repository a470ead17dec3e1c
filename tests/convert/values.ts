/**
 * f32 values of a loaded tensor view by the native dequantizer (APR_Q8 included: its scale is the
 * type's header), per row for APR per-row padded K-quant matrices (padding elements dropped).
 */
import { readFileSync } from "node:fs";

import type { LoadedModel, TensorView } from "../../src/formats/model.js";
import { dequantize, typeTraitsById } from "../../src/bindings/kernels.js";

export function values(m: LoadedModel, v: TensorView): Float32Array {
  const file = readFileSync(m.path);
  const n = v.dims.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(file.buffer, file.byteOffset + v.offset, v.byteLength);
  if (v.rowBytes === undefined) return dequantize({ source: bytes, offset: 0, type: v.type, nElements: n, name: v.name });
  const [rows, cols] = v.dims;
  const bs = typeTraitsById(v.type)!.blockSize;
  const padded = Math.ceil(cols / bs) * bs;
  const out = new Float32Array(n);
  const row = new Float32Array(padded);
  for (let r = 0; r < rows; r++) {
    dequantize({ source: bytes, offset: r * v.rowBytes, type: v.type, nElements: padded }, row);
    out.set(row.subarray(0, cols), r * cols);
  }
  return out;
}
