/**
 * A model's bytes, wherever they are: every file its tensors live in (the model file itself, or a Hugging
 * Face folder's *.safetensors shards) mapped read-only once per process, on first use. The engine, the weight diff and
 * the experiments read tensors through this, never through a path.
 */
import { realpathSync } from "node:fs";

import { mappingBytes, openMapping, type NativeMapping } from "../bindings/kernels.js";
import type { TensorView } from "./model.js";

/** One mapping per file for the whole process, however many ModelBytes read it (the engine, the weight
 *  diff and the experiments each hold their own ModelBytes): a file's pages are mapped, and counted in
 *  the process's RSS, once. Closed when the last holder closes. */
const shared = new Map<string, { m: NativeMapping; refs: number }>();

function acquire(file: string): [string, NativeMapping] {
  let key: string;
  try {
    key = realpathSync(file);
  } catch {
    key = file;  // openMapping reports the error
  }
  const e = shared.get(key);
  if (e) {
    e.refs++;
    return [key, e.m];
  }
  const m = openMapping(file);
  shared.set(key, { m, refs: 1 });
  return [key, m];
}

function release(key: string): void {
  const e = shared.get(key);
  if (!e || --e.refs > 0) return;
  shared.delete(key);
  e.m.close();
}

export class ModelBytes {
  private readonly maps = new Map<string, { key: string; m: NativeMapping }>();
  private closed = false;

  /** `path`: the model's own file (or folder: then every tensor names its `file`). */
  constructor(readonly path: string) {}

  /** The mapping that holds the tensor's bytes at `v.offset`. */
  source(v: Pick<TensorView, "file">): NativeMapping {
    if (this.closed) throw new RangeError(`the mappings of ${this.path} are closed`);
    const file = v.file ?? this.path;
    let e = this.maps.get(file);
    if (!e) {
      const [key, m] = acquire(file);
      e = { key, m };
      this.maps.set(file, e);
    }
    return e.m;
  }

  /** The tensor's stored bytes (zero-copy; InputError if outside its file). */
  bytes(v: Pick<TensorView, "file" | "offset" | "byteLength">): Uint8Array {
    return mappingBytes(this.source(v), v.offset, v.byteLength);
  }

  /** Maps every file the model's tensors live in now (not on first use): held while a comparison runs,
   *  so that the weight diff, the engine and the experiments, which come and go, share one mapping. */
  static pinned(model: { path: string; tensors: Pick<TensorView, "file">[] }): ModelBytes {
    const b = new ModelBytes(model.path);
    for (const file of new Set(model.tensors.map((t) => t.file ?? model.path))) b.source({ file });
    return b;
  }

  close(): void {
    for (const e of this.maps.values()) release(e.key);
    this.maps.clear();
    this.closed = true;
  }
}
