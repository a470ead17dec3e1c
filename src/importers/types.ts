/**
 * An importer turns a dump another engine writes into a rosetta trace in memory (src/importers/index.ts
 * picks one by the file's first bytes; `rosetta import FILE --out BASE` saves the result). It records
 * where every summary came from (`trace.imported`, each point's `source`) and which sample it covers
 * (a point's `all` and/or `last`, decided from the element counts, never from labels).
 */
import type { F32Tensor } from "../trace/safetensors.js";
import type { Trace } from "../trace/types.js";

export interface Imported {
  trace: Trace;
  /** Full tensors, when the dump holds them (by point.tensor name). */
  tensors: Map<string, F32Tensor>;
}

/** What a dump may not say itself (a directory of stage dumps does not record the prompt). */
export interface ImportOptions {
  /** The prompt token ids (`--tokens`), where the dump does not record them. */
  tokens?: number[];
}

export interface Importer {
  /** The format's name, as `trace.imported.format` and `rosetta import --format` spell it. */
  format: string;
  describe: string;
  /** Whether the file's first bytes (as text) look like this format. */
  sniff(head: string): boolean;
  /** Whether a directory holds this format's dumps (importers that read a directory of files). */
  sniffDir?(dir: string): boolean;
  read(file: string, options?: ImportOptions): Imported;
}
