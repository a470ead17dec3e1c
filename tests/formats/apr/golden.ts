/** The spec's §2.7 golden model, shared by the APR tests. */
import { writeApr } from "../../../src/formats/apr-writer.js";

const f32Bytes = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);

export function goldenFile(): Buffer {
  return writeApr(
    { model_type: "linear_regression", name: "golden-v2", version: "0.0.0-golden", created_at: "1700000000", param_count: 8 },
    [
      { name: "weights", dtype: 0, dims: [8], data: f32Bytes([1, 2, 0.5, -0.5, 4, -2, 0.25, 8]) },
      { name: "bias", dtype: 0, dims: [1], data: f32Bytes([0.125]) },
    ],
  );
}
