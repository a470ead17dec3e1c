/** f32 values of a loaded tensor view (native dequantizer; APR_Q8 decoded in TS), for the APR tests. */
import { readFileSync } from "node:fs";

import { dequantizeAprQ8 } from "../../src/convert/apr-quant.js";
import type { LoadedModel, TensorView } from "../../src/formats/model.js";
import { dequantize } from "../../src/native/kernels.js";

export function values(m: LoadedModel, v: TensorView): Float32Array {
  const file = readFileSync(m.path);
  const n = v.dims.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(file.buffer, file.byteOffset + v.offset, v.byteLength);
  if (v.type === 129) return dequantizeAprQ8(bytes, n);
  return dequantize({ source: bytes, offset: 0, type: v.type, nElements: n, name: v.name });
}
