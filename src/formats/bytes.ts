/**
 * A model's bytes, wherever they are: every file its tensors live in (the model file itself, or a Hugging
 * Face folder's *.safetensors shards) mapped read-only once, on first use. The engine, the weight diff and
 * the experiments read tensors through this, never through a path.
 */
import { mappingBytes, openMapping, type NativeMapping } from "../bindings/kernels.js";
import type { TensorView } from "./model.js";

export class ModelBytes {
  private readonly maps = new Map<string, NativeMapping>();
  private closed = false;

  /** `path`: the model's own file (or folder: then every tensor names its `file`). */
  constructor(readonly path: string) {}

  /** The mapping that holds the tensor's bytes at `v.offset`. */
  source(v: Pick<TensorView, "file">): NativeMapping {
    if (this.closed) throw new RangeError(`the mappings of ${this.path} are closed`);
    const file = v.file ?? this.path;
    let m = this.maps.get(file);
    if (!m) {
      m = openMapping(file);
      this.maps.set(file, m);
    }
    return m;
  }

  /** The tensor's stored bytes (zero-copy; InputError if outside its file). */
  bytes(v: Pick<TensorView, "file" | "offset" | "byteLength">): Uint8Array {
    return mappingBytes(this.source(v), v.offset, v.byteLength);
  }

  close(): void {
    for (const m of this.maps.values()) m.close();
    this.maps.clear();
    this.closed = true;
  }
}
